/* main.c: postfix, the command that starts, stops, reloads and checks the mail system. It
 * prepares the queue directory, checks the configuration, and runs master; it talks to a
 * running master only through signals and the lock on pid/master.pid. Messages go to syslog
 * as postfix/postfix-script, and to stderr (informational ones only on a terminal). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/lock.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cflog.h"
#include "config/cfparams.h"
#include "postfix.h"

int pn_postfix_privileged;

/* running_master: the pid of the master holding pid/master.pid, or 0. */
pid_t running_master(void)
{
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/pid/master.pid", pn_config_get(PN_P(queue_directory)));
    int fd = open(path.data, O_RDONLY | O_CLOEXEC);
    pn_buf_release(&path);
    if (fd < 0)
        return 0;
    pid_t pid = 0;
    if (pn_lock_fd(fd, PN_LOCK_SHARED | PN_LOCK_NOWAIT) < 0) {
        char text[64] = "";
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
        if (n > 0)
            text[n] = 0;
        pid = (pid_t)atol(text);
        if (pid <= 0)
            pid = -1;
    }
    close(fd);
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* wait_gone: poll until test() is false, at most limit_ms. */
static int wait_gone(int (*test)(pid_t), pid_t pid, long limit_ms)
{
    for (long waited = 0; waited < limit_ms; waited += 100) {
        if (!test(pid))
            return 1;
        sleep_ms(100);
    }
    return !test(pid);
}

static int master_alive(pid_t pid)
{
    (void)pid;
    return running_master() != 0;
}

static int group_alive(pid_t pgid)
{
    return kill(-pgid, 0) == 0 || errno == EPERM;
}

static void exec_master(const char *flag)
{
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/master", pn_config_get(PN_P(daemon_directory)));
    /* in the foreground, maillog_file = /dev/stdout is master's stdout, given to postlogd */
    if (strcmp(flag, "-d") == 0 && strcmp(pn_config_get(PN_P(maillog_file)), "/dev/stdout") == 0)
        execl(path.data, path.data, flag, "-s", (char *)NULL);
    execl(path.data, path.data, flag, (char *)NULL);
    pn_fatal("exec %s: %s", path.data, strerror(errno));
}

static void prepare_start(void)
{
    if (running_master())
        pn_fatal("the Postfix mail system is already running");
    int chrooted = master_cf_check();
    queue_dirs_check(0);
    config_warnings();
    if (config_values_check())
        pn_fatal("main.cf has errors; the Postfix mail system is not started");
    config_refusals();
    if (chrooted && pn_postfix_privileged)
        chroot_sync();
}

static int do_stop(int forceful_after_ms)
{
    pid_t pid = running_master();
    if (pid == 0)
        pn_fatal("the Postfix mail system is not running");
    pn_info("stopping the Postfix mail system");
    if (pid > 0)
        kill(pid, SIGTERM);
    if (!wait_gone(master_alive, pid, forceful_after_ms)) {
        pn_info("waiting for the Postfix mail system to terminate");
        if (!wait_gone(master_alive, pid, forceful_after_ms)) {
            pn_warn("stopping the Postfix mail system with force");
            if (pid > 0)
                kill(-pid, SIGKILL);
        }
    }
    /* Children got SIGTERM from master; make sure none outlives the stop. */
    if (pid > 0 && !wait_gone(group_alive, pid, forceful_after_ms))
        kill(-pid, SIGKILL);
    return 0;
}

static void usage(void)
{
    pn_fatal("usage: postfix [-c config_dir] [-Dv] command (start, start-fg, stop, abort, "
             "reload, flush, status, check, set-permissions)");
}

int main(int argc, char **argv)
{
    int ch;
    pn_log_init("postfix", PN_LOG_SYSLOG | PN_LOG_STDERR);
    pn_log_set_prefix("postfix/postfix-script");
    if (!isatty(2))
        pn_log_set_stderr_level(1);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "c:Dv")) != -1) {
        switch (ch) {
        case 'c': {
            /* master runs in the queue directory: the path must not be relative */
            char *absolute = realpath(optarg, NULL);
            const char *dir = absolute ? absolute : optarg;
            pn_config_set_directory(dir);
            setenv("MAIL_CONFIG", dir, 1);
            free(absolute);
            break;
        }
        case 'D': break;
        case 'v': pn_verbose++; break;
        default: usage();
        }
    }
    if (optind + 1 != argc)
        usage();
    const char *command = argv[optind];
    pn_config_load();
    pn_config_set_process("postfix-script", NULL);
    pn_config_logging("postfix-script", 0);
    pn_postfix_privileged = geteuid() == 0;

    if (strcmp(command, "start") == 0) {
        prepare_start();
        pn_info("starting the Postfix mail system");
        exec_master("-w");
    } else if (strcmp(command, "start-fg") == 0) {
        prepare_start();
        pn_info("starting the Postfix mail system");
        exec_master("-d");
    } else if (strcmp(command, "stop") == 0) {
        return do_stop(5000);
    } else if (strcmp(command, "abort") == 0) {
        pid_t pid = running_master();
        if (pid == 0)
            pn_fatal("the Postfix mail system is not running");
        pn_info("aborting the Postfix mail system");
        if (pid > 0)
            kill(pid, SIGTERM);
    } else if (strcmp(command, "reload") == 0) {
        pid_t pid = running_master();
        if (pid == 0)
            pn_fatal("the Postfix mail system is not running");
        master_cf_check();
        if (config_values_check())
            pn_fatal("main.cf has errors; the running configuration is kept");
        config_refusals();
        pn_info("refreshing the Postfix mail system");
        if (pid > 0)
            kill(pid, SIGHUP);
    } else if (strcmp(command, "status") == 0) {
        pid_t pid = running_master();
        if (pid == 0) {
            pn_info("the Postfix mail system is not running");
            return 1;
        }
        pn_info("the Postfix mail system is running: PID: %ld", (long)pid);
    } else if (strcmp(command, "check") == 0) {
        master_cf_check();
        queue_dirs_check(0);
        config_warnings();
        int errors = config_values_check();
        errors += config_refusals();
        return errors ? 1 : 0;
    } else if (strcmp(command, "flush") == 0) {
        /* as the reference's script does: postqueue -f with this configuration */
        pn_buf path = PN_BUF_INIT;
        pn_buf_printf(&path, "%s/postqueue", pn_config_get(PN_P(command_directory)));
        execl(path.data, "postqueue", "-c", pn_config_get(PN_P(config_directory)), "-f",
              (char *)NULL);
        pn_fatal("exec %s: %s", path.data, strerror(errno));
    } else if (strcmp(command, "set-permissions") == 0) {
        queue_dirs_check(1);
    } else if (strcmp(command, "logrotate") == 0) {
        logrotate();
    } else {
        pn_fatal("unknown command: '%s'. Usage: postfix start (or stop, reload, abort, "
                 "flush, status, check, set-permissions, start-fg, logrotate)",
                 command);
    }
    return 0;
}
