/* worker.c: the spawner and the workers. The spawner parses nothing but a 12-byte request;
 * a worker checks what it is given as the unprivileged user it already is. Replies and
 * requests are ATTR/1 frames on a socketpair; the queue file travels as a descriptor. */
#include "mail/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/privs.h"
#include "base/sock.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "mail/mailbox.h"
#include "mail/pipecmd.h"

#define MAX_WORKERS 20

struct identity {
    uint32_t uid;
    uint32_t gid;
    int32_t extra_gid;
};

struct worker {
    struct identity who;
    int sock;
    long long used;
};

struct pn_worker_pool {
    int spawner; /* socket to the spawner, or -1 without root */
    int broken;  /* the spawner stopped answering */
    struct worker workers[MAX_WORKERS];
    int count;
    long long clock;
};

/* read_frame: one whole frame, with the descriptor that came with it; 1, 0 end, -1 error. */
static int read_frame(int sock, pn_buf *out, int *fd, int timeout_ms)
{
    unsigned char head[4];
    struct pollfd pfd = {.fd = sock, .events = POLLIN};
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return -1;
    ssize_t n = pn_sock_recv_fd(sock, head, 4, fd);
    if (n == 0)
        return 0;
    size_t got = n > 0 ? (size_t)n : 0;
    while (got < 4) {
        ssize_t m = read(sock, head + got, 4 - got);
        if (m <= 0)
            return -1;
        got += (size_t)m;
    }
    uint32_t len =
        ((uint32_t)head[0] << 24) | ((uint32_t)head[1] << 16) | ((uint32_t)head[2] << 8) | head[3];
    if (len == 0 || len > PN_ATTR_MAX_FRAME)
        return -1;
    pn_buf_reset(out);
    pn_buf_reserve(out, len);
    while (out->len < len) {
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return -1;
        ssize_t m = read(sock, out->data + out->len, len - out->len);
        if (m <= 0)
            return -1;
        out->len += (size_t)m;
    }
    out->data[out->len] = 0;
    return 1;
}

static int write_frame(int sock, pn_attr_out *frame, int fd)
{
    size_t len;
    const char *data = pn_attr_frame(frame, &len);
    return pn_sock_send_fd(sock, data, len, fd);
}

/* handle: what a worker does for one request. */
static void handle(const pn_attrs *req, int fd, pn_attr_out *reply)
{
    pn_buf kind = PN_BUF_INIT, path = PN_BUF_INIT, sender = PN_BUF_INIT, rcpt = PN_BUF_INIT;
    pn_buf text = PN_BUF_INIT;
    pn_attr_copy_str(req, PN_ATTR_KIND, &kind);
    pn_attr_copy_str(req, PN_ATTR_PATH, &path);
    if (strcmp(pn_buf_str(&kind), "deliver") == 0 && fd >= 0) {
        pn_buf orig = PN_BUF_INIT, dsn = PN_BUF_INIT;
        pn_attr_copy_str(req, PN_ATTR_SENDER, &sender);
        pn_attr_copy_str(req, PN_ATTR_RECIPIENT, &rcpt);
        pn_attr_copy_str(req, PN_ATTR_ORIG, &orig);
        int64_t limit = 0, strict = 0, may_fail = 0;
        pn_buf lock = PN_BUF_INIT;
        pn_attr_get_int(req, PN_ATTR_LIMIT, &limit);
        pn_attr_get_int(req, PN_ATTR_STRICT, &strict);
        pn_attr_get_int(req, PN_ATTR_DOTLOCK_MAY_FAIL, &may_fail);
        pn_attr_copy_str(req, PN_ATTR_LOCK, &lock);
        pn_mailbox_job job = {pn_buf_str(&path),
                              pn_buf_str(&sender),
                              pn_buf_str(&rcpt),
                              pn_buf_str(&orig),
                              (long)limit,
                              strict != 0,
                              lock.len ? pn_buf_str(&lock) : NULL,
                              may_fail != 0};
        int rc = pn_mailbox_write(fd, &job, &text, &dsn);
        pn_attr_put_int(reply, PN_ATTR_STATUS, rc);
        pn_attr_put_str(reply, PN_ATTR_TEXT, pn_buf_str(&text), text.len);
        pn_attr_put_str(reply, PN_ATTR_DSN, pn_buf_str(&dsn), dsn.len);
        pn_buf_release(&orig);
        pn_buf_release(&dsn);
        pn_buf_release(&lock);
    } else if (strcmp(pn_buf_str(&kind), "pipe") == 0 && fd >= 0) {
        pn_buf flags = PN_BUF_INIT, orig = PN_BUF_INIT, dir = PN_BUF_INIT, eol = PN_BUF_INIT;
        pn_buf arg = PN_BUF_INIT, dsn = PN_BUF_INIT;
        int64_t limit = 1000;
        pn_pipe_job job;
        memset(&job, 0, sizeof(job));
        job.argv = pn_argv_new();
        size_t cursor = 0;
        pn_attrs g;
        while (pn_attr_next_group(req, PN_ATTR_ARG, &cursor, &g) > 0) {
            pn_attr_copy_str(&g, PN_ATTR_V, &arg);
            pn_argv_add(job.argv, pn_buf_str(&arg));
        }
        pn_argv *env = pn_argv_new();
        cursor = 0;
        while (pn_attr_next_group(req, PN_ATTR_ENV, &cursor, &g) > 0) {
            pn_attr_copy_str(&g, PN_ATTR_V, &arg);
            if (strchr(pn_buf_str(&arg), '=') && arg.data[0] != '=')
                pn_argv_add(env, pn_buf_str(&arg));
        }
        pn_buf label = PN_BUF_INIT;
        int64_t loop = 0;
        pn_attr_copy_str(req, PN_ATTR_LABEL, &label);
        pn_attr_get_int(req, PN_ATTR_LOOP, &loop);
        job.env = env;
        job.label = label.len ? pn_buf_str(&label) : NULL;
        job.loop_check = loop != 0;
        pn_attr_copy_str(req, PN_ATTR_FLAGS, &flags);
        pn_attr_copy_str(req, PN_ATTR_SENDER, &sender);
        pn_attr_copy_str(req, PN_ATTR_RECIPIENT, &rcpt);
        pn_attr_copy_str(req, PN_ATTR_ORIG, &orig);
        pn_attr_copy_str(req, PN_ATTR_DIRECTORY, &dir);
        pn_attr_copy_str(req, PN_ATTR_EOL, &eol);
        pn_attr_get_int(req, PN_ATTR_LIMIT, &limit);
        job.flags = pn_buf_str(&flags);
        job.sender = pn_buf_str(&sender);
        job.recipient = rcpt.len ? pn_buf_str(&rcpt) : NULL;
        job.orig = orig.len ? pn_buf_str(&orig) : NULL;
        job.directory = pn_buf_str(&dir);
        job.eol = pn_buf_str(&eol);
        job.time_limit = (long)limit;
        int rc = job.argv->len ? pn_pipe_run(fd, &job, &dsn, &text) : MAILBOX_DEFER;
        pn_attr_put_int(reply, PN_ATTR_STATUS, rc);
        pn_attr_put_str(reply, PN_ATTR_TEXT, pn_buf_str(&text), text.len);
        pn_attr_put_str(reply, PN_ATTR_DSN, pn_buf_str(&dsn), dsn.len);
        pn_argv_free(job.argv);
        pn_argv_free(env);
        pn_buf_release(&label);
        pn_buf_release(&flags);
        pn_buf_release(&orig);
        pn_buf_release(&dir);
        pn_buf_release(&eol);
        pn_buf_release(&arg);
        pn_buf_release(&dsn);
    } else if (strcmp(pn_buf_str(&kind), "read") == 0) {
        /* a file the user controls (.forward, :include:): a regular file (a FIFO must not
         * block the worker), the user's or root's, that no one else may write */
        int file = open(pn_buf_str(&path), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        int status = file >= 0 ? 1 : errno == ENOENT ? 0 : -1;
        char data[65536];
        ssize_t n = 0;
        struct stat st;
        if (file >= 0 && fstat(file, &st) < 0) {
            status = -1;
        } else if (file >= 0) {
            if (!S_ISREG(st.st_mode))
                n = snprintf(data, sizeof(data), "not a regular file");
            else if (st.st_uid != 0 && st.st_uid != getuid())
                n = snprintf(data, sizeof(data), "owned by uid %ld", (long)st.st_uid);
            else if (st.st_mode & S_IWOTH)
                n = snprintf(data, sizeof(data), "writable by anyone");
            if (n > 0)
                status = PN_WORKER_READ_REFUSED;
            else
                n = read(file, data, sizeof(data));
        }
        if (file >= 0)
            close(file);
        pn_attr_put_int(reply, PN_ATTR_STATUS, n < 0 ? -1 : status);
        pn_attr_put_str(reply, PN_ATTR_DATA, data, n > 0 ? (size_t)n : 0);
    } else {
        pn_attr_put_int(reply, PN_ATTR_STATUS, MAILBOX_DEFER);
        pn_attr_put_cstr(reply, PN_ATTR_TEXT, "bad worker request");
    }
    pn_buf_release(&kind);
    pn_buf_release(&path);
    pn_buf_release(&sender);
    pn_buf_release(&rcpt);
    pn_buf_release(&text);
}

static void worker_main(int sock)
{
    pn_buf frame = PN_BUF_INIT, why = PN_BUF_INIT;
    long idle = pn_config_get_time(PN_P(max_idle));
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int fd = -1;
        if (read_frame(sock, &frame, &fd, idle > 0 ? (int)(idle * 1000) : -1) <= 0)
            _exit(0);
        pn_attrs req;
        pn_attr_out reply;
        pn_attr_begin(&reply);
        pn_buf_reset(&why);
        if (pn_attr_parse(frame.data, frame.len, &req, &why) == 0)
            handle(&req, fd, &reply);
        else
            pn_attr_put_int(&reply, PN_ATTR_STATUS, MAILBOX_DEFER);
        if (fd >= 0)
            close(fd);
        int rc = write_frame(sock, &reply, -1);
        pn_attr_release(&reply);
        if (rc < 0)
            _exit(0);
    }
}

/* new_worker: a socketpair and a child with exactly this identity; -1 on failure. */
static int new_worker(const struct identity *who, int drop)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pair[0]);
        close(pair[1]);
        return -1;
    }
    if (pid == 0) {
        close(pair[0]);
        signal(SIGCHLD, SIG_DFL); /* the spawner's auto-reaping must not hide commands' status */
        if (drop) {
            gid_t extra = (gid_t)who->extra_gid;
            pn_privs_drop_groups(who->uid, who->gid, &extra, who->extra_gid >= 0 ? 1 : 0);
        }
        worker_main(pair[1]);
    }
    close(pair[1]);
    return pair[0];
}

static void spawner_main(int sock, pn_worker_policy policy)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = SA_NOCLDWAIT; /* workers are reaped by the kernel */
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        struct identity who;
        size_t got = 0;
        while (got < sizeof(who)) {
            ssize_t n = read(sock, (char *)&who + got, sizeof(who) - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                _exit(0); /* the agent is gone */
            got += (size_t)n;
        }
        /* the request is only a wish: the agent's policy (from its own configuration) and
         * never root, the root group, or -1 ("unchanged") */
        int allowed = who.uid != 0 && who.gid != 0 && who.uid != UINT32_MAX &&
                      who.gid != UINT32_MAX && who.extra_gid != 0 && who.extra_gid >= -1 &&
                      policy((uid_t)who.uid, (gid_t)who.gid, who.extra_gid) == 0;
        int worker = allowed ? new_worker(&who, 1) : -1;
        if (!allowed)
            pn_warn("refused to start a worker for uid %u gid %u extra group %d", who.uid,
                    who.gid, who.extra_gid);
        char answer = worker >= 0 ? 'Y' : 'N';
        pn_sock_send_fd(sock, &answer, 1, worker);
        if (worker >= 0)
            close(worker);
    }
}

pn_worker_pool *pn_worker_pool_start(pn_worker_policy policy)
{
    pn_worker_pool *pool = pn_calloc(1, sizeof(*pool));
    pool->spawner = -1;
    if (geteuid() != 0)
        return pool;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        pn_fatal("socketpair: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        pn_fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        close(pair[0]);
        spawner_main(pair[1], policy);
    }
    close(pair[1]);
    pool->spawner = pair[0];
    return pool;
}

void pn_worker_pool_free(pn_worker_pool *pool)
{
    if (pool == NULL)
        return;
    for (int i = 0; i < pool->count; i++)
        close(pool->workers[i].sock); /* each worker exits when its socket closes */
    if (pool->spawner >= 0)
        close(pool->spawner); /* and so does the spawner */
    free(pool);
}

int pn_worker_pool_broken(const pn_worker_pool *pool)
{
    return pool->broken;
}

static void retire(pn_worker_pool *pool, int i)
{
    close(pool->workers[i].sock);
    pool->workers[i] = pool->workers[--pool->count];
}

/* worker_for: the socket of a worker with this identity; -1 when none can be had. */
static int worker_for(pn_worker_pool *pool, const struct identity *who, pn_buf *why)
{
    for (int i = 0; i < pool->count; i++) {
        struct worker *w = &pool->workers[i];
        if (w->who.uid == who->uid && w->who.gid == who->gid &&
            w->who.extra_gid == who->extra_gid) {
            w->used = ++pool->clock;
            return w->sock;
        }
    }
    if (pool->count == MAX_WORKERS) {
        int oldest = 0;
        for (int i = 1; i < pool->count; i++)
            if (pool->workers[i].used < pool->workers[oldest].used)
                oldest = i;
        retire(pool, oldest);
    }
    int sock = -1;
    if (pool->spawner < 0) {
        sock = new_worker(who, 0);
    } else if (write(pool->spawner, who, sizeof(*who)) == (ssize_t)sizeof(*who)) {
        char answer = 0;
        ssize_t n = pn_sock_recv_fd(pool->spawner, &answer, 1, &sock);
        if (n != 1)
            pool->broken = 1;
        if (n != 1 || answer != 'Y') {
            if (sock >= 0)
                close(sock);
            sock = -1;
        }
    } else {
        pool->broken = 1;
    }
    if (sock < 0) {
        pn_buf_printf(why, "cannot start a delivery process for uid %u", who->uid);
        return -1;
    }
    struct worker *w = &pool->workers[pool->count++];
    w->who = *who;
    w->sock = sock;
    w->used = ++pool->clock;
    return sock;
}

/* call: one request to the worker of this identity; a worker that died is replaced once. */
static int call(pn_worker_pool *pool, const struct identity *who, pn_attr_out *req, int fd,
                pn_buf *storage, pn_attrs *reply, pn_buf *why)
{
    long limit = pn_config_get_time(PN_P(command_time_limit)) + 60;
    for (int attempt = 0; attempt < 2; attempt++) {
        int sock = worker_for(pool, who, why);
        if (sock < 0)
            return -1;
        int got_fd = -1;
        if (write_frame(sock, req, fd) == 0 &&
            read_frame(sock, storage, &got_fd, (int)(limit * 1000)) > 0) {
            if (got_fd >= 0)
                close(got_fd);
            return pn_attr_parse(storage->data, storage->len, reply, why);
        }
        for (int i = 0; i < pool->count; i++)
            if (pool->workers[i].sock == sock)
                retire(pool, i);
    }
    pn_buf_puts(why, "the delivery process stopped answering");
    return -1;
}

int pn_worker_deliver(pn_worker_pool *pool, uid_t uid, gid_t gid, long extra_gid, int qfd,
                      const pn_mailbox_job *job, pn_buf *text, pn_buf *dsn)
{
    struct identity who = {(uint32_t)uid, (uint32_t)gid, (int32_t)extra_gid};
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_KIND, "deliver");
    pn_attr_put_cstr(&req, PN_ATTR_PATH, job->path);
    pn_attr_put_cstr(&req, PN_ATTR_SENDER, job->sender);
    pn_attr_put_cstr(&req, PN_ATTR_RECIPIENT, job->recipient);
    if (job->orig && *job->orig)
        pn_attr_put_cstr(&req, PN_ATTR_ORIG, job->orig);
    pn_attr_put_int(&req, PN_ATTR_LIMIT, job->limit);
    pn_attr_put_int(&req, PN_ATTR_STRICT, job->strict_owner);
    if (job->lock)
        pn_attr_put_cstr(&req, PN_ATTR_LOCK, job->lock);
    pn_attr_put_int(&req, PN_ATTR_DOTLOCK_MAY_FAIL, job->dotlock_may_fail);
    pn_buf storage = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = MAILBOX_DEFER;
    if (call(pool, &who, &req, qfd, &storage, &reply, &why) < 0) {
        pn_buf_set(text, pn_buf_str(&why));
    } else {
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status);
        pn_attr_copy_str(&reply, PN_ATTR_TEXT, text);
        pn_attr_copy_str(&reply, PN_ATTR_DSN, dsn);
    }
    if (dsn->len == 0)
        pn_buf_set(dsn, "4.3.0");
    pn_attr_release(&req);
    pn_buf_release(&storage);
    pn_buf_release(&why);
    return status >= MAILBOX_SENT && status <= MAILBOX_DEFER ? (int)status : MAILBOX_DEFER;
}

int pn_worker_pipe(pn_worker_pool *pool, uid_t uid, gid_t gid, int qfd,
                   const struct pn_pipe_job *job, pn_buf *dsn, pn_buf *text)
{
    struct identity who = {(uint32_t)uid, (uint32_t)gid, -1};
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_KIND, "pipe");
    for (size_t i = 0; i < job->argv->len; i++) {
        pn_attr_group_begin(&req, PN_ATTR_ARG);
        pn_attr_put_cstr(&req, PN_ATTR_V, job->argv->items[i]);
        pn_attr_group_end(&req);
    }
    pn_attr_put_cstr(&req, PN_ATTR_FLAGS, job->flags);
    pn_attr_put_cstr(&req, PN_ATTR_SENDER, job->sender);
    if (job->recipient)
        pn_attr_put_cstr(&req, PN_ATTR_RECIPIENT, job->recipient);
    if (job->orig)
        pn_attr_put_cstr(&req, PN_ATTR_ORIG, job->orig);
    pn_attr_put_cstr(&req, PN_ATTR_DIRECTORY, job->directory ? job->directory : "");
    pn_attr_put_cstr(&req, PN_ATTR_EOL, job->eol ? job->eol : "\n");
    pn_attr_put_int(&req, PN_ATTR_LIMIT, job->time_limit);
    for (size_t i = 0; job->env && i < job->env->len; i++) {
        pn_attr_group_begin(&req, PN_ATTR_ENV);
        pn_attr_put_cstr(&req, PN_ATTR_V, job->env->items[i]);
        pn_attr_group_end(&req);
    }
    if (job->label)
        pn_attr_put_cstr(&req, PN_ATTR_LABEL, job->label);
    pn_attr_put_int(&req, PN_ATTR_LOOP, job->loop_check);
    pn_buf storage = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = MAILBOX_DEFER;
    if (call(pool, &who, &req, qfd, &storage, &reply, &why) < 0) {
        pn_buf_set(text, pn_buf_str(&why));
    } else {
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status);
        pn_attr_copy_str(&reply, PN_ATTR_TEXT, text);
        pn_attr_copy_str(&reply, PN_ATTR_DSN, dsn);
    }
    if (dsn->len == 0)
        pn_buf_set(dsn, "4.3.0");
    pn_attr_release(&req);
    pn_buf_release(&storage);
    pn_buf_release(&why);
    return status >= MAILBOX_SENT && status <= MAILBOX_DEFER ? (int)status : MAILBOX_DEFER;
}

int pn_worker_read(pn_worker_pool *pool, uid_t uid, gid_t gid, const char *path, pn_buf *out)
{
    struct identity who = {(uint32_t)uid, (uint32_t)gid, -1};
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_KIND, "read");
    pn_attr_put_cstr(&req, PN_ATTR_PATH, path);
    pn_buf storage = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = -1;
    if (call(pool, &who, &req, -1, &storage, &reply, &why) == 0) {
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status);
        pn_attr_copy_str(&reply, PN_ATTR_DATA, out);
    }
    pn_attr_release(&req);
    pn_buf_release(&storage);
    pn_buf_release(&why);
    return (int)status;
}
