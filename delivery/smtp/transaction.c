/* transaction.c: one SMTP or LMTP mail transaction over an open connection: greeting,
 * EHLO/LHLO (SMTP falls back to HELO), MAIL with SIZE, BODY and the DSN parameters the server
 * understands, RCPT per recipient, DATA with CR LF and dot-stuffing (8-bit content made
 * quoted-printable for a server without 8BITMIME), QUIT. With PIPELINING
 * MAIL, every RCPT and DATA leave in one write. Each reply becomes the fate of the recipients
 * it concerns: 2xx sent, 4xx (and anything malformed) deferred, 5xx bounced, with the
 * reference's texts ("host H[A] said: ... (in reply to RCPT TO command)"). LMTP answers the
 * end of data once per accepted recipient. A verification (sendmail -bv) stops after RCPT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "config/cfparams.h"
#include "mail/agent.h"
#include "base/codec.h"
#include "mail/dsn.h"
#include "mail/mime8to7.h"
#include "smtp.h"

#define PENDING (-1) /* accepted by RCPT: decided after the data */

void fate(int outcome, const char *dsn, const char *text, int *o, pn_buf *d, pn_buf *t)
{
    *o = outcome;
    pn_buf_set(d, dsn);
    pn_buf_set(t, text);
}

static int outcome_of(int code)
{
    return code / 100 == 2   ? PN_DELIVER_SENT
           : code / 100 == 5 ? PN_DELIVER_BOUNCED
                             : PN_DELIVER_DEFERRED;
}

/* said: the server's reply as the reference reports it. */
static void said(const struct session *ss, const char *command, pn_buf *out)
{
    pn_buf_reset(out);
    pn_buf_printf(out, "host %s[%s] said: %s (in reply to %s command)", ss->host, ss->addr,
                  ss->reply.data, command);
}

static void send_content(struct session *ss, const pn_buf *content)
{
    const char *p = content->data, *end = content->data + content->len;
    pn_buf out = PN_BUF_INIT;
    long limit = pn_config_get_int(SMTP_PARAM(line_length_limit)); /* 0: none */
    pn_stream_set_timeout(ss->s, (int)(pn_config_get_time(SMTP_PARAM(data_xfer_timeout)) * 1000));
    int failed = 0;
    while (p < end && !failed) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 0 && p[0] == '.')
            pn_buf_putc(&out, '.');
        /* a line over the limit is broken, the rest continued after CR LF and a space */
        size_t at = 0;
        while (limit > 0 && n - at > (size_t)limit) {
            pn_buf_append(&out, p + at, (size_t)limit);
            pn_buf_puts(&out, "\r\n ");
            at += (size_t)limit;
        }
        pn_buf_append(&out, p + at, n - at);
        pn_buf_puts(&out, "\r\n");
        p += n + (nl != NULL);
        if (out.len > 65536) {
            failed = pn_stream_write(ss->s, out.data, out.len) < 0;
            pn_buf_reset(&out);
        }
    }
    pn_buf_puts(&out, ".\r\n");
    if (!failed && pn_stream_write(ss->s, out.data, out.len) == 0)
        pn_stream_flush(ss->s); /* a failure shows as a lost reply to the final dot */
    pn_buf_release(&out);
}

/* mail_command: "MAIL FROM:<s>" with the parameters this server understands. */
static void mail_command(const struct session *ss, const pn_delivreq *req, const pn_qfile *q,
                         pn_buf *out)
{
    pn_buf value = PN_BUF_INIT;
    pn_buf_printf(out, "MAIL FROM:<%s>", smtp_generic_addr(req->sender.data, &value));
    if (ss->features & FEATURE_SIZE)
        pn_buf_printf(out, " SIZE=%llu", (unsigned long long)q->content_len);
    const char *enc = pn_qfile_attr(q, "encoding", &value);
    if ((ss->features & FEATURE_8BITMIME) && enc && strcmp(enc, "8bit") == 0)
        pn_buf_puts(out, " BODY=8BITMIME");
    if (ss->features & FEATURE_DSN) {
        const char *ret = pn_qfile_attr(q, "ret", &value);
        if (ret && (strcmp(ret, "FULL") == 0 || strcmp(ret, "HDRS") == 0))
            pn_buf_printf(out, " RET=%s", ret);
        const char *envid = pn_qfile_attr(q, "envid", &value);
        if (envid && *envid) {
            pn_buf_puts(out, " ENVID=");
            pn_xtext_encode(envid, out);
        }
    }
    pn_buf_release(&value);
}

/* rcpt_command: "RCPT TO:<r>" with NOTIFY and ORCPT for a DSN server (the original recipient
 * when the client gave no ORCPT). */
static void rcpt_command(const struct session *ss, const pn_delivreq_rcpt *r, pn_buf *out)
{
    pn_buf mapped = PN_BUF_INIT;
    pn_buf_printf(out, "RCPT TO:<%s>", smtp_generic_addr(r->addr.data, &mapped));
    pn_buf_release(&mapped);
    if (!(ss->features & FEATURE_DSN))
        return;
    if (r->notify) {
        pn_buf n = PN_BUF_INIT;
        pn_dsn_notify_format(r->notify, &n);
        pn_buf_printf(out, " NOTIFY=%s", n.data);
        pn_buf_release(&n);
    }
    const char *orcpt = r->orcpt.len ? r->orcpt.data : NULL;
    const char *semi = orcpt ? strchr(orcpt, ';') : NULL;
    if (semi) {
        pn_buf_printf(out, " ORCPT=%.*s;", (int)(semi - orcpt), orcpt);
        pn_xtext_encode(semi + 1, out);
    } else if (r->orig.len) {
        pn_buf_puts(out, " ORCPT=rfc822;");
        pn_xtext_encode(r->orig.data, out);
    }
}

/* greeted_by_another: a server that answers EHLO with our own name is this mail system
 * (or pretends to be): the mail would loop. 0, or -1 with ss->loop set. */
static int greeted_by_another(struct session *ss, pn_buf *why)
{
    const char *me = pn_config_get_hostname(PN_P(myhostname));
    const char *name = ss->reply.len > 4 ? ss->reply.data + 4 : "";
    size_t n = strcspn(name, " ");
    if (n != strlen(me) || strncasecmp(name, me, n) != 0)
        return 0;
    pn_warn("host %s[%s] replied to HELO/EHLO with my own hostname %s", ss->host, ss->addr, me);
    ss->loop = 1;
    pn_buf_set(why, "loops back to myself");
    return -1;
}

/* hello: greeting and EHLO/LHLO (or HELO); 0, or -1 with why. */
static int hello(struct session *ss, pn_buf *why)
{
    if (read_reply(ss, proto->lmtp ? PN_P(lmtp_lhlo_timeout) : PN_P(smtp_helo_timeout)) < 0) {
        broken(ss, "receiving the initial server greeting", why);
        return -1;
    }
    if (ss->code / 100 != 2) {
        pn_buf_printf(why, "host %s[%s] refused to talk to me: %s", ss->host, ss->addr,
                      ss->reply.data);
        /* a 5xx greeting is final only when <prefix>_skip_5xx_greeting says not to skip */
        ss->refused = ss->code / 100 == 5 && !pn_config_get_bool(SMTP_PARAM(skip_5xx_greeting));
        return -1;
    }
    const char *name = pn_config_get(proto->lmtp ? PN_P(lmtp_lhlo_name) : PN_P(smtp_helo_name));
    const char *timeout = proto->lmtp ? PN_P(lmtp_lhlo_timeout) : PN_P(smtp_helo_timeout);
    ss->features = 0;
    ss->auth_mechs[0] = 0;
    if (command(ss, timeout, "%s %s", proto->hello, name) < 0) {
        broken(ss, proto->lmtp ? "performing the LHLO handshake" : "performing the EHLO handshake",
               why);
        return -1;
    }
    if (ss->code / 100 == 2)
        return greeted_by_another(ss, why);
    if (!proto->lmtp && ss->code / 100 == 5) {
        ss->features = 0;
        ss->auth_mechs[0] = 0;
        if (command(ss, timeout, "HELO %s", name) < 0) {
            broken(ss, "performing the HELO handshake", why);
            return -1;
        }
        if (ss->code / 100 == 2)
            return greeted_by_another(ss, why);
    }
    said(ss, proto->lmtp ? "LHLO" : proto->hello, why);
    return -1;
}

int transaction(struct session *ss, const pn_delivreq *req, const pn_qfile *q, const int *todo,
                int *outcomes, pn_buf *dsns, pn_buf *texts, pn_buf *why, int reused, int *keep)
{
    char status[16];
    pn_buf text = PN_BUF_INIT, content = PN_BUF_INIT, line = PN_BUF_INIT;
    int rc = -1, may_keep = *keep;
    *keep = 0;
    if ((!reused && (smtp_wrapper_tls(ss, req->nexthop.data, why) < 0 || hello(ss, why) < 0 ||
                     smtp_starttls(ss, req->nexthop.data, why) < 0 ||
                     smtp_authenticate(ss, req->nexthop.data, why) < 0)) ||
        pn_qfile_read_content(q, &content, why) < 0)
        goto out;
    smtp_checks_apply(req->queue_id.data, &content);
    smtp_generic_content(&content);
    if (!(ss->features & FEATURE_8BITMIME) &&
        !pn_config_get_bool(PN_P(disable_mime_output_conversion))) {
        /* RFC 6152: 8-bit content goes to a server without 8BITMIME as quoted-printable */
        pn_buf seven = PN_BUF_INIT;
        if (pn_mime_downgrade(content.data, content.len, pn_config_get_hostname(PN_P(myhostname)),
                              &seven) == 1) {
            pn_buf tmp = content;
            content = seven;
            seven = tmp;
        }
        pn_buf_release(&seven);
    }
    int verify = (req->flags & PN_DELIVREQ_VERIFY) != 0; /* sendmail -bv: RCPT, no DATA */
    int pipelined = (ss->features & FEATURE_PIPELINING) && !verify; /* a probe goes step by step */
    mail_command(ss, req, q, &line);
    int ok = command(ss, pipelined ? NULL : SMTP_PARAM(mail_timeout), "%s", line.data);
    for (size_t i = 0; pipelined && ok == 0 && i < req->rcpt_count; i++) {
        if (!todo[i])
            continue;
        pn_buf_reset(&line);
        rcpt_command(ss, &req->rcpts[i], &line);
        ok = command(ss, NULL, "%s", line.data);
    }
    if (pipelined && ok == 0)
        ok = command(ss, NULL, "DATA");
    if (pipelined && ok == 0)
        ok = pn_stream_flush(ss->s) < 0 ? -1 : read_reply(ss, SMTP_PARAM(mail_timeout));
    if (ok < 0) {
        broken(ss, "sending MAIL FROM", why);
        goto out;
    }
    rc = 0;
    if (ss->code / 100 != 2) {
        status_of(ss, status, sizeof(status));
        said(ss, "MAIL FROM", &text);
        for (size_t i = 0; i < req->rcpt_count; i++)
            if (todo[i])
                fate(outcome_of(ss->code), status, text.data, &outcomes[i], &dsns[i], &texts[i]);
        goto quit;
    }
    int accepted = 0;
    for (size_t i = 0; i < req->rcpt_count; i++) {
        if (!todo[i])
            continue;
        pn_buf_reset(&line);
        rcpt_command(ss, &req->rcpts[i], &line);
        if ((pipelined ? read_reply(ss, SMTP_PARAM(rcpt_timeout))
                       : command(ss, SMTP_PARAM(rcpt_timeout), "%s", line.data)) < 0) {
            broken(ss, "sending RCPT TO", why);
            rc = -1;
            goto out;
        }
        if (ss->code / 100 == 2 && verify) {
            status_of(ss, status, sizeof(status));
            said(ss, "RCPT TO", &text);
            fate(PN_DELIVER_SENT, status, text.data, &outcomes[i], &dsns[i], &texts[i]);
            continue;
        }
        if (ss->code / 100 == 2) {
            outcomes[i] = PENDING;
            accepted++;
            continue;
        }
        status_of(ss, status, sizeof(status));
        said(ss, "RCPT TO", &text);
        fate(outcome_of(ss->code), status, text.data, &outcomes[i], &dsns[i], &texts[i]);
    }
    if (accepted == 0) {
        /* the pipelined DATA is answered too; a server that says 354 anyway gets "." */
        if (pipelined && read_reply(ss, SMTP_PARAM(data_init_timeout)) == 0 && ss->code == 354)
            command(ss, SMTP_PARAM(data_done_timeout), ".");
        goto quit;
    }
    pn_buf_reset(&text);
    int data_ok = (pipelined ? read_reply(ss, SMTP_PARAM(data_init_timeout))
                             : command(ss, SMTP_PARAM(data_init_timeout), "DATA")) == 0;
    int lost = !data_ok;
    if (lost) {
        broken(ss, "sending DATA command", &text);
    } else if (ss->code != 354) {
        said(ss, "DATA", &text);
        data_ok = 0;
    }
    if (data_ok)
        send_content(ss, &content);
    /* LMTP: one reply per accepted recipient, in RCPT order; SMTP: one for all */
    for (size_t i = 0; i < req->rcpt_count; i++) {
        if (!todo[i] || outcomes[i] != PENDING)
            continue;
        if (data_ok && read_reply(ss, SMTP_PARAM(data_done_timeout)) < 0) {
            pn_buf_reset(&text);
            broken(ss, "sending end of data -- message may be sent more than once", &text);
            data_ok = 0;
            lost = 1;
            ss->code = 0;
        } else if (data_ok && ss->code / 100 == 2) {
            pn_buf_set(&text, ss->reply.data);
        } else if (data_ok) {
            said(ss, "end of DATA", &text);
        }
        if (data_ok || ss->code / 100 == 4 || ss->code / 100 == 5)
            status_of(ss, status, sizeof(status));
        else
            snprintf(status, sizeof(status), "4.4.2");
        int outcome = outcome_of(ss->code);
        if (outcome == PN_DELIVER_SENT) /* who reports success from here on */
            outcome |= ss->features & FEATURE_DSN ? PN_DELIVER_DSN_PASSED
                       : proto->lmtp              ? 0
                                                  : PN_DELIVER_RELAYED;
        fate(outcome, status, text.data, &outcomes[i], &dsns[i], &texts[i]);
        if (!proto->lmtp) { /* the one reply decides every accepted recipient */
            for (size_t j = i + 1; j < req->rcpt_count; j++)
                if (todo[j] && outcomes[j] == PENDING)
                    fate(outcome, status, text.data, &outcomes[j], &dsns[j], &texts[j]);
            break;
        }
    }
    if (lost)
        goto out; /* the connection is in an unknown state: no QUIT */
    if (may_keep) {
        *keep = 1; /* ready for the next transaction */
        goto out;
    }
quit:
    command(ss, SMTP_PARAM(quit_timeout), "QUIT");
out:
    pn_buf_release(&text);
    pn_buf_release(&content);
    pn_buf_release(&line);
    return rc;
}
