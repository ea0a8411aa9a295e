/* smtp_stdio.c: sendmail -bs, an SMTP server on standard input and output for programs that
 * submit that way. Each message is posted like any other (post.c), so it needs no more
 * privileges than sendmail has; relaying questions do not arise, as nothing is accepted
 * from the network. Lines are read with a length limit, and every reply is flushed. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "sendmail.h"

#define LINE_LIMIT 4096

static void reply(pn_stream *out, const char *text)
{
    pn_stream_write(out, text, strlen(text));
    pn_stream_write(out, "\r\n", 2);
    pn_stream_flush(out);
}

/* path_arg: the address of "FROM:<a> ..." / "TO:<a>"; 0, or -1 when malformed. */
static int path_arg(const char *arg, const char *keyword, pn_buf *addr)
{
    size_t k = strlen(keyword);
    if (strncasecmp(arg, keyword, k) != 0)
        return -1;
    arg += k;
    while (*arg == ' ')
        arg++;
    const char *end = *arg == '<' ? strchr(arg, '>') : NULL;
    if (end == NULL)
        return -1;
    pn_buf_reset(addr);
    pn_buf_append(addr, arg + 1, (size_t)(end - arg - 1));
    return 0;
}

/* read_data: the message up to the lone ".", dot-stuffing undone, LF line ends; -1 at end
 * of input. What goes past message_size_limit is read and dropped (*too_big is set). */
static int read_data(pn_stream *in, pn_buf *msg, int *too_big)
{
    long limit = pn_config_get_int(PN_P(message_size_limit));
    *too_big = 0;
    pn_buf line = PN_BUF_INIT;
    int rc = -1, continued = 0; /* continued: this piece goes on an over-long line */
    for (;;) {
        int got = pn_stream_get_line(in, &line, LINE_LIMIT);
        if (got != PN_LINE_OK && got != PN_LINE_TOO_LONG && got != PN_LINE_LAST)
            break;
        int whole = got != PN_LINE_TOO_LONG;
        if (whole && line.len && line.data[line.len - 1] == '\r')
            pn_buf_truncate(&line, line.len - 1);
        if (whole && !continued && line.len == 1 && line.data[0] == '.') {
            rc = 0;
            break;
        }
        size_t skip = !continued && line.len && line.data[0] == '.' ? 1 : 0;
        if (limit > 0 && msg->len + line.len > (size_t)limit)
            *too_big = 1;
        if (!*too_big) {
            pn_buf_append(msg, line.data + skip, line.len - skip);
            if (whole)
                pn_buf_putc(msg, '\n');
        }
        continued = !whole;
        if (got == PN_LINE_LAST)
            break;
    }
    pn_buf_release(&line);
    return rc;
}

int smtp_stdio(const post_options *o)
{
    pn_stream *in = pn_stream_fdopen(0), *out = pn_stream_fdopen(1);
    pn_buf line = PN_BUF_INIT, sender = PN_BUF_INIT, text = PN_BUF_INIT, msg = PN_BUF_INIT;
    pn_argv *rcpts = pn_argv_new();
    const char *host = pn_config_get_hostname(PN_P(myhostname));
    int in_mail = 0;
    pn_buf_printf(&text, "220 %s ESMTP %s", host, pn_config_get(PN_P(mail_name)));
    reply(out, text.data);
    for (int errors = 0; errors < 20;) {
        int got = pn_stream_get_line(in, &line, LINE_LIMIT);
        if (got == PN_LINE_TOO_LONG) {
            while (got == PN_LINE_TOO_LONG)
                got = pn_stream_get_line(in, &line, LINE_LIMIT);
            reply(out, "500 5.5.0 Error: line too long");
            errors++;
            continue;
        }
        if (got != PN_LINE_OK && got != PN_LINE_LAST)
            break;
        if (line.len && line.data[line.len - 1] == '\r')
            pn_buf_truncate(&line, line.len - 1);
        const char *arg = line.data + strcspn(line.data, " ");
        while (*arg == ' ')
            arg++;
        size_t verb = strcspn(line.data, " ");
#define IS(v) (verb == strlen(v) && strncasecmp(line.data, v, verb) == 0)
        pn_buf_reset(&text);
        if (IS("HELO") || IS("EHLO")) {
            pn_buf_printf(&text, IS("EHLO") ? "250-%s\r\n250-PIPELINING\r\n250 8BITMIME" : "250 %s",
                          host);
            reply(out, text.data);
        } else if (IS("MAIL")) {
            if (in_mail) {
                reply(out, "503 5.5.1 Error: nested MAIL command");
            } else if (path_arg(arg, "FROM:", &sender) < 0) {
                reply(out, "501 5.5.4 Syntax: MAIL FROM:<address>");
            } else {
                in_mail = 1;
                reply(out, "250 2.1.0 Ok");
            }
        } else if (IS("RCPT")) {
            if (!in_mail) {
                reply(out, "503 5.5.1 Error: need MAIL command");
            } else if (path_arg(arg, "TO:", &text) < 0 || text.len == 0) {
                reply(out, "501 5.5.4 Syntax: RCPT TO:<address>");
            } else {
                pn_argv_add(rcpts, text.data);
                reply(out, "250 2.1.5 Ok");
            }
        } else if (IS("DATA")) {
            if (rcpts->len == 0) {
                reply(out, in_mail ? "554 5.5.1 Error: no valid recipients"
                                   : "503 5.5.1 Error: need RCPT command");
                continue;
            }
            reply(out, "354 End data with <CR><LF>.<CR><LF>");
            pn_buf_reset(&msg);
            int too_big;
            if (read_data(in, &msg, &too_big) < 0)
                break; /* the client went away: nothing was promised */
            post_options one = *o;
            one.extract = 0;
            if (too_big)
                reply(out, "552 5.3.4 Error: message file too big");
            else
                reply(out, post_message(&one, sender.data, rcpts, &msg) == 0
                               ? "250 2.0.0 Ok: queued"
                               : "451 4.3.0 Error: queue file write error");
            in_mail = 0;
            pn_argv_free(rcpts);
            rcpts = pn_argv_new();
        } else if (IS("RSET")) {
            in_mail = 0;
            pn_argv_free(rcpts);
            rcpts = pn_argv_new();
            reply(out, "250 2.0.0 Ok");
        } else if (IS("NOOP")) {
            reply(out, "250 2.0.0 Ok");
        } else if (IS("QUIT")) {
            reply(out, "221 2.0.0 Bye");
            break;
        } else {
            reply(out, "502 5.5.2 Error: command not recognized");
            errors++;
        }
#undef IS
    }
    pn_argv_free(rcpts);
    pn_buf_release(&line);
    pn_buf_release(&sender);
    pn_buf_release(&text);
    pn_buf_release(&msg);
    pn_stream_release(in);
    pn_stream_release(out);
    return 0;
}
