/* main.c: bounce, the service that reports on deliveries (private/bounce). A request names a
 * message and a kind: {req=flush} returns what bounced (bounce/ID) to the sender, {req=warn}
 * tells the sender what is still being retried (defer/ID, recipients still pending), and
 * {req=trace} reports deliveries that asked for it with NOTIFY=SUCCESS (trace/ID). Each
 * recipient's NOTIFY is honoured; a notice goes from the null sender through cleanup, and a
 * log is removed only after cleanup took the notice. Mail from the null sender that bounces
 * goes to 2bounce_notice_recipient; notify_classes "bounce" and "delay" add postmaster
 * copies (headers only). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/htable.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/bouncelog.h"
#include "mail/cleanupclnt.h"
#include "mail/dsn.h"
#include "mail/qfile.h"
#include "mail/qpath.h"
#include "bounce.h"

static pn_cleanup_client *cleanup;

/* pending_reasons: the last reason of each recipient still pending (one pass over the
 * file, one over the log), moved to the front of e; returns how many. */
static int pending_reasons(const pn_qfile *q, pn_bounce_entry *e, int count)
{
    pn_htable *pending = pn_htable_new(16);
    size_t pos = 0;
    int kept = 0;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next_rcpt(q, &pos, 1, &r))
        pn_htable_put(pending, pn_buf_str(&r.addr), NULL);
    pn_qrcpt_release(&r);
    for (int i = count - 1; i >= 0; i--) {
        if (!pn_htable_has(pending, pn_buf_str(&e[i].addr)))
            continue; /* delivered since, or an older reason already kept */
        pn_htable_remove(pending, pn_buf_str(&e[i].addr));
        pn_bounce_entry tmp = e[kept];
        e[kept] = e[i];
        e[i] = tmp;
        kept++;
    }
    pn_htable_free(pending, NULL);
    return kept;
}

static const struct {
    const char *log;
    const char *what; /* in the log line */
    int notify;       /* the NOTIFY keyword that asks for it */
} kinds[] = {
    [NOTICE_FAILURE] = {"bounce", "non-delivery", PN_NOTIFY_FAILURE},
    [NOTICE_DELAY] = {"defer", "delay", PN_NOTIFY_DELAY},
    [NOTICE_SUCCESS] = {"trace", "delivery status", PN_NOTIFY_SUCCESS},
    [NOTICE_REPORT] = {"trace", "delivery status", 0},
};

/* dsn_requests: each recipient's NOTIFY and ORCPT from the queue file, by address. */
typedef struct dsn_request {
    int notify;
    char *orcpt;
} dsn_request;

static void free_request(void *value)
{
    dsn_request *d = value;
    free(d->orcpt);
    free(d);
}

static pn_htable *dsn_requests(const pn_qfile *q)
{
    pn_htable *table = pn_htable_new(16);
    size_t pos = 0;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next_rcpt(q, &pos, 0, &r)) {
        dsn_request *d = pn_malloc(sizeof(*d));
        d->notify = r.notify;
        d->orcpt = r.orcpt.len ? pn_strdup(r.orcpt.data) : NULL;
        dsn_request *old = pn_htable_remove(table, pn_buf_str(&r.addr));
        if (old)
            free_request(old);
        pn_htable_put(table, pn_buf_str(&r.addr), d);
    }
    pn_qrcpt_release(&r);
    return table;
}

/* submit: one notice through cleanup; 0 with its queue ID, or -1 with why. */
static int submit(const char *from, const char *to, const pn_buf *msg, pn_buf *new_id, pn_buf *why)
{
    if (cleanup == NULL)
        cleanup = pn_cleanup_client_new(PN_SVC_CLEANUP);
    return pn_cleanup_submit(cleanup, from, to, NULL, msg->data, msg->len, new_id, why);
}

/* report: the notice of this kind for message id; 0 when it is on its way or there was
 * nothing to send (the log is then removed, except the defer log), -1 to retry. */
static int report(const char *id, enum notice_kind kind, pn_buf *why)
{
    pn_bounce_entry *e = NULL;
    int count = pn_bouncelog_read(kinds[kind].log, id, &e);
    if (count <= 0) {
        pn_bouncelog_free(e, count < 0 ? 0 : count);
        return 0;
    }
    pn_buf path = PN_BUF_INIT, sender = PN_BUF_INIT, content = PN_BUF_INIT, msg = PN_BUF_INIT;
    pn_buf new_id = PN_BUF_INIT, log_path = PN_BUF_INIT;
    const bounce_template *t = NULL;
    notice_rcpt *r = pn_calloc((size_t)count + 1, sizeof(*r));
    pn_htable *requests = NULL;
    pn_queue_path("active", id, &path);
    pn_queue_path(kinds[kind].log, id, &log_path);
    int fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    int rc = -1;
    if (fd < 0 || pn_qfile_open(&q, fd, why) < 0 || pn_qfile_read_content(&q, &content, why) < 0)
        goto out;
    pn_buf flags = PN_BUF_INIT;
    if (kind == NOTICE_SUCCESS && pn_qfile_attr(&q, "trace_flags", &flags) != NULL)
        kind = NOTICE_REPORT; /* every recipient is in it, whatever its NOTIFY says */
    pn_buf_release(&flags);
    if ((t = template_get(kind, why)) == NULL)
        goto out;
    pn_qfile_sender(&q, &sender);
    int shown = kind == NOTICE_DELAY ? pending_reasons(&q, e, count) : count;
    /* each recipient's NOTIFY decides whether it is in the notice */
    requests = dsn_requests(&q);
    int kept = 0;
    for (int i = 0; i < shown; i++) {
        dsn_request *d = pn_htable_get(requests, pn_buf_str(&e[i].addr));
        if (kind != NOTICE_REPORT && !pn_dsn_wants(d ? d->notify : 0, kinds[kind].notify))
            continue;
        r[kept].entry = &e[i];
        r[kept++].orcpt = d ? d->orcpt : NULL;
    }
    if (kept == 0 || (kind != NOTICE_FAILURE && sender.len == 0)) {
        /* nothing anyone asked for; no delay or success notices about notices */
        if (kind != NOTICE_DELAY)
            unlink(log_path.data);
        rc = 0;
        goto out;
    }
    /* Mail from the null sender is reported to 2bounce_notice_recipient, from the
     * double-bounce sender; a double bounce that fails in turn is only logged. */
    const char *dbl = pn_config_get(PN_P(double_bounce_sender));
    size_t dlen = strlen(dbl);
    if (sender.len >= dlen && strncasecmp(sender.data, dbl, dlen) == 0 &&
        (sender.data[dlen] == 0 || sender.data[dlen] == '@')) {
        pn_info("%s: discarding a double bounce that could not be delivered", id);
        unlink(log_path.data);
        rc = 0;
        goto out;
    }
    const char *to = sender.len ? sender.data : pn_config_get(PN_P(2bounce_notice_recipient));
    const char *from = sender.len ? "" : dbl;
    notice_compose(kind, t, id, &q, sender.len ? sender.data : "MAILER-DAEMON", r, kept, &content,
                   0, &msg);
    if (submit(from, to, &msg, &new_id, why) < 0)
        goto out;
    pn_info("%s: sender %s notification: %s", id, kinds[kind].what, new_id.data);
    /* the postmaster's copy, when notify_classes asks for one; losing it loses no mail */
    const char *class = kind == NOTICE_FAILURE ? "bounce" : kind == NOTICE_DELAY ? "delay" : NULL;
    if (class && sender.len && pn_config_list_has(PN_P(notify_classes), class)) {
        const char *pm = pn_config_get(kind == NOTICE_FAILURE ? PN_P(bounce_notice_recipient)
                                                              : PN_P(delay_notice_recipient));
        pn_buf_reset(&msg);
        pn_buf copy_why = PN_BUF_INIT;
        notice_compose(kind, t, id, &q, sender.data, r, kept, &content, 1, &msg);
        if (submit(dbl, pm, &msg, &new_id, &copy_why) == 0)
            pn_info("%s: postmaster %s notification: %s", id, kinds[kind].what, new_id.data);
        else
            pn_warn("%s: postmaster copy not sent: %s", id, copy_why.data);
        pn_buf_release(&copy_why);
    }
    if (kind != NOTICE_DELAY)
        unlink(log_path.data);
    rc = 0;
out:
    if (requests)
        pn_htable_free(requests, free_request);
    free(r);
    pn_qfile_release(&q);
    if (fd >= 0)
        close(fd);
    pn_bouncelog_free(e, count);
    pn_buf_release(&path);
    pn_buf_release(&sender);
    pn_buf_release(&content);
    pn_buf_release(&msg);
    pn_buf_release(&new_id);
    pn_buf_release(&log_path);
    return rc;
}

/* handle: one request: flush, warn or trace a notice to the sender. */
static int handle(const pn_attrs *req, pn_attr_out *reply, void *ctx)
{
    (void)ctx;
    pn_buf why = PN_BUF_INIT, kind = PN_BUF_INIT, id = PN_BUF_INIT;
    int status = -1, rc = 0;
    if (pn_attr_copy_str(req, PN_ATTR_REQ, &kind) != 1 ||
        pn_attr_copy_str(req, PN_ATTR_QUEUE_ID, &id) != 1 || !pn_qid_valid(id.data)) {
        pn_warn("malformed bounce request");
        rc = -1;
    } else {
        int which = strcmp(kind.data, PN_REQ_FLUSH) == 0   ? NOTICE_FAILURE
                    : strcmp(kind.data, PN_REQ_WARN) == 0  ? NOTICE_DELAY
                    : strcmp(kind.data, PN_REQ_TRACE) == 0 ? NOTICE_SUCCESS
                                                           : -1;
        if (which >= 0) {
            status = report(id.data, (enum notice_kind)which, &why) == 0 ? 0 : -1;
            if (status < 0)
                pn_warn("%s: cannot send the sender a %s notification: %s", id.data,
                        kinds[which].what, why.data);
        }
        pn_attr_put_int(reply, PN_ATTR_STATUS, status);
    }
    pn_buf_release(&why);
    pn_buf_release(&kind);
    pn_buf_release(&id);
    return rc;
}

static void serve(int fd, void *ctx)
{
    pn_server_serve_requests(fd, PN_PROTO_BOUNCE, handle, ctx);
}

int main(int argc, char **argv)
{
    static pn_server server = {
        .serve = serve, .per_request = 1, .max_use = -1, .max_idle = -1, .process_limit = 0};
    return pn_single_server_main(argc, argv, &server);
}
