/* post.c: one message from a local program, as a maildrop file handed to the setgid postdrop
 * command: the sender, the recipients (from the arguments, or with -t from To, Cc and Bcc),
 * the header without Bcc, the body, the DSN requests of -N, -R and -V, and the report that
 * -v or -bv asks for. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/log.h"
#include "mail/addr.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/qfile.h"
#include "sendmail.h"

/* header_addresses: the addresses in one header value ("A <a@x>, b@y"). */
void header_addresses(const char *value, pn_argv *out)
{
    pn_argv *parts = pn_argv_split(value, ",");
    for (size_t i = 0; i < parts->len; i++) {
        char *part = pn_trim(parts->items[i]);
        char *lt = strrchr(part, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (lt && gt) {
            *gt = 0;
            part = lt + 1;
        } else {
            char *paren = strchr(part, '(');
            if (paren)
                *paren = 0;
            part = pn_trim(part);
        }
        if (*part)
            pn_argv_add(out, part);
    }
    pn_argv_free(parts);
}

static int is_field(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static int run_postdrop(const pn_buf *file)
{
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/postdrop", pn_config_get(PN_P(command_directory)));
    int fds[2];
    if (pipe(fds) < 0)
        pn_fatal("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        execl(path.data, "postdrop", "-r", (char *)NULL);
        pn_fatal("exec %s: %s", path.data, strerror(errno));
    }
    close(fds[0]);
    size_t done = 0;
    while (done < file->len) {
        ssize_t w = write(fds[1], file->data + done, file->len - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    close(fds[1]);
    int status;
    waitpid(pid, &status, 0);
    pn_buf_release(&path);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 75; /* EX_TEMPFAIL */
}

/* split_header: the header without Bcc (and, with extract, its recipients into rcpts), and
 * the body. */
static void split_header(const pn_buf *msg, int extract, pn_argv *rcpts, pn_buf *headers,
                         pn_buf *body)
{
    const char *p = msg->data, *end = msg->data + msg->len;
    int in_bcc = 0, in_rcpt = 0;
    pn_buf value = PN_BUF_INIT;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n == 0) {
            p += 1;
            break;
        }
        int cont = p[0] == ' ' || p[0] == '\t';
        if (!cont) {
            if (in_rcpt && extract)
                header_addresses(value.data, rcpts);
            pn_buf_reset(&value);
            in_bcc = is_field(p, "Bcc");
            in_rcpt = is_field(p, "To") || is_field(p, "Cc") || in_bcc;
            const char *colon = memchr(p, ':', n);
            if (colon == NULL)
                break; /* not a header: the body starts here */
            pn_buf_append(&value, colon + 1, n - (size_t)(colon + 1 - p));
        } else {
            pn_buf_append(&value, p, n);
        }
        if (!in_bcc) {
            pn_buf_append(headers, p, n);
            pn_buf_putc(headers, '\n');
        }
        p += n + (nl != NULL);
    }
    if (in_rcpt && extract)
        header_addresses(value.data, rcpts);
    pn_buf_append(body, p, (size_t)(end - p));
    pn_buf_release(&value);
}

int post_message(const post_options *o, const char *sender, pn_argv *rcpts, const pn_buf *msg)
{
    pn_buf headers = PN_BUF_INIT, body = PN_BUF_INIT, field = PN_BUF_INIT;
    split_header(msg, o->extract, rcpts, &headers, &body);
    if (rcpts->len == 0) {
        pn_error("No recipient addresses found in message header");
        pn_buf_release(&headers);
        pn_buf_release(&body);
        return 65; /* EX_DATAERR */
    }
    int bad = pn_addr_has_control(sender, strlen(sender));
    for (size_t i = 0; i < rcpts->len && !bad; i++)
        bad = pn_addr_has_control(rcpts->items[i], strlen(rcpts->items[i]));
    if (bad) { /* CR LF in an address would be a new record, log line or SMTP command */
        pn_error("bad address syntax: control characters in an address");
        pn_buf_release(&headers);
        pn_buf_release(&body);
        return 65; /* EX_DATAERR */
    }
    struct timeval now;
    gettimeofday(&now, NULL);
    pn_qwriter w;
    pn_qw_init(&w, &now);
    if (o->ret)
        pn_qw_attr(&w, "ret", o->ret);
    if (o->envid)
        pn_qw_attr(&w, "envid", o->envid);
    if (o->trace)
        pn_qw_attr(&w, "trace_flags", o->trace);
    if (o->full_name && *o->full_name)
        pn_qw_attr(&w, "full_name", o->full_name);
    pn_qw_sender(&w, sender);
    for (size_t i = 0; i < rcpts->len; i++)
        pn_qw_rcpt(&w, rcpts->items[i], rcpts->items[i], "", o->notify);
    pn_qw_content(&w);
    /* header fields as records: continuation lines stay with their field */
    const char *h = headers.data, *hend = headers.data + headers.len;
    while (h < hend) {
        const char *nl = memchr(h, '\n', (size_t)(hend - h));
        size_t n = (size_t)(nl - h);
        if ((h[0] == ' ' || h[0] == '\t') && field.len) {
            pn_buf_putc(&field, '\n');
        } else if (field.len) {
            pn_qw_header(&w, field.data, field.len);
            pn_buf_reset(&field);
        }
        pn_buf_append(&field, h, n);
        h = nl + 1;
    }
    if (field.len)
        pn_qw_header(&w, field.data, field.len);
    pn_qw_body(&w, body.data, body.len);
    pn_qw_finish(&w);
    int rc = run_postdrop(&w.file);
    pn_qw_release(&w);
    pn_buf_release(&headers);
    pn_buf_release(&body);
    pn_buf_release(&field);
    return rc;
}
