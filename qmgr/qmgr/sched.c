/* sched.c: the scheduler. Jobs wait per transport and destination; destinations of a
 * transport are served round-robin, each within its concurrency limit
 * (<transport>_destination_concurrency_limit) and the transport within the process limit.
 * Agent connections are kept and reused for any destination of their transport; they are
 * read by the event loop, so a slow agent never stalls the others. A lost agent defers only
 * the recipients of its job. A destination the agent reports dead (no server answered) is
 * not tried again for minimal_backoff_time: its waiting jobs are deferred at once with the
 * agent's reason, so that one unreachable site does not hold the others' mail up. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/event.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/bouncelog.h"
#include "mail/delivreq.h"
#include "qmgr.h"

enum conn_state { CONN_HELLO, CONN_IDLE, CONN_BUSY };

typedef struct conn {
    struct conn *next;
    qmgr_transport *transport;
    int fd;
    enum conn_state state;
    pn_buf in;
    qmgr_job *job;
    int64_t opened_ms;
    int64_t idle_since_ms;
} conn;

static qmgr_transport *transports;
static conn *conns;
static int draining;  /* qmgr retires: no new deliveries */
static int in_flight; /* deliveries started and not done */

static int64_t now_ms(void);
static void job_free(qmgr_job *job);

static long param_or_default(const char *transport, const char *suffix, const char *dflt)
{
    pn_buf name = PN_BUF_INIT;
    pn_buf_printf(&name, "%s_%s", transport, suffix);
    long value = pn_param_find(name.data) ? pn_config_get_int(name.data) : pn_config_get_int(dflt);
    pn_buf_release(&name);
    return value;
}

long sched_recipient_limit(const char *transport)
{
    long limit = param_or_default(transport, "destination_recipient_limit",
                                  PN_P(default_destination_recipient_limit));
    return limit > 0 ? limit : 1;
}

/* rate_delay: <transport>_<suffix>, or dflt for a transport without its own parameters
 * (discard, as in the reference); seconds. */
static long rate_delay(const char *transport, const char *suffix, const char *dflt)
{
    pn_buf name = PN_BUF_INIT;
    pn_buf_printf(&name, "%s_%s", transport, suffix);
    long delay = pn_config_get_time(pn_param_find(name.data) ? name.data : dflt);
    pn_buf_release(&name);
    return delay;
}

static qmgr_transport *transport_for(const char *name)
{
    for (qmgr_transport *t = transports; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    qmgr_transport *t = pn_calloc(1, sizeof(*t));
    t->name = pn_strdup(name);
    t->limit = (int)pn_config_get_int(PN_P(default_process_limit));
    t->rate_delay_ms =
        1000 * rate_delay(name, "transport_rate_delay", PN_P(default_transport_rate_delay));
    t->next = transports;
    transports = t;
    return t;
}

/* initial_window: <transport>_initial_destination_concurrency; a destination starts there
 * and each successful delivery widens it by one, up to its concurrency limit. */
static int initial_window(const qmgr_transport *t)
{
    long n = param_or_default(t->name, PN_P(initial_destination_concurrency),
                              PN_P(initial_destination_concurrency));
    return n > 0 ? (int)n : 1;
}

static qmgr_dest *dest_for(qmgr_transport *t, const char *name)
{
    for (qmgr_dest *d = t->dests; d; d = d->next)
        if (strcasecmp(d->name, name) == 0)
            return d;
    qmgr_dest *d = pn_calloc(1, sizeof(*d));
    d->transport = t;
    d->name = pn_strdup(name);
    long limit = param_or_default(t->name, "destination_concurrency_limit",
                                  PN_P(default_destination_concurrency_limit));
    d->limit = limit > 0 ? (int)limit : 1;
    d->window = initial_window(t);
    d->rate_delay_ms =
        1000 * rate_delay(t->name, "destination_rate_delay", PN_P(default_destination_rate_delay));
    d->next = t->dests;
    t->dests = d;
    return d;
}

void sched_add_job(const char *transport, const char *nexthop, qmgr_job *job)
{
    if (!job->msg->flush && pn_config_list_has(PN_P(defer_transports), transport)) {
        /* held until someone flushes the queue (postqueue -f, sendmail -q) */
        sched_log_deferred(job, "4.3.2", "deferred transport");
        qmgr_msg *m = job->msg;
        job_free(job);
        message_job_done(m);
        return;
    }
    /* with one recipient per delivery the recipient is the destination (as in the reference), so
     * that concurrency limits apply per recipient */
    const char *name = sched_recipient_limit(transport) == 1 && job->count == 1
                           ? job->rcpts[0].addr.data
                           : nexthop;
    qmgr_dest *d = dest_for(transport_for(transport), name);
    job->nexthop = pn_strdup(nexthop);
    job->dest = d;
    job->next = NULL;
    if (d->tail)
        d->tail->next = job;
    else
        d->head = job;
    d->tail = job;
}

void sched_log_deferred(const qmgr_job *job, const char *dsn, const char *why)
{
    pn_delivreq req;
    memset(&req, 0, sizeof(req));
    pn_buf_init(&req.queue_id);
    pn_buf_set(&req.queue_id, job->msg->id);
    req.arrival_us = job->msg->arrival_us;
    req.active_us = job->msg->active_us;
    pn_buf text = PN_BUF_INIT, failure = PN_BUF_INIT;
    pn_buf_set(&text, why);
    pn_bouncelog_batch defers;
    pn_bouncelog_batch_init(&defers, "defer", job->msg->id);
    for (size_t i = 0; i < job->count; i++) {
        pn_delivreq_rcpt r;
        memset(&r, 0, sizeof(r));
        r.addr = job->rcpts[i].addr;
        r.orig = job->rcpts[i].orig;
        pn_delivreq_log(&req, &r, "none", PN_DELIVER_DEFERRED, dsn, text.data);
        pn_bouncelog_batch_add(&defers, pn_buf_str(&r.addr), pn_buf_str(&r.orig), NULL, dsn,
                               text.data);
    }
    if (pn_bouncelog_batch_write(&defers, &failure) < 0)
        pn_warn("%s: %s", job->msg->id, failure.data);
    pn_bouncelog_batch_release(&defers);
    pn_buf_release(&text);
    pn_buf_release(&failure);
    pn_buf_release(&req.queue_id);
}

/* log_suspended: a job deferred untried because its delivery could not start. */
static void log_suspended(const qmgr_job *job, const char *why)
{
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "delivery temporarily suspended: %s", why);
    sched_log_deferred(job, "4.3.0", text.data);
    pn_buf_release(&text);
}

static void job_free(qmgr_job *job)
{
    for (size_t i = 0; i < job->count; i++) {
        pn_buf_release(&job->rcpts[i].addr);
        pn_buf_release(&job->rcpts[i].orig);
        pn_buf_release(&job->rcpts[i].orcpt);
    }
    free(job->rcpts);
    free(job->nexthop);
    free(job);
}

/* suspend_waiting: the jobs still queued for a dead destination are deferred untried. */
static void suspend_waiting(qmgr_dest *d)
{
    while (d->head) {
        qmgr_job *job = d->head;
        d->head = job->next;
        if (d->head == NULL)
            d->tail = NULL;
        log_suspended(job, d->dead_reason);
        qmgr_msg *m = job->msg;
        job_free(job);
        message_job_done(m);
    }
}

static void mark_dead(qmgr_dest *d, const char *reason, size_t len)
{
    int64_t now = (int64_t)time(NULL);
    if (d->dead_until > now)
        return; /* another delivery of the same cohort said so first */
    free(d->dead_reason);
    d->dead_reason = pn_malloc(len + 1);
    memcpy(d->dead_reason, reason, len);
    d->dead_reason[len] = 0;
    d->dead_until = now + pn_config_get_time(PN_P(minimal_backoff_time));
    pn_info("%s: destination %s is not reachable: deferring its mail for %lds", d->transport->name,
            d->name, pn_config_get_time(PN_P(minimal_backoff_time)));
}

void sched_forget_dead(void)
{
    for (qmgr_transport *t = transports; t; t = t->next)
        for (qmgr_dest *d = t->dests; d; d = d->next)
            d->dead_until = 0;
}

/* job_done: the job's recipients are finished or deferred, as the queue file says. */
static void job_done(qmgr_job *job)
{
    qmgr_dest *d = job->dest;
    d->active--;
    d->transport->active--;
    in_flight--;
    qmgr_msg *m = job->msg;
    job_free(job);
    message_job_done(m);
    if (draining && in_flight == 0)
        pn_server_drained();
}

/* job_retry: the agent provably never read the job (it retired as the job went out): the
 * job goes back to the head of its destination's queue, once; a second time it is
 * deferred like any lost delivery. */
static void job_retry(qmgr_job *job, const char *why)
{
    if (job->retried) {
        log_suspended(job, why);
        job_done(job);
        return;
    }
    job->retried = 1;
    qmgr_dest *d = job->dest;
    d->active--;
    d->transport->active--;
    in_flight--;
    job->next = d->head;
    d->head = job;
    if (d->tail == NULL)
        d->tail = job;
}

/* conn_close: the connection ends; its job, if any, is retried when unread says the agent
 * never read it (doc/protocols.md, "Kept connections"), else deferred with why. */
static void conn_close(conn *c, const char *why, int unread)
{
    pn_event_unwatch(c->fd);
    close(c->fd);
    if (c->job) {
        qmgr_job *job = c->job;
        c->job = NULL;
        if (unread)
            job_retry(job, why);
        else {
            log_suspended(job, why);
            job_done(job);
        }
    }
    for (conn **cp = &conns; *cp; cp = &(*cp)->next) {
        if (*cp == c) {
            *cp = c->next;
            break;
        }
    }
    pn_buf_release(&c->in);
    free(c);
}

static int send_job(conn *c, qmgr_job *job)
{
    qmgr_msg *m = job->msg;
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_REQ, "deliver");
    pn_attr_put_cstr(&req, PN_ATTR_QUEUE, "active");
    pn_attr_put_cstr(&req, PN_ATTR_QUEUE_ID, m->id);
    pn_attr_put_cstr(&req, PN_ATTR_NEXTHOP, job->nexthop);
    pn_attr_put_cstr(&req, PN_ATTR_SENDER, m->sender.data);
    pn_attr_put_int(&req, PN_ATTR_ARRIVAL, m->arrival_us);
    pn_attr_put_int(&req, PN_ATTR_ACTIVE, m->active_us);
    pn_attr_put_int(&req, PN_ATTR_LAST, job->last);
    if (m->flags)
        pn_attr_put_int(&req, PN_ATTR_FLAGS, m->flags);
    for (size_t i = 0; i < job->count; i++) {
        qmgr_rcpt *r = &job->rcpts[i];
        pn_attr_group_begin(&req, PN_ATTR_RCPT);
        pn_attr_put_str(&req, PN_ATTR_ADDR, r->addr.data, r->addr.len);
        pn_attr_put_str(&req, PN_ATTR_ORIG, r->orig.data, r->orig.len);
        pn_attr_put_str(&req, PN_ATTR_ORCPT, pn_buf_str(&r->orcpt), r->orcpt.len);
        pn_attr_put_int(&req, PN_ATTR_NOTIFY, r->notify);
        pn_attr_put_int(&req, PN_ATTR_OFFSET, (int64_t)r->offset);
        pn_attr_group_end(&req);
    }
    size_t len;
    const char *frame = pn_attr_frame(&req, &len);
    int rc = pn_write_all(c->fd, frame, len);
    int err = errno;
    pn_attr_release(&req);
    errno = err;
    c->job = job;
    c->state = CONN_BUSY;
    return rc;
}

static int unread_by_agent(int err)
{
    return err == EPIPE || err == ECONNRESET;
}

static void conn_readable(int fd, int events, void *ctx)
{
    conn *c = ctx;
    char data[8192];
    (void)events;
    ssize_t n = read(fd, data, sizeof(data));
    if (n <= 0) {
        /* A reset means the agent closed with our request unread (it retired); an end of
         * file with a job out means it read the job and died. */
        conn_close(c, "lost connection with the delivery agent",
                   c->state == CONN_HELLO || (n < 0 && unread_by_agent(errno)));
        sched_run();
        return;
    }
    pn_buf_append(&c->in, data, (size_t)n);
    pn_buf payload = PN_BUF_INIT, why = PN_BUF_INIT;
    int rc;
    while ((rc = pn_attr_take_frame(&c->in, &payload)) > 0) {
        pn_attrs attrs;
        if (pn_attr_parse(payload.data, payload.len, &attrs, &why) < 0) {
            rc = -1;
            break;
        }
        if (c->state == CONN_HELLO) {
            const char *proto;
            size_t plen;
            if (pn_attr_get_str(&attrs, PN_ATTR_PROTO, &proto, &plen) != 1 || plen != 7 ||
                memcmp(proto, "deliver", 7) != 0) {
                rc = -1;
                break;
            }
            qmgr_job *job = c->job;
            c->state = CONN_IDLE;
            c->idle_since_ms = now_ms();
            c->job = NULL;
            if (job && send_job(c, job) < 0) {
                conn_close(c, "lost connection with the delivery agent", unread_by_agent(errno));
                c = NULL;
                break;
            }
        } else if (c->state == CONN_BUSY) {
            qmgr_job *job = c->job;
            c->job = NULL;
            c->state = CONN_IDLE;
            c->idle_since_ms = now_ms();
            const char *dead;
            size_t dlen;
            qmgr_dest *d = job->dest;
            if (pn_attr_get_str(&attrs, PN_ATTR_DEAD, &dead, &dlen) == 1 && dlen > 0) {
                mark_dead(d, dead, dlen);
                d->window = initial_window(d->transport);
            } else if (d->window < d->limit) {
                d->window++;
            }
            job_done(job);
        }
    }
    pn_buf_release(&payload);
    pn_buf_release(&why);
    if (c && rc < 0)
        conn_close(c, "protocol error from the delivery agent", 0);
    sched_run();
}

/* conn_for: an idle connection of the transport, or a new one (its job goes out after the
 * agent's hello). NULL when the agent cannot be reached; why says why. */
static conn *conn_new(qmgr_transport *t, pn_buf *why)
{
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s%s", PN_SVC_PRIVATE, t->name);
    int fd = pn_sock_connect_unix(path.data, why);
    pn_buf_release(&path);
    if (fd < 0)
        return NULL;
    conn *c = pn_calloc(1, sizeof(*c));
    c->fd = fd;
    c->transport = t;
    c->state = CONN_HELLO;
    c->opened_ms = now_ms();
    pn_buf_init(&c->in);
    c->next = conns;
    conns = c;
    pn_event_watch(fd, PN_EVENT_READ, conn_readable, c);
    return c;
}

/* idle_conn: a kept connection of the transport that may take a job: idle, and younger
 * than ipc_ttl (older ones are closed here; ipc_idle is the job of conn_sweep). */
static conn *idle_conn(qmgr_transport *t)
{
    static int64_t ttl = -1;
    if (ttl < 0)
        ttl = pn_config_get_time(PN_P(ipc_ttl)) * 1000; /* once: a reload retires qmgr */
    for (conn *c = conns, *next; c; c = next) {
        next = c->next;
        if (c->transport != t || c->state != CONN_IDLE)
            continue;
        if (now_ms() - c->opened_ms <= ttl)
            return c;
        conn_close(c, NULL, 0);
    }
    return NULL;
}

/* conn_sweep: close agent connections idle for longer than ipc_idle, so that agents do not
 * stay busy for qmgr alone; runs while any connection is idle. */
static int sweep_armed;

static void conn_sweep(void *ctx)
{
    (void)ctx;
    sweep_armed = 0;
    int64_t limit = pn_config_get_time(PN_P(ipc_idle)) * 1000, now = now_ms(), next = -1;
    for (conn *c = conns, *following; c; c = following) {
        following = c->next;
        if (c->state != CONN_IDLE)
            continue;
        if (now - c->idle_since_ms >= limit)
            conn_close(c, NULL, 0);
        else if (next < 0 || c->idle_since_ms + limit - now < next)
            next = c->idle_since_ms + limit - now;
    }
    if (next >= 0) {
        sweep_armed = 1;
        pn_event_timer(conn_sweep, NULL, (long)next + 1);
    }
}

static int dispatch(qmgr_transport *t, qmgr_dest *d)
{
    qmgr_job *job = d->head;
    d->head = job->next;
    if (d->head == NULL)
        d->tail = NULL;
    d->active++;
    t->active++;
    in_flight++;
    conn *c = job->retried ? NULL : idle_conn(t); /* a retry goes on a fresh connection */
    pn_buf why = PN_BUF_INIT;
    if (c) {
        if (send_job(c, job) < 0)
            conn_close(c, "lost connection with the delivery agent", unread_by_agent(errno));
    } else if ((c = conn_new(t, &why)) != NULL) {
        c->job = job; /* sent when the agent says hello */
    } else {
        log_suspended(job, why.data);
        job_done(job);
        pn_buf_release(&why);
        return -1;
    }
    pn_buf_release(&why);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rate_timer(void *ctx)
{
    (void)ctx;
    sched_run();
}

/* may_start: can the destination take one more delivery now? With a destination (or
 * transport) rate delay, one at a time per destination (or transport) and not before the
 * delay since the last start has passed (a timer comes back then). */
static int may_start(qmgr_dest *d)
{
    qmgr_transport *t = d->transport;
    if (d->active >= d->limit || d->active >= d->window)
        return 0;
    if (d->rate_delay_ms <= 0 && t->rate_delay_ms <= 0)
        return 1;
    int64_t now = now_ms();
    if ((d->rate_delay_ms > 0 && d->active > 0) || (t->rate_delay_ms > 0 && t->active > 0))
        return 0;
    int64_t next = d->next_start_ms > t->next_start_ms ? d->next_start_ms : t->next_start_ms;
    if (now < next) {
        pn_event_timer(rate_timer, d, next - now);
        return 0;
    }
    if (d->rate_delay_ms > 0)
        d->next_start_ms = now + d->rate_delay_ms;
    if (t->rate_delay_ms > 0)
        t->next_start_ms = now + t->rate_delay_ms;
    return 1;
}

int sched_drain(void)
{
    draining = 1;
    return in_flight == 0;
}

void sched_run(void)
{
    static int running;
    if (running || draining)
        return; /* job_done from inside a dispatch: the outer loop goes on */
    running = 1;
    for (qmgr_transport *t = transports; t; t = t->next) {
        int progress = 1;
        while (progress && t->active < t->limit) {
            progress = 0;
            for (qmgr_dest *d = t->dests; d && t->active < t->limit; d = d->next) {
                if (d->head && d->dead_until > (int64_t)time(NULL)) {
                    suspend_waiting(d);
                    progress = 1;
                } else if (d->head && may_start(d)) {
                    dispatch(t, d);
                    progress = 1;
                }
            }
        }
    }
    running = 0;
    if (!sweep_armed) {
        sweep_armed = 1;
        pn_event_timer(conn_sweep, NULL, pn_config_get_time(PN_P(ipc_idle)) * 1000);
    }
}
