/* children.c: master's side of the child protocol: endpoints, spawning, status records,
 * reaping, throttling of services that die at start-up, process limits, stress mode and
 * wakeup triggers. master listens on a service's sockets only while the service has no idle
 * child, is below its process limit and is not throttled; one readable listener starts one
 * child. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/event.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/privs.h"
#include "base/sock.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "ipc/master_proto.h"
#include "ipc/trigger.h"
#include "master.h"

#define STRESS_TIME_MS (1000 * 1000LL)
/* the accept queue of an inet service (Linux clamps it to net.core.somaxconn) */
#define INET_BACKLOG 4096

int pn_master_debug;
int pn_master_privileged;
int pn_master_keep_stdout;
static pn_child *children;
static int flow_pipe[2] = {-1, -1};

static void reap(int signo);

void children_init(void)
{
    if (pipe2(flow_pipe, O_CLOEXEC | O_NONBLOCK) < 0) /* in_flow_delay (lib/ipc/flow.h) */
        pn_fatal("pipe: %s", strerror(errno));
    pn_event_signal(SIGCHLD, reap);
}

int children_count(void)
{
    int n = 0;
    for (pn_child *c = children; c; c = c->next)
        n++;
    return n;
}

static int throttled(const pn_service *svc)
{
    return pn_event_now_ms() < svc->throttle_until;
}

static void spawn(pn_service *svc);

static void listener_ready(int fd, int events, void *ctx)
{
    (void)fd;
    (void)events;
    spawn(ctx);
}

static void warn_stress(pn_service *svc)
{
    long long now = pn_event_now_ms();
    if (!svc->public_inet || svc->max_proc <= 1)
        return;
    if (now - svc->stress_warned >= STRESS_TIME_MS || svc->stress_warned == 0) {
        pn_warn("service \"%s\" (%s) has reached its process limit \"%d\": new clients may "
                "experience noticeable delays",
                svc->name, svc->endpoint, svc->max_proc);
        svc->stress_warned = now;
    }
    svc->stress_until = now + STRESS_TIME_MS;
}

void children_update_listening(pn_service *svc)
{
    int at_limit = svc->max_proc > 0 && svc->total >= svc->max_proc;
    int want =
        !svc->removed && svc->listen_fds && svc->available == 0 && !at_limit && !throttled(svc);
    if (at_limit && svc->available == 0 && !svc->removed)
        warn_stress(svc);
    if (want == svc->listening)
        return;
    for (int i = 0; i < svc->listen_count; i++) {
        if (want)
            pn_event_watch(svc->listen_fds[i], PN_EVENT_READ, listener_ready, svc);
        else
            pn_event_unwatch(svc->listen_fds[i]);
    }
    svc->listening = want;
}

static pn_child *find_child(pid_t pid)
{
    for (pn_child *c = children; c; c = c->next)
        if (c->pid == pid)
            return c;
    return NULL;
}

static void read_status(int fd, int events, void *ctx)
{
    pn_service *svc = ctx;
    pn_status_record recs[64];
    (void)events;
    ssize_t n = read(fd, recs, sizeof(recs));
    if (n <= 0)
        return;
    for (ssize_t i = 0; i < n / (ssize_t)sizeof(recs[0]); i++) {
        pn_child *c = find_child(recs[i].pid);
        if (c == NULL || c->service != svc || c->generation != recs[i].generation)
            continue; /* unknown process, or one from before a reload */
        if (recs[i].state == PN_STATUS_TAKEN) {
            c->served = 1;
            if (c->available) {
                c->available = 0;
                svc->available--;
            }
        } else if (recs[i].state == PN_STATUS_AVAILABLE && !c->available) {
            c->available = 1;
            svc->available++;
        }
    }
    children_update_listening(svc);
}

static void open_status_pipe(pn_service *svc)
{
    if (pipe2(svc->status_fd, O_CLOEXEC) < 0)
        pn_fatal("pipe: %s", strerror(errno));
    pn_sock_nonblock(svc->status_fd[0], 1);
    pn_event_watch(svc->status_fd[0], PN_EVENT_READ, read_status, svc);
}

static void close_status_pipe(pn_service *svc)
{
    if (svc->status_fd[0] >= 0) {
        pn_event_unwatch(svc->status_fd[0]);
        close(svc->status_fd[0]);
        close(svc->status_fd[1]);
    }
    svc->status_fd[0] = svc->status_fd[1] = -1;
}

/* as_mail_owner: create UNIX-domain endpoints with mail_owner's ids, as the reference does. */
static void as_mail_owner(int on)
{
    static uid_t uid;
    static gid_t gid;
    if (!pn_master_privileged)
        return;
    if (on) {
        pn_privs_lookup(pn_config_get(PN_P(mail_owner)), &uid, &gid);
        if (setegid(gid) < 0 || seteuid(uid) < 0)
            pn_fatal("seteuid %ld: %s", (long)uid, strerror(errno));
    } else if (seteuid(0) < 0 || setegid(0) < 0) {
        pn_fatal("seteuid 0: %s", strerror(errno));
    }
}

void children_start_service(pn_service *svc)
{
    pn_buf err = PN_BUF_INIT;
    long backlog = pn_config_get_int(PN_P(default_process_limit));
    if (svc->max_proc > backlog)
        backlog = svc->max_proc;
    svc->listen_fds = pn_calloc((size_t)svc->listen_count, sizeof(int));
    if (strcmp(svc->type, "inet") == 0) {
        pn_addrlist list;
        if (pn_inet_service_resolve(svc->name, pn_config_get(PN_P(inet_interfaces)),
                                    pn_config_get(PN_P(inet_protocols)),
                                    pn_config_get(PN_P(known_tcp_ports)), &list, &err) < 0)
            pn_fatal("%s", err.data);
        /* a flood of connections waits in a long accept queue, where a child answers each
         * in turn; with a short one the kernel drops new connections, a legitimate client's
         * among them, whose retry comes 1 s, then 3 s later (doc/abuse.md) */
        if (backlog < INET_BACKLOG)
            backlog = INET_BACKLOG;
        for (int i = 0; i < list.count && i < svc->listen_count; i++) {
            svc->listen_fds[i] = pn_sock_listen_addr(&list.addrs[i], (int)backlog, &err);
            if (svc->listen_fds[i] < 0)
                pn_fatal("%s", err.data);
        }
        pn_addrlist_free(&list);
    } else {
        as_mail_owner(1);
        int fd;
        if (strcmp(svc->type, "fifo") == 0)
            fd = pn_sock_listen_fifo(svc->endpoint, &err);
        else
            fd = pn_sock_listen_unix(
                svc->endpoint, strcmp(svc->type, "unix-dgram") == 0 ? SOCK_DGRAM : SOCK_STREAM,
                (int)backlog, &err);
        as_mail_owner(0);
        if (fd < 0)
            pn_fatal("%s", err.data);
        svc->listen_fds[0] = fd;
    }
    pn_buf_release(&err);
    open_status_pipe(svc);
    /* pid/<type>.<service>, as the reference lays out its queue (the lock is not used). */
    pn_buf lock = PN_BUF_INIT;
    pn_buf_printf(&lock, "%s/pid/%s.%s", pn_config_get(PN_P(queue_directory)), svc->type,
                  svc->name);
    int fd = open(lock.data, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
    pn_buf_release(&lock);
}

void children_new_generation(pn_service *svc)
{
    close_status_pipe(svc);
    open_status_pipe(svc);
    svc->generation++;
    for (pn_child *c = children; c; c = c->next) {
        if (c->service == svc && c->available) {
            c->available = 0;
            svc->available--;
        }
    }
}

void children_move(pn_service *from, pn_service *to)
{
    for (pn_child *c = children; c; c = c->next)
        if (c->service == from)
            c->service = to;
}

static void signal_children(pn_service *svc)
{
    for (pn_child *c = children; c; c = c->next) {
        if (c->service == svc && !c->signalled) {
            c->signalled = 1;
            kill(c->pid, SIGTERM);
        }
    }
}

void children_stop_service(pn_service *svc)
{
    children_disarm_timers(svc);
    for (int i = 0; svc->listen_fds && i < svc->listen_count; i++) {
        pn_event_unwatch(svc->listen_fds[i]);
        close(svc->listen_fds[i]);
    }
    free(svc->listen_fds);
    svc->listen_fds = NULL;
    svc->listening = 0;
    close_status_pipe(svc);
    signal_children(svc);
    svc->removed = 1;
}

void children_terminate_all(void)
{
    for (pn_service *svc = pn_services; svc; svc = svc->next)
        signal_children(svc);
}

/* place_fds: the child's descriptors at 3, 4, 5, 6..., and nothing else past 2: first copied
 * above every source (so that no source is clobbered), then down into place. */
static void place_fds(pn_service *svc, posix_spawn_file_actions_t *fa)
{
    int count = 3 + svc->listen_count;
    int src[3 + 64];
    src[0] = flow_pipe[0];
    src[1] = flow_pipe[1];
    src[2] = svc->status_fd[1];
    for (int i = 0; i < svc->listen_count && i < 64; i++)
        src[3 + i] = svc->listen_fds[i];
    int high = 3 + count;
    for (int i = 0; i < count; i++)
        if (src[i] >= high)
            high = src[i] + 1;
    for (int i = 0; i < count; i++)
        posix_spawn_file_actions_adddup2(fa, src[i], high + i);
    for (int i = 0; i < count; i++)
        posix_spawn_file_actions_adddup2(fa, high + i, 3 + i);
    posix_spawn_file_actions_addclosefrom_np(fa, 3 + count);
    posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDWR, 0);
    if (!pn_master_keep_stdout)
        posix_spawn_file_actions_adddup2(fa, 0, 1);
}

/* child_environment: import_environment, then GENERATION; a NULL-terminated copy. */
static char **child_environment(pn_service *svc)
{
    pn_argv *env = pn_argv_new();
    pn_argv *import = pn_argv_split(pn_config_get(PN_P(import_environment)), PN_SEPARATORS);
    for (size_t i = 0; i < import->len; i++) {
        const char *item = import->items[i];
        const char *value = strchr(item, '=') ? NULL : getenv(item);
        pn_buf b = PN_BUF_INIT;
        if (value)
            pn_buf_printf(&b, "%s=%s", item, value);
        else if (strchr(item, '='))
            pn_buf_puts(&b, item);
        if (b.len)
            pn_argv_add(env, b.data);
        pn_buf_release(&b);
    }
    pn_buf gen = PN_BUF_INIT;
    pn_buf_printf(&gen, "GENERATION=%o", svc->generation);
    pn_argv_add(env, gen.data);
    pn_buf_release(&gen);
    pn_argv_free(import);
    char **envp = pn_calloc(env->len + 1, sizeof(char *));
    for (size_t i = 0; i < env->len; i++)
        envp[i] = pn_strdup(env->items[i]);
    pn_argv_free(env);
    return envp;
}

/* start_child: posix_spawn (no copy of master's memory, which fork would make at every
 * start), with the descriptors of the child contract, every signal at its default and none
 * blocked; the pid, or -1 with errno. */
static pid_t start_child(pn_service *svc)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    place_fds(svc, &fa);
    char **envp = child_environment(svc);
    pid_t pid;
    int err = posix_spawn(&pid, svc->argv->items[0], &fa, &attr, svc->argv->items, envp);
    for (char **e = envp; *e; e++)
        free(*e);
    free(envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return pid;
}

static void spawn(pn_service *svc)
{
    if (svc->available > 0 || throttled(svc) || svc->removed ||
        (svc->max_proc > 0 && svc->total >= svc->max_proc)) {
        children_update_listening(svc);
        return;
    }
    if (svc->stress_arg >= 0) {
        free(svc->argv->items[svc->stress_arg]);
        svc->argv->items[svc->stress_arg] =
            pn_strdup(pn_event_now_ms() < svc->stress_until ? "stress=yes" : "stress=");
    }
    pid_t pid = start_child(svc);
    if (pid < 0) {
        pn_warn("%s: start %s: %s", svc->name, svc->argv->items[0], strerror(errno));
        svc->throttle_until =
            pn_event_now_ms() + pn_config_get_time(PN_P(service_throttle_time)) * 1000;
        children_update_listening(svc);
        return;
    }
    pn_child *c = pn_calloc(1, sizeof(*c));
    c->pid = pid;
    c->service = svc;
    c->generation = svc->generation;
    c->available = 1; /* until its first record: one listener never starts two */
    c->next = children;
    children = c;
    svc->total++;
    svc->available++;
    if (!svc->used) {
        svc->used = 1;
        children_arm_timers(svc);
    }
    children_update_listening(svc);
}

static void unthrottle(void *ctx)
{
    pn_service *svc = ctx;
    svc->throttle_until = 0;
    children_update_listening(svc);
}

static void child_died(pn_child *c, int status)
{
    pn_service *svc = c->service;
    svc->total--;
    if (c->available)
        svc->available--;
    int failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !c->signalled;
    if (failed) {
        if (WIFEXITED(status))
            pn_warn("process %s pid %ld exit status %d", svc->argv->items[0], (long)c->pid,
                    WEXITSTATUS(status));
        else
            pn_warn("process %s pid %ld killed by signal %d", svc->argv->items[0], (long)c->pid,
                    WTERMSIG(status));
        if (!c->served && !svc->removed) {
            pn_warn("%s: bad command startup -- throttling", svc->argv->items[0]);
            long delay = pn_config_get_time(PN_P(service_throttle_time)) * 1000;
            svc->throttle_until = pn_event_now_ms() + delay;
            pn_event_timer(unthrottle, svc, delay);
        }
    }
    children_update_listening(svc);
}

static void reap(int signo)
{
    (void)signo;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (pn_child **cp = &children; *cp; cp = &(*cp)->next) {
            if ((*cp)->pid == pid) {
                pn_child *c = *cp;
                *cp = c->next;
                child_died(c, status);
                free(c);
                break;
            }
        }
    }
    services_reap_removed();
}

static void wakeup(void *ctx)
{
    pn_service *svc = ctx;
    if (!throttled(svc) && !(svc->wakeup_conditional && !svc->used))
        pn_trigger_send(svc->endpoint, "W", 1); /* a busy service just misses one */
    pn_event_timer(wakeup, svc, svc->wakeup * 1000L);
}

void children_arm_timers(pn_service *svc)
{
    /* The first wakeup goes out at once, so that qmgr and pickup run from the start. */
    if (svc->wakeup > 0 && !(svc->wakeup_conditional && !svc->used))
        pn_event_timer(wakeup, svc, 0);
    if (throttled(svc))
        pn_event_timer(unthrottle, svc, (long)(svc->throttle_until - pn_event_now_ms()));
}

void children_disarm_timers(pn_service *svc)
{
    pn_event_cancel(wakeup, svc);
    pn_event_cancel(unthrottle, svc);
}
