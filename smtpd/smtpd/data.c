/* data.c: DATA and BDAT. Only <CR><LF>.<CR><LF> ends DATA unless smtpd_forbid_bare_newline
 * says "no" (doc/decisions.md, D1); dot-stuffing is removed, CR LF becomes LF, long lines are kept
 * whole (read in pieces), and a message over message_size_limit is read to its end and then
 * refused. The Received header goes first; the reply comes only after cleanup has the file
 * on disk. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "config/cfparams.h"
#include "mail/dsn.h"
#include "smtpd.h"

/* prepended_headers: what PREPEND actions of the restrictions gave, first, in their order. */
static void prepended_headers(const smtpd_session *s, pn_buf *out)
{
    for (size_t i = 0; i < s->prepend->len; i++)
        pn_buf_printf(out, "%s\n", s->prepend->items[i]);
}

static void received_header(smtpd_session *s, pn_buf *out)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm);
    int v6 = strchr(s->addr.data, ':') != NULL;
    pn_buf_printf(out, "Received: from %s (%s [%s%s])\n", s->helo.len ? s->helo.data : s->name.data,
                  s->name.data, v6 ? "IPv6:" : "", s->addr.data);
    if (s->tls && pn_config_get_bool(PN_P(smtpd_tls_received_header))) {
        pn_buf_puts(out, "\t(using ");
        pn_tls_describe(s->tls, 1, out);
        pn_buf_puts(out, ")\n");
        if (s->ccert)
            pn_buf_printf(out, "\t(Client CN \"%s\", Issuer \"%s\" (%s))\n", s->ccert_cn.data,
                          s->ccert_issuer.data, s->ccert == 2 ? "verified OK" : "not verified");
        else if (pn_config_get_bool(PN_P(smtpd_tls_ask_ccert)) ||
                 pn_config_get_bool(PN_P(smtpd_tls_req_ccert)))
            pn_buf_puts(out, "\t(Client did not present a certificate)\n");
        else
            pn_buf_puts(out, "\t(No client certificate requested)\n");
    }
    if (s->sasl_username.len && pn_config_get_bool(PN_P(smtpd_sasl_authenticated_header)))
        pn_buf_printf(out, "\t(Authenticated sender: %s)\n", s->sasl_username.data);
    pn_buf_printf(out, "\tby %s (%s) with %s id %s", pn_config_get_hostname(PN_P(myhostname)),
                  pn_config_get(PN_P(mail_name)), smtpd_received_proto(s), s->queue_id.data);
    if (s->rcpts->len == 1)
        pn_buf_printf(out, "\n\tfor <%s>; %s\n", s->rcpts->items[0], date);
    else
        pn_buf_printf(out, ";\n\t%s\n", date);
}

/* refused: a restriction list's refusal (DATA, END-OF-MESSAGE), replied (the check logged
 * it); 1 when refused. */
static int refused(smtpd_session *s, int (*check)(smtpd_session *, pn_buf *))
{
    pn_buf reply = PN_BUF_INIT;
    int rc = check(s, &reply) < 0;
    if (rc) { /* logged by the check */
        s->error_classes |= 1 << ERROR_POLICY;
        smtpd_reply(s, "%s", reply.data);
    }
    pn_buf_release(&reply);
    return rc;
}

/* finish: hand the collected message to cleanup and answer the client. */
static void finish(smtpd_session *s, pn_buf *msg, int too_big, int cmd)
{
    int status = 0;
    pn_buf reason = PN_BUF_INIT;
    const char *host = pn_config_get_hostname(PN_P(myhostname));
    if (!too_big && refused(s, smtpd_check_eod)) {
        submit_abort(s);
    } else if (submit_content(s, msg, too_big, &status, &reason) < 0) {
        pn_warn("%s: cleanup: %s", s->queue_id.data, pn_buf_str(&reason));
        smtpd_reply(s, "451 4.3.0 Error: queue file write error");
    } else if (too_big || (status & 0x04)) {
        smtpd_reply(s, "552 5.3.4 Error: message file too big");
    } else if (status & 0x01) {
        smtpd_reply(s, "451 4.3.0 Error: internal protocol error");
    } else if (status & 0x02) {
        smtpd_reply(s, "451 4.3.0 Error: queue file write error");
    } else if (status & 0x08) {
        /* header and body checks give their own enhanced code */
        pn_buf line = PN_BUF_INIT;
        pn_buf_printf(&line, "550 %s%s", pn_dsn_status_len(pn_buf_str(&reason)) ? "" : "5.7.1 ",
                      pn_buf_str(&reason));
        smtpd_soften(&line);
        smtpd_reply(s, "%s", line.data);
        pn_buf_release(&line);
    } else if (status & 0x10) {
        smtpd_reply(s, "554 5.4.0 Error: too many hops");
    } else if (status & 0x20) {
        smtpd_reply(s, "550 5.1.0 %s", pn_buf_str(&reason));
    } else if (status & 0x40) {
        if (pn_dsn_status_len(pn_buf_str(&reason)) && reason.data[0] == '4')
            smtpd_reply(s, "451 %s", reason.data);
        else
            smtpd_reply(s, "451 4.7.1 %s", pn_buf_str(&reason));
    } else if (status != 0) {
        smtpd_reply(s, "451 4.3.0 Error: internal protocol error");
    } else {
        smtpd_reply(s, "250 2.0.0 Ok: queued as %s", s->queue_id.data);
        s->counts[cmd][0]++;
    }
    (void)host;
    pn_buf_reset(&s->queue_id); /* finished: nothing to abort */
    smtpd_reset_transaction(s);
    pn_buf_release(&reason);
}

static int transaction_ready(smtpd_session *s)
{
    if (!s->in_mail) {
        smtpd_reply(s, "503 5.5.1 Error: need RCPT command");
        return 0;
    }
    if (s->rcpts->len == 0) {
        smtpd_reply(s, "554 5.5.1 Error: no valid recipients");
        return 0;
    }
    return 1;
}

void smtpd_cmd_data(smtpd_session *s)
{
    if (!transaction_ready(s) || refused(s, smtpd_check_data))
        return;
    smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    const char *mode = pn_config_get(PN_P(smtpd_forbid_bare_newline));
    int strict = strcasecmp(mode, "no") != 0 && strcasecmp(mode, "note") != 0;
    int reject_bare = strcasecmp(mode, "reject") == 0;
    long limit = pn_config_get_int(PN_P(message_size_limit));
    size_t piece = (size_t)pn_config_get_int(PN_P(line_length_limit));
    pn_buf msg = PN_BUF_INIT, line = PN_BUF_INIT;
    pn_buf_init(&msg);
    prepended_headers(s, &msg);
    received_header(s, &msg);
    int prev_crlf = 1, too_big = 0, bare_lf = 0, in_line = 0;
    for (;;) {
        int rc = pn_stream_get_line(s->client, &line, piece);
        if (rc == PN_LINE_ERROR || rc == PN_LINE_EOF || rc == PN_LINE_LAST) {
            pn_info("%s after DATA from %s", rc == PN_LINE_ERROR ? "timeout" : "lost connection",
                    s->namaddr.data);
            if (rc == PN_LINE_ERROR)
                smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
                            pn_config_get_hostname(PN_P(myhostname)));
            s->quit = 1;
            pn_buf_release(&msg);
            pn_buf_release(&line);
            return; /* the transaction is aborted by the caller's reset */
        }
        const char *text = line.data;
        size_t len = line.len;
        if (rc == PN_LINE_TOO_LONG) {
            /* part of a long line: keep it, the rest follows */
            if (!too_big && (limit <= 0 || msg.len + len <= (size_t)limit))
                pn_buf_append(&msg, text, len);
            else
                too_big = 1;
            in_line = 1;
            continue;
        }
        int crlf = len > 0 && text[len - 1] == '\r';
        if (crlf)
            len--;
        else
            bare_lf = 1;
        if (!in_line && len == 1 && text[0] == '.' && (!strict || (crlf && prev_crlf)))
            break;
        if (!in_line && len > 0 && text[0] == '.') {
            text++;
            len--;
        }
        in_line = 0;
        prev_crlf = crlf;
        if (too_big || (limit > 0 && msg.len + len + 1 > (size_t)limit)) {
            too_big = 1;
            continue;
        }
        pn_buf_append(&msg, text, len);
        pn_buf_putc(&msg, '\n');
    }
    if (bare_lf && reject_bare) {
        submit_abort(s);
        smtpd_reset_transaction(s);
        smtpd_reply(s, "%ld 5.5.2 %s Error: bare <LF> received",
                    pn_config_get_int(PN_P(smtpd_forbid_bare_newline_reject_code)),
                    pn_config_get_hostname(PN_P(myhostname)));
        s->quit = 1;
    } else {
        if (bare_lf && strcasecmp(mode, "note") == 0)
            pn_info("bare <LF> received from %s", s->namaddr.data);
        finish(s, &msg, too_big, CMD_DATA);
    }
    pn_buf_release(&msg);
    pn_buf_release(&line);
}

void smtpd_cmd_bdat(smtpd_session *s, const char *args)
{
    /* digits only, no sign, no blank before them, and a count that fits: anything else and
     * the chunk's end is unknown, so the stream cannot be followed: 521 and the end */
    char *end = (char *)args;
    long size = -1;
    if (isdigit((unsigned char)*args)) {
        errno = 0;
        size = strtol(args, &end, 10);
        if (errno == ERANGE)
            size = -1;
    }
    while (*end == ' ')
        end++;
    int last = strcasecmp(end, "LAST") == 0;
    if (size < 0 || (*end && !last)) {
        smtpd_reply(s, "521 5.5.4 Syntax: BDAT count [LAST]");
        s->quit = 1;
        return;
    }
    long limit = pn_config_get_int(PN_P(message_size_limit));
    int ok = s->bdat_failed == 0 &&
             (s->bdat_active || (transaction_ready(s) && !refused(s, smtpd_check_data)));
    if (!ok)
        s->bdat_failed = 1;
    if (!s->bdat_active && ok) {
        prepended_headers(s, &s->bdat);
        received_header(s, &s->bdat);
        s->bdat_active = 1;
    }
    /* what is kept: twice the size limit (CR LF pairs shrink), the rest is read and dropped */
    size_t cap = limit <= 0 ? SIZE_MAX : (size_t)limit > SIZE_MAX / 2 ? SIZE_MAX : (size_t)limit * 2;
    char chunk[65536];
    long left = size;
    while (left > 0) {
        ssize_t n = pn_stream_read(
            s->client, chunk, (size_t)(left < (long)sizeof(chunk) ? left : (long)sizeof(chunk)));
        if (n <= 0) {
            s->quit = 1;
            return;
        }
        if (ok && (limit <= 0 || s->bdat.len + (size_t)n <= cap))
            pn_buf_append(&s->bdat, chunk, (size_t)n);
        left -= n;
    }
    if (!ok) {
        if (last)
            smtpd_reset_transaction(s);
        return; /* transaction_ready replied, or an earlier chunk failed */
    }
    if (!last) {
        smtpd_reply(s, "250 2.0.0 Ok: %ld bytes", size);
        return;
    }
    /* CR LF -> LF; what is left of stray CRs cleanup replaces. */
    pn_buf msg = PN_BUF_INIT;
    pn_buf_init(&msg);
    for (size_t i = 0; i < s->bdat.len; i++) {
        if (s->bdat.data[i] == '\r' && i + 1 < s->bdat.len && s->bdat.data[i + 1] == '\n')
            continue;
        pn_buf_putc(&msg, s->bdat.data[i]);
    }
    int too_big = limit > 0 && msg.len > (size_t)limit;
    finish(s, &msg, too_big, CMD_BDAT);
    pn_buf_release(&msg);
}
