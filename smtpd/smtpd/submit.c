/* submit.c: smtpd's use of the cleanup client, on one connection kept for the whole process.
 * A message is opened at the first accepted RCPT (that is when its queue ID exists and
 * "ID: client=" is logged), recipients follow as they are accepted, and the content after
 * DATA; cleanup answers once the file is safely on disk. */
#include <string.h>

#include "base/log.h"
#include "ipc/proto.h"
#include "mail/cleanupclnt.h"
#include "smtpd.h"

static pn_cleanup_client *cleanup;

int submit_open(smtpd_session *s, pn_buf *why)
{
    if (cleanup == NULL)
        cleanup = pn_cleanup_client_new(PN_SVC_CLEANUP);
    if (pn_cleanup_open(cleanup, pn_cleanup_received_flags(), &s->queue_id, why) < 0)
        return -1;
    pn_buf line = PN_BUF_INIT;
    pn_buf_printf(&line, "%s: client=%s", s->queue_id.data, s->namaddr.data);
    if (s->sasl_username.len)
        pn_buf_printf(&line, ", sasl_method=%s, sasl_username=%s", s->sasl_method.data,
                      s->sasl_username.data);
    if (s->sasl_sender.len)
        pn_buf_printf(&line, ", sasl_sender=%s", s->sasl_sender.data);
    pn_info("%s", line.data);
    pn_buf_release(&line);
    if (s->header_local < 0) /* once per session: the client does not change */
        s->header_local = smtpd_local_header_client(s);
    pn_cleanup_attr(cleanup, "rewrite_context", s->header_local ? "local" : "remote");
    pn_cleanup_filter(cleanup);
    pn_cleanup_attr(cleanup, "client_name", s->name.data);
    pn_cleanup_attr(cleanup, "reverse_client_name", s->reverse_name.data);
    pn_cleanup_attr(cleanup, "client_addr", s->addr.data);
    pn_cleanup_attr(cleanup, "client_port", s->port.data);
    if (s->helo.len)
        pn_cleanup_attr(cleanup, "client_helo", s->helo.data);
    pn_cleanup_attr(cleanup, "client_proto", smtpd_proto(s));
    if (s->sasl_username.len) {
        pn_cleanup_attr(cleanup, "sasl_method", s->sasl_method.data);
        pn_cleanup_attr(cleanup, "sasl_username", s->sasl_username.data);
    }
    if (s->sasl_sender.len)
        pn_cleanup_attr(cleanup, "sasl_sender", s->sasl_sender.data);
    if (s->encoding[0])
        pn_cleanup_attr(cleanup, "encoding", s->encoding);
    if (s->ret[0])
        pn_cleanup_attr(cleanup, "ret", s->ret);
    if (s->envid.len)
        pn_cleanup_attr(cleanup, "envid", s->envid.data);
    if (s->smtputf8)
        pn_cleanup_attr(cleanup, "smtputf8", "yes");
    pn_cleanup_sender(cleanup, s->sender.data);
    return 0;
}

int submit_envelope_rcpt(smtpd_session *s, const char *rcpt, const char *orcpt, int notify)
{
    (void)s;
    pn_cleanup_rcpt(cleanup, rcpt, rcpt, orcpt, notify);
    return 0;
}

int submit_content(smtpd_session *s, const pn_buf *msg, int too_big, int *status, pn_buf *reason)
{
    if (too_big) {
        pn_cleanup_abort(cleanup);
        *status = PN_CLEANUP_SIZE;
        return 0;
    }
    /* what the restrictions' HOLD, DISCARD, FILTER, REDIRECT and BCC actions asked for */
    for (size_t i = 0; i < s->actions->len; i++) {
        char *eq = strchr(s->actions->items[i], '=');
        *eq = 0;
        pn_cleanup_attr(cleanup, s->actions->items[i], eq + 1);
        *eq = '=';
    }
    pn_cleanup_content(cleanup);
    pn_cleanup_message(cleanup, msg->data, msg->len);
    return pn_cleanup_finish(cleanup, status, reason);
}

void submit_abort(smtpd_session *s)
{
    if (s->queue_id.len == 0 || cleanup == NULL)
        return;
    pn_cleanup_abort(cleanup);
    pn_buf_reset(&s->queue_id);
}

int submit_notice(const char *sender, const char *rcpt, const pn_buf *msg, pn_buf *why)
{
    if (cleanup == NULL)
        cleanup = pn_cleanup_client_new(PN_SVC_CLEANUP);
    pn_buf id = PN_BUF_INIT;
    int rc = pn_cleanup_submit(cleanup, sender, rcpt, NULL, msg->data, msg->len, &id, why);
    pn_buf_release(&id);
    return rc;
}
