/* main.c: sendmail, the Sendmail-compatible way in for local programs: it reads a message
 * from standard input, builds a queue file (sender, recipients from the arguments or, with
 * -t, from the headers; Bcc removed) and hands it to the setgid postdrop command. Called as
 * mailq it runs postqueue -p; as newaliases, postalias on $alias_database. Options Sendmail
 * knows and this one does not need are accepted and ignored. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
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
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/dsn.h"
#include "mail/qfile.h"

/* header_addresses: the addresses in one header value ("A <a@x>, b@y"). */
static void header_addresses(const char *value, pn_argv *out)
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

/* read_message: standard input with LF line ends; a lone "." ends it unless -i. */
static void read_message(int dot_ends, pn_buf *msg)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)n;
        if (line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if (dot_ends && len == 1 && line[0] == '.')
            break;
        pn_buf_append(msg, line, len);
        pn_buf_putc(msg, '\n');
    }
    free(line);
}

static int run_postdrop(const pn_buf *file)
{
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/postdrop", pn_config_get("command_directory"));
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

/* -q flushes the queue, -qRsite one destination, -qIid one message, all through
 * postqueue; -q<interval> asks for periodic runs, which qmgr already does. */
static void run_queue(const char *arg)
{
    if (isdigit((unsigned char)arg[0])) {
        pn_warn("-q%s: queue runs are periodic already (queue_run_delay); ignored", arg);
        exit(0);
    }
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/postqueue", pn_config_get("command_directory"));
    if (arg[0] == 'R' && arg[1])
        execl(path.data, "postqueue", "-s", arg + 1, (char *)NULL);
    else if (arg[0] == 'I' && arg[1])
        execl(path.data, "postqueue", "-i", arg + 1, (char *)NULL);
    else if (arg[0] == 0)
        execl(path.data, "postqueue", "-f", (char *)NULL);
    else
        pn_fatal("unsupported: -q%s", arg);
    pn_fatal("exec %s: %s", path.data, strerror(errno));
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    int extract = 0, dot_ends = 1, ch;
    const char *sender = NULL, *fullname = NULL, *queue_run = NULL, *ret = NULL, *envid = NULL;
    int notify = 0;
    pn_log_init("sendmail", PN_LOG_STDERR | PN_LOG_SYSLOG);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx")) != -1) {
        switch (ch) {
        case 'C': pn_config_set_directory(optarg); setenv("MAIL_CONFIG", optarg, 1); break;
        case 'F': fullname = optarg; break;
        case 'N':
            if ((notify = pn_dsn_notify_parse(optarg)) <= 0)
                pn_fatal("bad -N option value: %s", optarg);
            break;
        case 'R':
            if (strcasecmp(optarg, "full") != 0 && strcasecmp(optarg, "hdrs") != 0)
                pn_fatal("bad -R option value: %s", optarg);
            ret = strcasecmp(optarg, "full") == 0 ? "FULL" : "HDRS";
            break;
        case 'V':
            for (const char *c = optarg; *c; c++)
                if ((unsigned char)*c < 33 || (unsigned char)*c > 126)
                    pn_fatal("bad -V option value: %s", optarg);
            if (strlen(optarg) > 100)
                pn_fatal("-V option value is too long");
            envid = optarg;
            break;
        case 'f': case 'r': sender = optarg; break;
        case 'i': dot_ends = 0; break;
        case 'o':
            if (strcmp(optarg, "i") == 0)
                dot_ends = 0;
            break;
        case 't': extract = 1; break;
        case 'b':
            if (strcmp(optarg, "p") == 0)
                base = "mailq";
            else if (strcmp(optarg, "i") == 0)
                base = "newaliases";
            else if (strcmp(optarg, "m") != 0)
                pn_fatal("unsupported: -b%s", optarg);
            break;
        case 'I': base = "newaliases"; break;
        case 'q': queue_run = optarg ? optarg : ""; break;
        default: break; /* Sendmail options without meaning here */
        }
    }
    pn_buf err = PN_BUF_INIT;
    if (pn_config_read_main(&err) < 0)
        pn_fatal("%s", err.data);
    pn_config_set_process("sendmail", NULL);
    pn_log_set_tag(pn_config_get("syslog_name"), "sendmail");
    pn_log_set_file(pn_config_get("maillog_file"));
    if (strcmp(base, "mailq") == 0 || strcmp(base, "newaliases") == 0) {
        int mailq = strcmp(base, "mailq") == 0;
        pn_buf path = PN_BUF_INIT;
        pn_buf_printf(&path, "%s/%s", pn_config_get("command_directory"),
                      mailq ? "postqueue" : "postalias");
        if (mailq)
            execl(path.data, "postqueue", "-p", (char *)NULL);
        else
            execl(path.data, "newaliases", (char *)NULL);
        pn_fatal("exec %s: %s", path.data, strerror(errno));
    }

    if (queue_run)
        run_queue(queue_run);

    pn_buf msg = PN_BUF_INIT;
    pn_buf_init(&msg);
    read_message(dot_ends, &msg);
    pn_argv *rcpts = pn_argv_new();
    for (int i = optind; i < argc; i++)
        header_addresses(argv[i], rcpts);
    /* the header: -t recipients, Bcc removed */
    pn_buf headers = PN_BUF_INIT, body = PN_BUF_INIT;
    pn_buf_init(&headers);
    const char *p = msg.data, *end = msg.data + msg.len;
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
            pn_buf_append(&headers, p, n);
            pn_buf_putc(&headers, '\n');
        }
        p += n + (nl != NULL);
    }
    if (in_rcpt && extract)
        header_addresses(value.data, rcpts);
    pn_buf_append(&body, p, (size_t)(end - p));
    if (rcpts->len == 0)
        pn_fatal("No recipient addresses found in message header");

    struct passwd *pw = getpwuid(getuid());
    if (sender == NULL)
        sender = pw ? pw->pw_name : "unknown";
    (void)fullname;
    struct timeval now;
    gettimeofday(&now, NULL);
    pn_qwriter w;
    pn_qw_init(&w, &now);
    if (ret)
        pn_qw_attr(&w, "ret", ret);
    if (envid)
        pn_qw_attr(&w, "envid", envid);
    pn_qw_sender(&w, sender);
    for (size_t i = 0; i < rcpts->len; i++)
        pn_qw_rcpt(&w, rcpts->items[i], rcpts->items[i], "", notify);
    pn_qw_content(&w);
    /* header fields as records: continuation lines stay with their field */
    const char *h = headers.data, *hend = headers.data + headers.len;
    pn_buf field = PN_BUF_INIT;
    pn_buf_init(&field);
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
    if (rc != 0)
        pn_error("the message could not be posted; nothing was sent");
    pn_qw_release(&w);
    pn_argv_free(rcpts);
    pn_buf_release(&msg);
    pn_buf_release(&headers);
    pn_buf_release(&body);
    pn_buf_release(&value);
    pn_buf_release(&field);
    pn_buf_release(&err);
    return rc;
}
