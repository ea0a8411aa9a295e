/* main.c: master, the resident supervisor. As root it reads main.cf and master.cf, creates
 * every endpoint itself, and starts daemons on demand (children.c) under the service table
 * (services.c). It never accepts a connection and never parses mail. SIGHUP re-reads the
 * configuration; SIGTERM stops the whole process group. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/event.h"
#include "base/lock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/privs.h"
#include "base/safeopen.h"
#include "config/cflog.h"
#include "config/cfparams.h"
#include "master.h"

static char *config_dir;
static char *initial_interfaces;

static void load_config(void)
{
    pn_config_reset();
    pn_config_set_directory(config_dir);
    pn_config_load();
    pn_config_set_process("master", "master");
    pn_config_logging("master", PN_CFLOG_DIRECT);
}

/* lock_file: open and lock path; returns the descriptor or -1 when another holds it. */
static int lock_file(const char *path, int write_pid)
{
    /* master.lock lies in data_directory, which mail_owner may write: never a link planted
     * there (to truncate what it points to), never a file of anyone but this user */
    pn_buf why = PN_BUF_INIT;
    struct stat st;
    int exists = lstat(path, &st) == 0 || errno != ENOENT;
    int fd = pn_safe_open(path, exists ? O_RDWR : O_RDWR | O_CREAT, 0644, &st, &why);
    if (fd < 0)
        pn_fatal("lock file: %s", why.data);
    if (st.st_uid != geteuid())
        pn_fatal("open lock file %s: owned by uid %ld, not by uid %ld", path, (long)st.st_uid,
                 (long)geteuid());
    pn_buf_release(&why);
    if (pn_lock_fd(fd, PN_LOCK_EXCLUSIVE | PN_LOCK_NOWAIT) < 0) {
        close(fd);
        return -1;
    }
    if (write_pid) {
        char text[64];
        int n = snprintf(text, sizeof(text), "%*ld\n", 10, (long)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n)
            pn_fatal("write %s: %s", path, strerror(errno));
    }
    return fd;
}

/* test_running: master -t; 0 when no master holds the pid file. */
static int test_running(void)
{
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/pid/master.pid", pn_config_get(PN_P(queue_directory)));
    int fd = open(path.data, O_RDWR | O_CLOEXEC);
    pn_buf_release(&path);
    if (fd < 0)
        return 0;
    int rc = pn_lock_fd(fd, PN_LOCK_EXCLUSIVE | PN_LOCK_NOWAIT) < 0 ? 1 : 0;
    close(fd);
    return rc;
}

static void on_reload(int signo)
{
    (void)signo;
    load_config();
    const char *now = pn_config_get(PN_P(inet_interfaces));
    if (strcmp(now, initial_interfaces) != 0) {
        pn_warn("inet_interfaces: parameter changed from %s to %s", initial_interfaces, now);
        pn_warn("to change inet_interfaces, stop and start the mail system");
        pn_config_override(PN_P(inet_interfaces), initial_interfaces);
    }
    if (services_load(0) == 0)
        pn_info("reload -- version %s, configuration %s", pn_config_get(PN_P(mail_version)),
                config_dir);
}

static void on_terminate(int signo)
{
    pn_info("terminating on signal %d", signo);
    signal(SIGTERM, SIG_IGN);
    kill(0, SIGTERM);
    exit(0);
}

static void on_exit_timer(void *ctx)
{
    (void)ctx;
    on_terminate(SIGTERM);
}

/* wait_for_child: master -w: the parent reports the background master's start-up. */
static void wait_for_child(int fd)
{
    char byte;
    ssize_t n;
    do
        n = read(fd, &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1 && byte == '0')
        exit(0);
    pn_fatal("mail system startup failed");
}

static void usage(void)
{
    pn_fatal("usage: master [-c config_dir] [-d (don't detach)] [-e exit_time] [-s (keep "
             "stdout)] [-t (test)] [-v] [-w (wait for initialization)]");
}

int main(int argc, char **argv)
{
    int ch, detach = 1, test = 0, wait_init = 0, keep_stdout = 0;
    long exit_after = 0;
    int init_pipe[2] = {-1, -1};

    pn_log_init("master", PN_LOG_SYSLOG | PN_LOG_STDERR);
    pn_log_set_stderr_level(1);
    signal(SIGPIPE, SIG_IGN);
    config_dir = pn_strdup(getenv("MAIL_CONFIG") ? getenv("MAIL_CONFIG") : PN_CONFIG_DIR);
    while ((ch = getopt(argc, argv, "c:dDe:istvw")) != -1) {
        switch (ch) {
        case 'c':
            free(config_dir);
            config_dir = pn_strdup(optarg);
            break;
        case 'd':
            detach = 0;
            pn_master_debug = 1;
            break;
        case 'D': break;
        case 'e': exit_after = atol(optarg); break;
        case 'i': detach = 0; break;
        case 's': keep_stdout = pn_master_keep_stdout = 1; break;
        case 't': test = 1; break;
        case 'v': pn_verbose++; break;
        case 'w': wait_init = 1; break;
        default: usage();
        }
    }
    char *absolute = realpath(config_dir, NULL);
    if (absolute) {
        free(config_dir);
        config_dir = absolute; /* master works in the queue directory */
    }
    if (strcmp(config_dir, PN_CONFIG_DIR) != 0)
        setenv("MAIL_CONFIG", config_dir, 1);
    load_config();
    if (test)
        return test_running();

    pn_master_privileged = geteuid() == 0;
    if (pn_master_privileged) {
        uid_t uid;
        gid_t gid;
        pn_privs_lookup(pn_config_get(PN_P(mail_owner)), &uid, &gid);
        if (uid == 0)
            pn_fatal("mail_owner %s must not be root", pn_config_get(PN_P(mail_owner)));
    }
    if (detach) {
        if (wait_init && pipe2(init_pipe, O_CLOEXEC) < 0)
            pn_fatal("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0)
            pn_fatal("fork: %s", strerror(errno));
        if (pid > 0) {
            if (wait_init) {
                close(init_pipe[1]);
                wait_for_child(init_pipe[0]);
            }
            return 0;
        }
        if (wait_init)
            close(init_pipe[0]);
    }
    if (setsid() < 0)
        setpgid(0, 0);
    if (!pn_master_privileged)
        pn_warn("running as uid %ld, not as root: no chroot and no privilege separation; "
                "every daemon runs as this user",
                (long)geteuid());

    const char *queue = pn_config_get(PN_P(queue_directory));
    if (chdir(queue) < 0)
        pn_fatal("chdir %s: %s", queue, strerror(errno));
    if (lock_file("pid/master.pid", 1) < 0)
        pn_fatal("the Postfix mail system is already running: %s/pid/master.pid is locked", queue);
    pn_buf lock_path = PN_BUF_INIT;
    pn_buf_printf(&lock_path, "%s/master.lock", pn_config_get(PN_P(data_directory)));
    if (lock_file(lock_path.data, 1) < 0)
        pn_fatal("another master uses %s: %s is locked", pn_config_get(PN_P(data_directory)),
                 lock_path.data);
    pn_buf_release(&lock_path);

    initial_interfaces = pn_strdup(pn_config_get(PN_P(inet_interfaces)));
    children_init();
    services_load(1);
    pn_event_signal(SIGHUP, on_reload);
    pn_event_signal(SIGTERM, on_terminate);
    pn_event_signal(SIGINT, on_terminate);
    pn_event_signal(SIGQUIT, on_terminate);
    if (exit_after > 0)
        pn_event_timer(on_exit_timer, NULL, exit_after * 1000);
    pn_info("daemon started -- version %s, configuration %s", pn_config_get(PN_P(mail_version)),
            config_dir);

    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        if (!keep_stdout)
            dup2(null, 1);
        if (detach)
            dup2(null, 2);
        if (null > 2)
            close(null);
    }
    if (detach)
        pn_log_set_destinations(PN_LOG_SYSLOG);
    if (wait_init && detach) {
        (void)!write(init_pipe[1], "0", 1);
        close(init_pipe[1]);
    }
    for (;;)
        pn_event_run_once(-1);
}
