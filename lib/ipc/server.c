/* server.c: the daemon skeletons (single, multi, trigger). Start-up order, for every daemon:
 * options; main.cf and -o; logging; chdir to the queue; pre-jail hook as root; chroot; drop
 * to mail_owner; post-jail hook; then the accept loop, reporting "taken" and "available" to
 * master. A skeleton never trusts a client: a failed accept or read just ends that client.
 * Retirement (doc/processes.md): max_use, a changed table, a reload or master's absence is
 * noticed between two requests, also on kept connections; a retiring process tells master
 * at once that it takes no more clients, ends its connections at a request boundary and
 * exits, so no client ever waits on a process that will not serve it. */
#include "ipc/server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/event.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/privs.h"
#include "base/sock.h"
#include "base/strutil.h"
#include "config/cflog.h"
#include "config/cfcheck.h"
#include "config/cfparams.h"
#include "base/stream.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/master_proto.h"

#define MAX_LISTENERS 64

static struct {
    pn_server *server;
    const char *progname;
    const char *service;
    int chroot;
    int unpriv;
    int stand_alone;
    int solitary;
    int unlimited;
    int service_limit; /* -p: the service's process limit, 0 when not given */
    int listen_count;
    int have_status;
    unsigned generation;
    long max_use;
    long max_idle;
    long uses;
    int clients;
    int retiring;
    int master_lost;
    long conn_requests; /* requests served on the current connection (single servers) */
} sk;

/* How long a retiring multi server may finish work in flight (qmgr's deliveries). */
#define DRAIN_LIMIT_MS (10 * 1000)

static void report(int state)
{
    if (!sk.have_status)
        return;
    pn_status_record rec = {(int32_t)getpid(), sk.generation, state};
    if (write(PN_MASTER_STATUS_FD, &rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
        if (errno == EPIPE)
            sk.master_lost = 1; /* master went away or reloaded: retire at the next boundary */
        else
            pn_warn("write status record to master: %s", strerror(errno));
    }
}

/* SIGTERM ends the process at once, except a server that drains on termination (postlogd,
 * whose socket still holds the last lines of the processes master just stopped). */
static volatile sig_atomic_t terminating;

static void on_sigterm(int signo)
{
    (void)signo;
    if (sk.server == NULL || !sk.server->drain_on_term)
        _exit(0);
    terminating = 1;
}

static void apply_overrides(pn_argv *overrides)
{
    for (size_t i = 0; i < overrides->len; i++) {
        char *copy = pn_strdup(overrides->items[i]);
        char *eq = strchr(copy, '=');
        if (eq == NULL)
            pn_fatal("-o option requires name=value, found \"%s\"", copy);
        *eq = 0;
        pn_config_override(copy, eq + 1);
        free(copy);
    }
}

/* inherited_cloexec: what master handed this process (flow pipe, status pipe, listeners)
 * never reaches a program that it runs (local's and pipe's commands). */
static void inherited_cloexec(void)
{
    for (int fd = PN_MASTER_FLOW_READ_FD; fd < PN_MASTER_LISTEN_FD + sk.listen_count; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0)
            fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

static void server_init(int argc, char **argv, pn_server *s)
{
    const char *slash = strrchr(argv[0], '/');
    pn_argv *overrides = pn_argv_new();
    int ch, to_stderr = 0;

    memset(&sk, 0, sizeof(sk));
    sk.server = s;
    sk.progname = slash ? slash + 1 : argv[0];
    sk.listen_count = 1;
    if (getenv("TZ") == NULL)
        setenv("TZ", ":/etc/localtime", 1);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGTERM, on_sigterm);
    pn_log_init(sk.progname, PN_LOG_SYSLOG);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    if (getenv("GENERATION"))
        sk.generation = (unsigned)strtoul(getenv("GENERATION"), NULL, 8);
    optind = 1;
    while ((ch = getopt(argc, argv, "+cdDi:lm:n:o:p:r:s:St:uvVz")) != -1) {
        switch (ch) {
        case 'c': sk.chroot = 1; break;
        case 'd':
        case 'D':
        case 'r':
        case 't': break;
        case 'i': {
            pn_buf setting = PN_BUF_INIT;
            pn_buf_printf(&setting, "max_idle=%s", optarg);
            pn_argv_add(overrides, setting.data);
            pn_buf_release(&setting);
            break;
        }
        case 'l': sk.solitary = 1; break;
        case 'm': {
            pn_buf setting = PN_BUF_INIT;
            pn_buf_printf(&setting, "max_use=%s", optarg);
            pn_argv_add(overrides, setting.data);
            pn_buf_release(&setting);
            break;
        }
        case 'n': sk.service = optarg; break;
        case 'p': sk.service_limit = atoi(optarg); break;
        case 'o': pn_argv_add(overrides, optarg); break;
        case 's': sk.listen_count = atoi(optarg); break;
        case 'S': sk.stand_alone = 1; break;
        case 'u': sk.unpriv = 1; break;
        case 'v': pn_verbose++; break;
        case 'V': to_stderr = 1; break;
        case 'z': sk.unlimited = 1; break;
        default: pn_fatal("invalid option -%c", optopt);
        }
    }
    if (sk.listen_count < 1 || sk.listen_count > MAX_LISTENERS)
        pn_fatal("bad listener count: %d", sk.listen_count);
    if (sk.service == NULL)
        sk.service = sk.progname;
    s->argc = argc - optind;
    s->argv = argv + optind;
    if (to_stderr)
        pn_log_set_destinations(PN_LOG_SYSLOG | PN_LOG_STDERR);

    pn_config_load();
    apply_overrides(overrides);
    pn_argv_free(overrides);
    pn_config_set_process(sk.progname, sk.service);
    pn_config_logging(sk.progname, s->log_writer ? PN_CFLOG_WRITER : 0);
    /* a bad value stops the process here, never half-way through a session */
    int program = pn_program_find(sk.progname);
    pn_config_refuse(program, sk.service);
    pn_config_validate(program);

    sk.have_status = !sk.stand_alone && fcntl(PN_MASTER_STATUS_FD, F_GETFD) >= 0;
    if (!sk.stand_alone)
        inherited_cloexec();
    if (sk.have_status && s->process_limit == 1 && !sk.solitary)
        pn_fatal("service %s requires a process limit of 1", sk.service);
    if (sk.have_status && s->process_limit == 0 && !sk.unlimited)
        pn_fatal("service %s requires a process limit of 0", sk.service);
    if (s->needs_root && sk.unpriv)
        pn_fatal("service %s requires privileged operation", sk.service);

    const char *queue = pn_config_get(PN_P(queue_directory));
    if (chdir(queue) < 0)
        pn_fatal("chdir(\"%s\"): %s", queue, strerror(errno));
    uid_t uid = 0;
    gid_t gid = 0;
    int root = geteuid() == 0;
    if (sk.unpriv && root)
        pn_privs_lookup(pn_config_get(PN_P(mail_owner)), &uid, &gid);
    if (s->pre_jail)
        s->pre_jail(s->ctx);
    if (sk.chroot && root)
        pn_privs_chroot(queue);
    if (sk.unpriv && root)
        pn_privs_drop(uid, gid);
    /* From here on no daemon runs a program: those that do (local, pipe) run them from the
     * worker spawner they started in pre_jail, which is bound by neither of these, so that a
     * command can still run sendmail and with it the set-group-ID postdrop. A daemon taken
     * over cannot start a shell either. */
    pn_privs_no_new_privs();
    pn_privs_forbid_exec();
    if (s->post_jail)
        s->post_jail(s->ctx);
    sk.max_use = s->max_use >= 0 ? s->max_use : pn_config_get_int(PN_P(max_use));
    sk.max_idle = s->max_idle >= 0 ? s->max_idle : pn_config_get_time(PN_P(max_idle));
}

/* master_gone: the status pipe has no reader any more: master exited, or a reload replaced
 * the pipe. */
static int master_gone(void)
{
    if (!sk.have_status)
        return 0;
    if (sk.master_lost)
        return 1;
    struct pollfd pfd = {.fd = PN_MASTER_STATUS_FD, .events = 0};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

/* retire_due: 1 when this process must serve no further request: max_use reached, a table
 * changed on disk, or a new configuration (reload) or no master. */
static int retire_due(void)
{
    if (sk.retiring)
        return 1;
    if (sk.max_use > 0 && sk.uses >= sk.max_use)
        return 1;
    if (sk.server->must_retire && sk.server->must_retire(sk.server->ctx))
        return 1;
    return master_gone();
}

int pn_server_process_limit(void)
{
    return sk.service_limit;
}

int pn_server_request_done(void)
{
    sk.conn_requests++;
    if (sk.server->per_request)
        sk.uses++;
    /* max_use only: the rest is checked by pn_server_wait, before the next request */
    return sk.retiring || (sk.max_use > 0 && sk.uses >= sk.max_use);
}

int pn_server_wait(int fd, int timeout_ms)
{
    /* The first request of a connection is always served, whatever happened since the
     * accept: it may be the client's one retry after another process retired. */
    int first = sk.conn_requests == 0;
    struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = PN_MASTER_STATUS_FD, .events = 0}};
    for (;;) {
        int n = poll(pfd, sk.have_status && !first ? 2 : 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (!first && sk.have_status && pfd[1].revents))
            return -1;
        if (n == 0)
            return 0;
        /* A request (or the client's end) is waiting, unread: retiring now leaves it to a
         * fresh process, and the client sees a reset, never a lost request. */
        return !first && retire_due() ? -1 : 1;
    }
}

/* How often an idle process checks whether it must retire (a table changed). EPOLLEXCLUSIVE
 * wakes one idle process per connection; when that one retires instead of accepting, the
 * connection waits for a sibling that was not woken. Siblings have the same stale table, so
 * each retires within this interval, and master starts a fresh process for the client. */
#define IDLE_CHECK_MS 1000

/* wait_for_client: index of a readable listener, -1 to retire. Idle processes of one
 * service share the listeners; EPOLLEXCLUSIVE wakes one of them per connection, and a
 * non-blocking accept that finds nothing just means another process won. */
static int wait_for_client(void)
{
    static int epfd = -1;
    if (epfd < 0) {
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0)
            pn_fatal("epoll_create1: %s", strerror(errno));
        for (int i = 0; i < sk.listen_count; i++) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t)i};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, PN_MASTER_LISTEN_FD + i, &ev) < 0)
                pn_fatal("listener %d: %s", PN_MASTER_LISTEN_FD + i, strerror(errno));
        }
        if (sk.have_status) {
            struct epoll_event ev = {.events = 0, .data.u32 = MAX_LISTENERS};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, PN_MASTER_STATUS_FD, &ev) < 0)
                pn_fatal("status descriptor: %s", strerror(errno));
        }
    }
    long long idle_end = sk.max_idle > 0 ? pn_event_now_ms() + sk.max_idle * 1000 : -1;
    for (;;) {
        struct epoll_event ready[MAX_LISTENERS + 1];
        long long timeout = idle_end < 0 ? -1 : idle_end - pn_event_now_ms();
        if (idle_end >= 0 && timeout <= 0)
            return -1; /* max_idle */
        int checking = sk.server->must_retire && (timeout < 0 || timeout > IDLE_CHECK_MS);
        int n = epoll_wait(epfd, ready, MAX_LISTENERS + 1, checking ? IDLE_CHECK_MS : (int)timeout);
        if (n < 0 && errno == EINTR && terminating)
            return -1;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            pn_fatal("epoll_wait: %s", strerror(errno));
        if (n == 0 && checking) {
            if (retire_due())
                return -1;
            continue;
        }
        if (n == 0)
            return -1; /* max_idle */
        int which = -1;
        for (int i = 0; i < n; i++) {
            if (ready[i].data.u32 == MAX_LISTENERS)
                return -1; /* master disconnect or reload */
            which = (int)ready[i].data.u32;
        }
        return which;
    }
}

int pn_single_server_main(int argc, char **argv, pn_server *s)
{
    server_init(argc, argv, s);
    if (sk.stand_alone) {
        s->serve(0, s->ctx);
        return 0;
    }
    for (;;) {
        /* a table may have changed, or a reload come, while this process waited: the
         * client then goes to a fresh process */
        int which = wait_for_client();
        if (which < 0 || retire_due())
            return 0;
        report(PN_STATUS_TAKEN);
        int fd = accept4(PN_MASTER_LISTEN_FD + which, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            pn_sock_nonblock(fd, 0);
            sk.conn_requests = 0;
            if (!s->per_request)
                sk.uses++;
            s->serve(fd, s->ctx);
            close(fd);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
            pn_warn("accept: %s", strerror(errno));
        }
        if (retire_due())
            return 0;
        report(PN_STATUS_AVAILABLE);
    }
}

/* read_trigger: the bytes of one trigger, from a fifo or a stream connection. */
static void read_trigger(int listener)
{
    char data[1024];
    struct stat st;
    ssize_t n = 0;
    if (fstat(listener, &st) == 0 && S_ISFIFO(st.st_mode)) {
        n = read(listener, data, sizeof(data));
    } else {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        size_t got = 0;
        while (got < sizeof(data) && poll(&pfd, 1, 1000) > 0) {
            ssize_t r = read(fd, data + got, sizeof(data) - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        close(fd);
        n = (ssize_t)got;
    }
    if (n > 0) {
        sk.uses++;
        sk.server->trigger(data, (size_t)n, sk.server->ctx);
    }
}

int pn_dgram_server_main(int argc, char **argv, pn_server *s)
{
    server_init(argc, argv, s);
    /* A datagram service has one process that master never needs to replace while it runs:
     * it stays "available" (no status record per wakeup), and master's status pipe in the
     * epoll set tells it of a reload or master's exit. */
    for (;;) {
        int which = wait_for_client();
        if (terminating) {
            for (int i = 0; i < sk.listen_count; i++)
                s->datagrams(PN_MASTER_LISTEN_FD + i, s->ctx); /* what is still queued */
            return 0;
        }
        if (which < 0)
            return 0;
        sk.uses++;
        s->datagrams(PN_MASTER_LISTEN_FD + which, s->ctx);
    }
}

int pn_trigger_server_main(int argc, char **argv, pn_server *s)
{
    server_init(argc, argv, s);
    for (;;) {
        int which = wait_for_client();
        if (which < 0 || retire_due())
            return 0;
        report(PN_STATUS_TAKEN);
        read_trigger(PN_MASTER_LISTEN_FD + which);
        if (retire_due())
            return 0;
        report(PN_STATUS_AVAILABLE);
    }
}

static void multi_idle(void *ctx)
{
    (void)ctx;
    if (sk.clients == 0)
        exit(0);
}

static void drain_limit(void *ctx)
{
    (void)ctx;
    exit(0);
}

/* A multi server's clients, by descriptor: whether each has had a request served. At
 * retirement a client that has is at a request boundary and is dropped at once; one that
 * has not (it connected, perhaps as the retry of a request another retiring process did not
 * read) gets its first request served before it is dropped. */
enum { CLIENT_NONE, CLIENT_NEW, CLIENT_SERVED };
typedef struct client_slot {
    int state;
    void *data; /* the daemon's, for drop */
} client_slot;
static client_slot *client_slots;
static size_t client_count;

static void client_set(int fd, int state)
{
    if ((size_t)fd >= client_count) {
        size_t more = (size_t)fd * 2 + 16;
        client_slots = pn_reallocarray(client_slots, more, sizeof(*client_slots));
        memset(client_slots + client_count, 0, (more - client_count) * sizeof(*client_slots));
        client_count = more;
    }
    client_slots[fd].state = state;
}

void pn_server_client_data(int fd, void *data)
{
    client_set(fd, client_slots[fd].state);
    client_slots[fd].data = data;
}

static int readable_now(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

static void multi_maybe_exit(void)
{
    if (sk.retiring && sk.clients == 0 &&
        (sk.server->drain == NULL || sk.server->drain(sk.server->ctx)))
        exit(0);
}

/* multi_retire: take no more clients, say so to master at once (so that it starts a
 * replacement), and end every client connection at its next request boundary; exit when
 * the last is gone and the work in flight is done, or after DRAIN_LIMIT_MS. Clients whose
 * kept connection closes reconnect to the replacement. */
static void multi_retire(void)
{
    if (sk.retiring)
        return;
    sk.retiring = 1;
    for (int i = 0; i < sk.listen_count; i++)
        pn_event_unwatch(PN_MASTER_LISTEN_FD + i);
    if (sk.have_status)
        pn_event_unwatch(PN_MASTER_STATUS_FD);
    report(PN_STATUS_TAKEN);
    pn_event_timer(drain_limit, NULL, DRAIN_LIMIT_MS);
    for (size_t fd = 0; fd < client_count; fd++)
        if (client_slots[fd].state == CLIENT_SERVED && !readable_now((int)fd))
            sk.server->drop((int)fd, client_slots[fd].data);
    multi_maybe_exit();
}

void pn_server_drained(void)
{
    multi_maybe_exit();
}

static void multi_status(int fd, int events, void *ctx)
{
    (void)fd;
    (void)ctx;
    if (events & PN_EVENT_ERROR)
        multi_retire();
}

static void multi_accept(int listener, int events, void *ctx)
{
    (void)events;
    (void)ctx;
    if (retire_due()) {
        /* the pending client stays queued for the replacement */
        multi_retire();
        return;
    }
    report(PN_STATUS_TAKEN);
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    report(PN_STATUS_AVAILABLE);
    if (fd < 0)
        return;
    pn_sock_nonblock(fd, 0);
    sk.clients++;
    sk.uses++;
    client_set(fd, CLIENT_NEW);
    pn_event_cancel(multi_idle, NULL);
    sk.server->serve(fd, sk.server->ctx);
}

void pn_server_request_ready(void)
{
    if (!sk.retiring && retire_due())
        multi_retire();
}

int pn_server_client_done(int fd)
{
    client_set(fd, CLIENT_SERVED);
    return sk.retiring;
}

void pn_server_disconnect(int fd)
{
    client_set(fd, CLIENT_NONE);
    client_slots[fd].data = NULL;
    if (--sk.clients > 0)
        return;
    multi_maybe_exit();
    if (sk.max_idle > 0 && !sk.retiring)
        pn_event_timer(multi_idle, NULL, sk.max_idle * 1000);
}

int pn_multi_server_main(int argc, char **argv, pn_server *s)
{
    server_init(argc, argv, s);
    for (int i = 0; i < sk.listen_count; i++)
        pn_event_watch(PN_MASTER_LISTEN_FD + i, PN_EVENT_READ | PN_EVENT_EXCLUSIVE, multi_accept,
                       NULL);
    if (sk.have_status)
        pn_event_watch(PN_MASTER_STATUS_FD, 0, multi_status, NULL);
    if (sk.max_idle > 0)
        pn_event_timer(multi_idle, NULL, sk.max_idle * 1000);
    for (;;)
        pn_event_run_once(-1);
}

void pn_server_serve_requests(int fd, const char *proto, pn_request_fn handle, void *ctx)
{
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, (int)(pn_config_get_time(PN_P(ipc_timeout)) * 1000));
    pn_buf frame = PN_BUF_INIT, why = PN_BUF_INIT;
    int alive = pn_ipc_send_hello(client, proto, 0) == 0;
    while (alive && (pn_stream_buffered(client) > 0 || pn_server_wait(fd, -1) > 0) &&
           pn_attr_read_frame(client, &frame) > 0) {
        pn_attrs req;
        pn_attr_out reply;
        pn_buf_reset(&why);
        if (pn_attr_parse(frame.data, frame.len, &req, &why) < 0) {
            pn_warn("malformed %s request: %s", proto, why.data);
            break;
        }
        pn_attr_begin(&reply);
        alive = handle(&req, &reply, ctx) == 0 && pn_attr_write_frame(client, &reply) == 0 &&
                !pn_server_request_done();
        pn_attr_release(&reply);
    }
    pn_buf_release(&frame);
    pn_buf_release(&why);
    pn_stream_release(client);
}

/* The multi-server twin: many clients on kept connections, each read when the event loop
 * says it is readable (all the requests it has sent then), malformed input dropping only
 * that client. */
static struct {
    pn_request_fn handle;
    void *ctx;
    void (*closed)(int fd); /* pn_server_multi_on_close */
    int current;            /* the client of the request being handled */
} multi_service = {.current = -1};

static void multi_close(int fd, pn_stream *client)
{
    if (multi_service.closed)
        multi_service.closed(fd);
    pn_event_unwatch(fd);
    pn_stream_close(client);
    pn_server_disconnect(fd);
}

void pn_server_multi_drop(int fd, void *client)
{
    multi_close(fd, client);
}

static void multi_readable(int fd, int events, void *data)
{
    pn_stream *client = data;
    pn_buf frame = PN_BUF_INIT, why = PN_BUF_INIT;
    (void)events;
    int alive = 1;
    do {
        pn_server_request_ready();
        if (pn_attr_read_frame(client, &frame) <= 0) {
            alive = 0;
            break;
        }
        pn_attrs req;
        pn_attr_out reply;
        pn_buf_reset(&why);
        if (pn_attr_parse(frame.data, frame.len, &req, &why) < 0) {
            pn_warn("malformed request: %s", why.data);
            alive = 0;
            break;
        }
        pn_attr_begin(&reply);
        multi_service.current = fd;
        alive = multi_service.handle(&req, &reply, multi_service.ctx) == 0;
        multi_service.current = -1;
        alive = alive && pn_attr_write_frame(client, &reply) == 0 && !pn_server_client_done(fd);
        pn_attr_release(&reply);
    } while (alive && pn_stream_buffered(client) > 0);
    pn_buf_release(&frame);
    pn_buf_release(&why);
    if (!alive)
        multi_close(fd, client);
}

int pn_server_multi_client(void)
{
    return multi_service.current;
}

void pn_server_multi_on_close(void (*closed)(int fd))
{
    multi_service.closed = closed;
}

void pn_server_multi_requests(int fd, const char *proto, long long generation, pn_request_fn handle,
                              void *ctx)
{
    multi_service.handle = handle;
    multi_service.ctx = ctx;
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, (int)(pn_config_get_time(PN_P(ipc_timeout)) * 1000));
    pn_server_client_data(fd, client);
    if (pn_ipc_send_hello(client, proto, generation) < 0) {
        multi_close(fd, client);
        return;
    }
    pn_event_watch(fd, PN_EVENT_READ, multi_readable, client);
}
