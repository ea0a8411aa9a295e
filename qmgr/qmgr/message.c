/* message.c: a message in the active queue: read its envelope, resolve its pending
 * recipients through trivial-rewrite (one request for all), cut them into delivery jobs by
 * transport and next hop, and hand those to the scheduler. When its last job is done, the
 * file is removed if nothing is pending, else deferred. The file stays open while it is
 * active. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"
#include "mail/bouncelog.h"
#include "mail/delivreq.h"
#include "mail/qpath.h"
#include "mail/resolve.h"
#include "mail/resolveclnt.h"
#include "qmgr.h"

typedef struct pending {
    qmgr_rcpt rcpt;
    pn_buf transport;
    pn_buf nexthop;
    int flags;
    int taken;
} pending;

static pn_resolve_client *resolver;
static int active_count;

int message_active_count(void)
{
    return active_count;
}

/* resolve_all: transport, next hop and recipient of each pending recipient, in one
 * request for those the resolve cache does not know. */
static int resolve_all(pending *p, size_t n, const char *sender, pn_buf *why)
{
    if (resolver == NULL)
        resolver = pn_resolve_client_new();
    const char **addrs = pn_calloc(n + 1, sizeof(*addrs));
    pn_resolved *res = pn_calloc(n + 1, sizeof(*res));
    for (size_t i = 0; i < n; i++) {
        addrs[i] = p[i].rcpt.addr.data;
        pn_resolved_init(&res[i]);
    }
    int rc = pn_resolve_addrs(resolver, sender, addrs, n, res, why);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            pn_buf_set(&p[i].transport, pn_buf_str(&res[i].transport));
            pn_buf_set(&p[i].nexthop, pn_buf_str(&res[i].nexthop));
            pn_buf_set(&p[i].rcpt.addr, pn_buf_str(&res[i].recipient));
            p[i].flags = res[i].flags;
        }
        pn_resolved_release(&res[i]);
    }
    free(addrs);
    free(res);
    return rc;
}

/* apply_filter: "transport:nexthop" takes every recipient (the next hop of the resolved
 * address when none is given), as the reference's FILTER action does. */
static void apply_filter(pending *p, size_t n, const char *filter)
{
    const char *colon = strchr(filter, ':');
    if (colon == NULL || colon == filter)
        return;
    for (size_t i = 0; i < n; i++) {
        if (p[i].flags & PN_RESOLVE_FAIL)
            continue;
        pn_buf_set(&p[i].transport, "");
        pn_buf_append(&p[i].transport, filter, (size_t)(colon - filter));
        if (colon[1])
            pn_buf_set(&p[i].nexthop, colon + 1);
    }
}

/* refuse_min_users: a recipient that starts with '-' could pass for an option to a command
 * (pipe's argv, a local "|command"): unless allow_min_user is set it goes to the error
 * agent, here where every way into the queue (SMTP, sendmail, an alias, a .forward) meets. */
static void refuse_min_users(pending *p, size_t n)
{
    if (pn_config_get_bool(PN_P(allow_min_user)))
        return;
    for (size_t i = 0; i < n; i++) {
        if (p[i].rcpt.addr.data == NULL || p[i].rcpt.addr.data[0] != '-' ||
            (p[i].flags & PN_RESOLVE_FAIL))
            continue;
        pn_buf_set(&p[i].transport, "error");
        pn_buf_set(&p[i].nexthop, "5.1.3 bad address syntax");
    }
}

/* pending_count: recipients still to do, read again from the file, and when a delay
 * warning is due. */
static int pending_count(int fd, int64_t *warn_time, pn_buf *why)
{
    pn_qfile q;
    if (pn_qfile_open(&q, fd, why) < 0) {
        pn_qfile_release(&q);
        return -1;
    }
    *warn_time = q.warn_time;
    size_t pos = 0;
    int count = 0;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next_rcpt(&q, &pos, 1, &r))
        count++;
    pn_qrcpt_release(&r);
    pn_qfile_release(&q);
    return count;
}

/* bounce_request: ask the bounce service to return what bounced (kind "flush", log
 * "bounce"), to warn about what is delayed ("warn", "defer") or to report deliveries that
 * asked for it ("trace", "trace"); 0 when done or when there is nothing to report, -1 when
 * it must be tried again (the file is then kept). */
static int bounce_request(qmgr_msg *m, const char *kind, const char *log)
{
    static pn_ipc_client *bounce;
    pn_buf path = PN_BUF_INIT;
    pn_queue_path(log, m->id, &path);
    int exists = access(path.data, F_OK) == 0;
    pn_buf_release(&path);
    if (!exists)
        return 0;
    if (bounce == NULL)
        bounce = pn_ipc_client_new(PN_SVC_BOUNCE, PN_PROTO_BOUNCE);
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_REQ, kind);
    pn_attr_put_cstr(&req, PN_ATTR_QUEUE_ID, m->id);
    pn_buf storage = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = -1;
    if (pn_ipc_call(bounce, &req, &storage, &reply, &why) == 0)
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status);
    else
        pn_warn("%s: bounce service: %s", m->id, why.data);
    pn_attr_release(&req);
    pn_buf_release(&storage);
    pn_buf_release(&why);
    return status == 0 ? 0 : -1;
}

static void finish(qmgr_msg *m)
{
    pn_buf why = PN_BUF_INIT, path = PN_BUF_INIT;
    pn_queue_path("active", m->id, &path);
    int64_t warn_time = 0;
    int left = pending_count(m->fd, &warn_time, &why);
    if (left >= 0 &&
        (bounce_request(m, "flush", "bounce") < 0 || bounce_request(m, "trace", "trace") < 0)) {
        defer_file(m->id, m->arrival_sec); /* the notice waits, with the message */
    } else if (left < 0) {
        corrupt_file(m->id, why.data);
    } else if (left == 0) {
        if (unlink(path.data) == 0)
            pn_info("%s: removed", m->id);
    } else {
        /* a delay warning once warn_time has passed; then never again for this message */
        pn_buf_reset(&why);
        if (warn_time > 0 && time(NULL) >= warn_time && bounce_request(m, "warn", "defer") == 0 &&
            pn_qfile_set_warn_time(m->fd, 0, &why) < 0)
            pn_warn("%s: %s", m->id, why.data);
        defer_file(m->id, m->arrival_sec);
    }
    close(m->fd);
    pn_buf_release(&m->sender);
    pn_buf_release(&why);
    pn_buf_release(&path);
    free(m);
    active_count--;
    scan_room();
}

void message_job_done(qmgr_msg *m)
{
    if (--m->jobs_pending == 0)
        finish(m);
}

static void release_pending(pending *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pn_buf_release(&p[i].rcpt.addr);
        pn_buf_release(&p[i].rcpt.orig);
        pn_buf_release(&p[i].rcpt.orcpt);
        pn_buf_release(&p[i].transport);
        pn_buf_release(&p[i].nexthop);
    }
    free(p);
}

/* expire: a message older than its lifetime, or one postsuper -e marked (the group-execute
 * mode bit), is returned: every pending recipient is recorded as bounced, with the reason
 * of its last deferral when there is one, and marked done (as the reference does). 1 when it
 * expired. */
static int expire(qmgr_msg *m, pending *p, size_t n)
{
    long lifetime = pn_config_get_time(m->sender.len ? PN_P(maximal_queue_lifetime)
                                                     : PN_P(bounce_queue_lifetime));
    struct stat st;
    int forced = fstat(m->fd, &st) == 0 && (st.st_mode & 0010);
    if (n == 0 || (!forced && time(NULL) - m->arrival_sec < lifetime))
        return 0;
    pn_bounce_entry *e = NULL;
    int count = pn_bouncelog_read("defer", m->id, &e);
    pn_buf why = PN_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const char *status = "4.4.7", *reason = "message could not be delivered for too long";
        for (int k = count - 1; k >= 0; k--) { /* the last reason given for this recipient */
            if (strcmp(e[k].addr.data, p[i].rcpt.addr.data) == 0) {
                status = e[k].status.data;
                reason = e[k].reason.data;
                break;
            }
        }
        if (pn_bouncelog_append("bounce", m->id, p[i].rcpt.addr.data, p[i].rcpt.orig.data, NULL,
                                status, reason, &why) < 0 ||
            pn_qfile_mark(m->fd, p[i].rcpt.offset, PN_RCPT_DONE, &why) < 0) {
            pn_warn("%s: %s", m->id, why.data);
            break;
        }
    }
    pn_bouncelog_free(e, count < 0 ? 0 : count);
    fdatasync(m->fd);
    pn_info("%s: from=<%s>, status=%s, returned to sender", m->id, m->sender.data,
            forced ? "force-expired" : "expired");
    pn_buf_release(&why);
    return 1;
}

void message_activate(const char *id, int64_t active_us)
{
    pn_buf path = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_queue_path("active", id, &path);
    qmgr_msg *m = pn_calloc(1, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", id);
    m->flush = qmgr_flushing;
    pn_buf_init(&m->sender);
    m->active_us = active_us;
    m->fd = open(path.data, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    active_count++;
    m->jobs_pending = 1; /* held until every job is queued */
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    pending *p = NULL;
    size_t n = 0;
    if (m->fd < 0 || pn_qfile_open(&q, m->fd, &why) < 0) {
        if (m->fd >= 0) {
            corrupt_file(id, why.data);
            close(m->fd);
        }
        pn_buf_release(&m->sender);
        free(m);
        active_count--;
        pn_qfile_release(&q);
        goto out;
    }
    m->arrival_sec = q.arrival.tv_sec;
    m->arrival_us = (int64_t)q.arrival.tv_sec * 1000000 + q.arrival.tv_usec;
    pn_qfile_sender(&q, &m->sender);
    pn_buf flags = PN_BUF_INIT;
    const char *trace = pn_qfile_attr(&q, "trace_flags", &flags);
    m->flags = trace == NULL                  ? 0
               : strcmp(trace, "verify") == 0 ? PN_DELIVREQ_VERIFY
               : strcmp(trace, "record") == 0 ? PN_DELIVREQ_RECORD
                                              : 0;
    pn_buf_release(&flags);
    pn_buf filter = PN_BUF_INIT; /* a FILTER action of header or body checks */
    pn_qfile_attr(&q, "content_filter", &filter);
    size_t pos = 0;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next_rcpt(&q, &pos, 1, &r)) {
        p = pn_reallocarray(p, n + 1, sizeof(pending));
        memset(&p[n], 0, sizeof(pending));
        pn_buf_init(&p[n].rcpt.orig);
        pn_buf_set(&p[n].rcpt.orig, r.orig.len ? r.orig.data : r.addr.data);
        p[n].rcpt.addr = r.addr; /* moved, like orcpt */
        p[n].rcpt.orcpt = r.orcpt;
        pn_buf_init(&r.addr);
        pn_buf_init(&r.orcpt);
        p[n].rcpt.notify = r.notify;
        p[n].rcpt.offset = r.offset;
        pn_buf_init(&p[n].transport);
        pn_buf_init(&p[n].nexthop);
        n++;
    }
    pn_qrcpt_release(&r);
    pn_info("%s: from=<%s>, size=%llu, nrcpt=%u (queue active)", id, m->sender.data,
            (unsigned long long)q.content_len, q.rcpt_total);
    pn_qfile_release(&q);
    size_t total = n;
    if (expire(m, p, n))
        n = 0; /* nothing goes out; finish() returns it to the sender */
    /* a new attempt (or the end): the reasons of the last one no longer apply */
    pn_queue_path("defer", id, &path);
    unlink(path.data);
    pn_queue_path("active", id, &path);
    if (n > 0 && resolve_all(p, n, m->sender.data, &why) < 0) {
        pn_warn("%s: %s", id, why.data);
        n = 0; /* nothing goes out: the file is deferred below */
    }
    if (filter.len)
        apply_filter(p, n, filter.data);
    pn_buf_release(&filter);
    refuse_min_users(p, n);
    for (size_t i = 0; i < n; i++) {
        if (p[i].taken || (p[i].flags & PN_RESOLVE_FAIL))
            continue;
        long limit = sched_recipient_limit(p[i].transport.data);
        qmgr_job *job = pn_calloc(1, sizeof(*job));
        job->msg = m;
        job->rcpts = pn_calloc((size_t)(limit < (long)n ? limit : (long)n) + 1, sizeof(qmgr_rcpt));
        for (size_t j = i; j < n && (long)job->count < limit; j++) {
            if (p[j].taken || (p[j].flags & PN_RESOLVE_FAIL) ||
                strcmp(p[j].transport.data, p[i].transport.data) != 0 ||
                strcasecmp(p[j].nexthop.data, p[i].nexthop.data) != 0)
                continue;
            job->rcpts[job->count++] = p[j].rcpt; /* the buffers move into the job */
            memset(&p[j].rcpt, 0, sizeof(p[j].rcpt));
            p[j].taken = 1;
        }
        int last = 1;
        for (size_t j = 0; j < n; j++)
            if (!p[j].taken)
                last = 0;
        job->last = last;
        m->jobs_pending++;
        sched_add_job(p[i].transport.data, p[i].nexthop.data, job);
    }
    message_job_done(m); /* the hold taken above */
    n = total;
out:
    release_pending(p, n);
    pn_buf_release(&path);
    pn_buf_release(&why);
    sched_run();
}
