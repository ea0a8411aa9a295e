/* main.c: bounce, the service that returns undeliverable mail (private/bounce). On
 * {req=flush, queue_id} it reads the message's bounce log and the queue file, writes a
 * delivery status notification (RFC 3464: multipart/report with a human part, a
 * message/delivery-status part and the original message), and submits it through cleanup
 * from the null sender to the original sender; mail from the null sender goes to
 * 2bounce_notice_recipient instead. The log is removed only after cleanup took the notice.
 * On {req=warn, queue_id} it sends the sender a delay warning ("Delayed Mail (still being
 * retried)", Action: delayed) for the recipients still pending, from the defer log, with the
 * original headers only; that log stays. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/htable.h"
#include "base/log.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/server.h"
#include "mail/bouncelog.h"
#include "mail/cleanupclnt.h"
#include "mail/qfile.h"
#include "mail/qpath.h"

static pn_cleanup_client *cleanup;

static void rfc_date(time_t t, char *out, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, len, "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm);
}

/* span: a time parameter in words, "4 hours", "5 days". */
static void span(const char *param, char *out, size_t len)
{
    static const struct {
        long seconds;
        const char *unit;
    } units[] = {{604800, "week"}, {86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
    long t = pn_config_get_time(param);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (t >= units[i].seconds && t % units[i].seconds == 0) {
            long n = t / units[i].seconds;
            snprintf(out, len, "%ld %s%s", n, units[i].unit, n == 1 ? "" : "s");
            return;
        }
    }
    snprintf(out, len, "%ld seconds", t);
}

/* compose: the notice for the bounced (or, with delayed, the deferred) recipients. */
static void compose(const char *id, const pn_qfile *q, const char *sender,
                    const pn_bounce_entry *e, int count, const pn_buf *original, int delayed,
                    pn_buf *out)
{
    const char *host = pn_config_get_hostname("myhostname");
    char date[64], boundary[128];
    rfc_date(q->arrival.tv_sec, date, sizeof(date));
    snprintf(boundary, sizeof(boundary), "%s.%ld/%s", id, (long)time(NULL), host);
    pn_buf_printf(out, "From: MAILER-DAEMON@%s (Mail Delivery System)\n", host);
    pn_buf_puts(out, delayed ? "Subject: Delayed Mail (still being retried)\n"
                             : "Subject: Undelivered Mail Returned to Sender\n");
    pn_buf_printf(out, "To: %s\n", sender);
    pn_buf_puts(out, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n");
    pn_buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\n"
                       "\tboundary=\"%s\"\n\n", boundary);
    pn_buf_puts(out, "This is a MIME-encapsulated message.\n\n");
    pn_buf_printf(out, "--%s\nContent-Description: Notification\n"
                       "Content-Type: text/plain; charset=us-ascii\n\n", boundary);
    char warn_after[64], lifetime[64];
    if (delayed) {
        span("delay_warning_time", warn_after, sizeof(warn_after));
        span("maximal_queue_lifetime", lifetime, sizeof(lifetime));
        pn_buf_printf(out, "This is the mail system at %s.\n\n"
                           "####### THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR "
                           "MESSAGE. #######\n\n"
                           "Your message could not be delivered for more than %s to %s\n"
                           "listed below. The mail system will keep trying until the message\n"
                           "is %s old. Its header is attached.\n\n",
                      host, warn_after, count == 1 ? "the recipient" : "the recipients",
                      lifetime);
    } else {
        pn_buf_printf(out, "This is the mail system at %s.\n\n"
                           "Your message could not be delivered to %s listed below; the\n"
                           "mail system gave up on %s. The message itself is attached.\n\n",
                      host, count == 1 ? "the recipient" : "the recipients",
                      count == 1 ? "it" : "them");
    }
    for (int i = 0; i < count; i++)
        pn_buf_printf(out, "<%s>: %s\n", e[i].addr.data, e[i].reason.data);
    pn_buf_printf(out, "\n--%s\nContent-Description: Delivery report\n"
                       "Content-Type: message/delivery-status\n\n", boundary);
    pn_buf_printf(out, "Reporting-MTA: dns; %s\nX-Postfix-Queue-ID: %s\n", host, id);
    pn_buf_printf(out, "X-Postfix-Sender: rfc822; %s\nArrival-Date: %s\n", sender, date);
    for (int i = 0; i < count; i++) {
        pn_buf_printf(out, "\nFinal-Recipient: rfc822; %s\n", e[i].addr.data);
        if (e[i].orig.len && strcasecmp(e[i].orig.data, e[i].addr.data) != 0)
            pn_buf_printf(out, "Original-Recipient: rfc822;%s\n", e[i].orig.data);
        pn_buf_printf(out, "Action: %s\nStatus: %s\nDiagnostic-Code: X-Postfix; %s\n",
                      delayed ? "delayed" : "failed", e[i].status.data, e[i].reason.data);
    }
    if (delayed) {
        /* the header only: up to the first empty line */
        const char *end = memmem(original->data, original->len, "\n\n", 2);
        size_t n = end ? (size_t)(end - original->data) + 1 : original->len;
        pn_buf_printf(out, "\n--%s\nContent-Description: Undelivered Message Headers\n"
                           "Content-Type: text/rfc822-headers\n\n", boundary);
        pn_buf_append(out, original->data, n);
    } else {
        pn_buf_printf(out, "\n--%s\nContent-Description: Undelivered Message\n"
                           "Content-Type: message/rfc822\n\n", boundary);
        pn_buf_append(out, original->data, original->len);
    }
    pn_buf_printf(out, "\n--%s--\n", boundary);
}

/* pending_reasons: the last reason of each recipient still pending (one pass over the
 * file, one over the log), moved to the front of e; returns how many. */
static int pending_reasons(const pn_qfile *q, pn_bounce_entry *e, int count)
{
    pn_htable *pending = pn_htable_new(16);
    size_t pos = 0, len, at = 0;
    int type, kept = 0;
    const char *payload;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next(q, &pos, &type, &payload, &len)) {
        if (type == 'R' && pn_qfile_rcpt_parse(payload, len, at, &r) == 0 &&
            r.status == PN_RCPT_TODO)
            pn_htable_put(pending, pn_buf_str(&r.addr), NULL);
        at = pos;
    }
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

/* flush: the non-delivery notice (or, with delayed, the delay warning); 0 when it is on its
 * way or there was nothing to send, -1 to retry. */
static int flush(const char *id, int delayed, pn_buf *why)
{
    pn_bounce_entry *e = NULL;
    int count = pn_bouncelog_read(delayed ? "defer" : "bounce", id, &e);
    if (count <= 0) {
        pn_bouncelog_free(e, count < 0 ? 0 : count);
        return 0;
    }
    pn_buf path = PN_BUF_INIT, sender = PN_BUF_INIT, content = PN_BUF_INIT, msg = PN_BUF_INIT;
    pn_buf new_id = PN_BUF_INIT, log_path = PN_BUF_INIT;
    pn_queue_path("active", id, &path);
    int fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    int rc = -1;
    if (fd < 0 || pn_qfile_open(&q, fd, why) < 0 || pn_qfile_read_content(&q, &content, why) < 0)
        goto out;
    pn_qfile_sender(&q, &sender);
    int shown = delayed ? pending_reasons(&q, e, count) : count;
    if (delayed && (sender.len == 0 || shown == 0)) {
        rc = 0; /* no delay warnings about notices, nor about nothing */
        goto out;
    }
    /* Mail from the null sender is reported to 2bounce_notice_recipient, from the
     * double-bounce sender; a double bounce that fails in turn is only logged. */
    const char *dbl = pn_config_get("double_bounce_sender");
    size_t dlen = strlen(dbl);
    if (sender.len >= dlen && strncasecmp(sender.data, dbl, dlen) == 0 &&
        (sender.data[dlen] == 0 || sender.data[dlen] == '@')) {
        pn_info("%s: discarding a double bounce that could not be delivered", id);
        pn_queue_path("bounce", id, &log_path);
        unlink(log_path.data);
        rc = 0;
        goto out;
    }
    const char *to = sender.len ? sender.data : pn_config_get("2bounce_notice_recipient");
    const char *from = sender.len ? "" : dbl;
    compose(id, &q, sender.len ? sender.data : "MAILER-DAEMON", e, shown, &content, delayed,
            &msg);
    if (cleanup == NULL)
        cleanup = pn_cleanup_client_new("public/cleanup");
    int status = -1;
    if (pn_cleanup_open(cleanup, &new_id, why) == 0) {
        pn_cleanup_attr(cleanup, "rewrite_context", "local");
        pn_cleanup_sender(cleanup, from);
        pn_cleanup_rcpt(cleanup, to, to, "", 0);
        pn_cleanup_content(cleanup);
        pn_cleanup_message(cleanup, msg.data, msg.len);
        int taken = pn_cleanup_finish(cleanup, &status, why) == 0 && status == 0;
        if (taken && delayed) {
            pn_info("%s: sender delay notification: %s", id, new_id.data);
            rc = 0;
        } else if (taken) {
            pn_info("%s: sender non-delivery notification: %s", id, new_id.data);
            pn_queue_path("bounce", id, &log_path);
            unlink(log_path.data);
            rc = 0;
        } else if (why->len == 0) {
            pn_buf_printf(why, "cleanup refused the notice (status %d)", status);
        }
    }
out:
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

static void serve(int fd, void *ctx)
{
    (void)ctx;
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, (int)(pn_config_get_time("ipc_timeout") * 1000));
    pn_buf frame = PN_BUF_INIT, why = PN_BUF_INIT, kind = PN_BUF_INIT, id = PN_BUF_INIT;
    if (pn_ipc_send_hello(client, "bounce", 0) == 0) {
        while (pn_attr_read_frame(client, &frame) > 0) {
            pn_attrs req;
            pn_buf_reset(&why);
            int status = -1;
            if (pn_attr_parse(frame.data, frame.len, &req, &why) < 0 ||
                pn_attr_copy_str(&req, "req", &kind) != 1 ||
                pn_attr_copy_str(&req, "queue_id", &id) != 1 || !pn_qid_valid(id.data)) {
                pn_warn("malformed bounce request");
                break;
            }
            if (strcmp(kind.data, "flush") == 0 || strcmp(kind.data, "warn") == 0) {
                int delayed = kind.data[0] == 'w';
                status = flush(id.data, delayed, &why) == 0 ? 0 : -1;
                if (status < 0)
                    pn_warn("%s: cannot %s: %s", id.data,
                            delayed ? "send a delay warning"
                                    : "return the message to its sender",
                            why.data);
            }
            pn_attr_out reply;
            pn_attr_begin(&reply);
            pn_attr_put_int(&reply, "status", status);
            int rc = pn_attr_write_frame(client, &reply);
            pn_attr_release(&reply);
            if (rc < 0)
                break;
        }
    }
    pn_buf_release(&frame);
    pn_buf_release(&why);
    pn_buf_release(&kind);
    pn_buf_release(&id);
    pn_stream_release(client);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve, .max_use = -1, .max_idle = -1,
                               .process_limit = 0};
    return pn_single_server_main(argc, argv, &server);
}
