/* chat.c: the conversation primitives of the smtp/lmtp client: commands out, replies in.
 * A reply is read whole (continuation lines joined), within a timeout; lines longer than the
 * client keeps are cut and the rest skipped, a line that does not start with three digits
 * ends the reply with code 0 (a protocol error the caller defers on). Every loop is bounded,
 * so a server that sends endless lines, or never ends a line, costs at most the timeout. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "config/cfparams.h"
#include "smtp.h"

#define LINE_KEEP 2048   /* bytes of one reply line that are kept */
#define REPLY_KEEP 4096  /* bytes of a joined reply that are kept */
#define REPLY_LINES 1000 /* lines in one reply */
#define SKIP_CHUNKS 1024 /* LINE_KEEP-sized chunks skipped in one over-long line */

static void note_feature(struct session *ss, const char *kw)
{
    static const struct {
        const char *name;
        int bit;
    } table[] = {{"SIZE", FEATURE_SIZE},
                 {"PIPELINING", FEATURE_PIPELINING},
                 {"8BITMIME", FEATURE_8BITMIME},
                 {"DSN", FEATURE_DSN},
                 {"STARTTLS", FEATURE_STARTTLS}};
    size_t n = strcspn(kw, " =");
    if (n == 4 && strncasecmp(kw, "AUTH", 4) == 0 && kw[4]) { /* "AUTH X Y" or "AUTH=X Y" */
        size_t have = strlen(ss->auth_mechs);
        snprintf(ss->auth_mechs + have, sizeof(ss->auth_mechs) - have, "%s%s", have ? " " : "",
                 kw + 5);
        ss->features |= FEATURE_AUTH;
        return;
    }
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strlen(table[i].name) == n && strncasecmp(kw, table[i].name, n) == 0 &&
            !pn_config_list_has(proto->lmtp ? PN_P(lmtp_discard_lhlo_keywords)
                                            : PN_P(smtp_discard_ehlo_keywords),
                                table[i].name)) /* a workaround for servers that lie */
            ss->features |= table[i].bit;
}

/* get_line: one line, cut at LINE_KEEP with the rest read and dropped; the PN_LINE_* code. */
static int get_line(pn_stream *s, pn_buf *line)
{
    int rc = pn_stream_get_line(s, line, LINE_KEEP);
    if (rc != PN_LINE_TOO_LONG)
        return rc;
    pn_buf rest = PN_BUF_INIT;
    for (int i = 0; i < SKIP_CHUNKS && rc == PN_LINE_TOO_LONG; i++)
        rc = pn_stream_get_line(s, &rest, LINE_KEEP);
    pn_buf_release(&rest);
    if (rc == PN_LINE_TOO_LONG) { /* megabytes without a line end: give up on the server */
        errno = EPROTO;
        return PN_LINE_ERROR;
    }
    return rc == PN_LINE_OK || rc == PN_LINE_LAST ? PN_LINE_OK : rc;
}

int read_reply(struct session *ss, const char *timeout)
{
    pn_buf line = PN_BUF_INIT;
    pn_stream_set_timeout(ss->s, (int)(pn_config_get_time(timeout) * 1000));
    pn_buf_reset(&ss->reply);
    ss->code = 0;
    ss->timed_out = 0;
    int rc = -1;
    for (int lines = 0; lines < REPLY_LINES; lines++) {
        errno = 0;
        int got = get_line(ss->s, &line);
        if (got != PN_LINE_OK && got != PN_LINE_LAST) {
            ss->timed_out = got == PN_LINE_ERROR && errno == ETIMEDOUT;
            break;
        }
        if (line.len && line.data[line.len - 1] == '\r')
            pn_buf_truncate(&line, line.len - 1);
        /* the server's text goes into logs, queue files, bounces and mailq: no control
         * character of its (a CR, an ESC, a NUL) gets that far */
        pn_log_sanitize(line.data, line.len);
        int digits = line.len >= 3 && isdigit((unsigned char)line.data[0]) &&
                     isdigit((unsigned char)line.data[1]) && isdigit((unsigned char)line.data[2]);
        if (ss->reply.len < REPLY_KEEP) {
            if (ss->reply.len)
                pn_buf_putc(&ss->reply, ' ');
            pn_buf_append(&ss->reply, line.data,
                          line.len < REPLY_KEEP - ss->reply.len ? line.len
                                                                : REPLY_KEEP - ss->reply.len);
        }
        if (digits && lines > 0 && line.len > 4)
            note_feature(ss, line.data + 4);
        if (!digits || line.len == 3 || line.data[3] != '-') {
            ss->code = digits ? atoi(line.data) : 0;
            rc = 0;
            break;
        }
    }
    pn_buf_release(&line);
    return rc;
}

int command(struct session *ss, const char *timeout, const char *fmt, ...)
{
    pn_buf text = PN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    pn_buf_vprintf(&text, fmt, ap);
    va_end(ap);
    pn_buf_puts(&text, "\r\n");
    if (timeout)
        pn_stream_set_timeout(ss->s, (int)(pn_config_get_time(timeout) * 1000));
    int rc = pn_stream_write(ss->s, text.data, text.len);
    pn_buf_release(&text);
    if (rc < 0 || timeout == NULL)
        return rc < 0 ? -1 : 0;
    if (pn_stream_flush(ss->s) < 0) {
        ss->timed_out = errno == ETIMEDOUT;
        pn_buf_reset(&ss->reply);
        return -1;
    }
    return read_reply(ss, timeout);
}

void broken(const struct session *ss, const char *stage, pn_buf *out)
{
    pn_buf_printf(out, "%s %s[%s] %s %s",
                  ss->timed_out ? "conversation with" : "lost connection with", ss->host, ss->addr,
                  ss->timed_out ? "timed out while" : "while", stage);
}

void status_of(const struct session *ss, char *out, size_t len)
{
    const char *text = ss->reply.len > 4 ? ss->reply.data + 4 : ""; /* "250" alone is legal */
    size_t n = strspn(text, "0123456789.");
    int cls = ss->code / 100;
    if (n >= 5 && n < len && text[0] == '0' + cls && (cls == 2 || cls == 4 || cls == 5))
        snprintf(out, len, "%.*s", (int)n, text);
    else if (cls == 2 || cls == 5)
        snprintf(out, len, "%d.0.0", cls);
    else
        snprintf(out, len, "4.%d.0", ss->code == 0 ? 5 : 0); /* malformed: a protocol error */
}
