/* records.c: one record of the cleanup protocol (doc/protocols.md) read from a client and
 * taken into the message: attributes (from a trusted client only), sender, recipients,
 * header fields and body, the end. Nothing a client sends can add a record of another kind:
 * addresses with control characters, unknown types and oversized records are refused. */
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/qfile.h"
#include "cleanup.h"

static const char *const trusted_attrs[] = {
    "rewrite_context",
    "client_name",
    "client_addr",
    "client_port",
    "client_helo",
    "client_proto",
    "sasl_method",
    "sasl_username",
    "sasl_sender",
    "log_ident",
    "encoding",
    "envid",
    "ret",
    "smtputf8",
    "trace_flags",
    "full_name",
    "reverse_client_name",
    NULL,
};

static void replace_stray_cr(char *data, size_t len)
{
    if (!pn_config_get_bool(PN_P(cleanup_replace_stray_cr_lf)))
        return;
    for (char *cp = memchr(data, '\r', len); cp; cp = memchr(cp, '\r', len - (size_t)(cp - data)))
        *cp = ' ';
}

int cleanup_take_record(pn_stream *client, cleanup_msg *msg, int *aborted)
{
    unsigned char head[5];
    size_t got = 0;
    while (got < 5) {
        ssize_t n = pn_stream_read(client, head + got, 5 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    size_t len = pn_get_be32(head + 1);
    if (len > PN_QF_MAX_RECORD)
        return -1;
    char *payload = pn_malloc(len + 1);
    got = 0;
    while (got < len) {
        ssize_t n = pn_stream_read(client, payload + got, len - got);
        if (n <= 0) {
            free(payload);
            return -1;
        }
        got += (size_t)n;
    }
    payload[len] = 0;
    int more = 1;
    long size_limit = pn_config_get_int(PN_P(message_size_limit));
    switch (head[0]) {
    case 'A': {
        if (!msg->trusted) { /* what a client says of itself counts only from mail_owner */
            pn_warn("%s: attribute %.*s from an untrusted client ignored", msg->queue_id.data,
                    (int)strcspn(payload, "="), payload);
            break;
        }
        if (strncmp(payload, "content_filter=", 15) == 0) { /* the receiving service's */
            pn_buf_set(&msg->filter, payload + 15);
            break;
        }
        /* the actions of smtpd's access tables (HOLD, DISCARD, REDIRECT, BCC) */
        if (strcmp(payload, "action=hold") == 0 || strcmp(payload, "action=discard") == 0) {
            *(payload[7] == 'h' ? &msg->hold : &msg->discard) = 1;
            break;
        }
        if (strncmp(payload, "redirect=", 9) == 0) {
            pn_buf_set(&msg->redirect, payload + 9);
            break;
        }
        if (strncmp(payload, "bcc=", 4) == 0) {
            pn_argv_add(msg->bcc, payload + 4);
            break;
        }
        for (int i = 0; trusted_attrs[i]; i++) {
            size_t n = strlen(trusted_attrs[i]);
            if (strncmp(payload, trusted_attrs[i], n) == 0 && payload[n] == '=')
                pn_argv_add(msg->attrs, payload);
        }
        break;
    }
    case 'S':
        if (pn_addr_has_control(payload, len)) /* a new record, log line or SMTP command */
            msg->status |= CLEANUP_STAT_PROTO;
        pn_buf_set(&msg->sender, payload);
        break;
    case 'R': {
        pn_qrcpt r;
        pn_qrcpt_init(&r);
        if (pn_qfile_rcpt_parse(payload, len, 0, &r) < 0 || r.status != PN_RCPT_TODO ||
            pn_addr_has_control(r.addr.data, r.addr.len) ||
            pn_addr_has_control(pn_buf_str(&r.orcpt), r.orcpt.len))
            msg->status |= CLEANUP_STAT_PROTO;
        else
            envelope_add_rcpt(msg, r.addr.data, r.orcpt.data, r.notify);
        pn_qrcpt_release(&r);
        break;
    }
    case 'M': msg->in_content = 1; break;
    case 'H':
        characters_apply(msg, payload, &len);
        replace_stray_cr(payload, len);
        msg->header_bytes += len + 1;
        if (msg->in_content && memchr(payload, 0, len) == NULL)
            pn_argv_add(msg->headers, payload);
        else
            msg->status |= CLEANUP_STAT_PROTO;
        break;
    case 'B':
        if (size_limit > 0 && msg->body.len + msg->header_bytes + len > (size_t)size_limit) {
            msg->status |= CLEANUP_STAT_SIZE;
            break;
        }
        characters_apply(msg, payload, &len);
        replace_stray_cr(payload, len);
        pn_buf_append(&msg->body, payload, len);
        break;
    case 'X': break;
    case '.': more = 0; break;
    case '!':
        *aborted = 1;
        more = 0;
        break;
    default: msg->status |= CLEANUP_STAT_PROTO;
    }
    free(payload);
    return more;
}
