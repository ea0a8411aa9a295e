/* pipecmd.c: pipe(8) delivery in a worker that already runs as the transport's user=. The
 * command is exec'ed directly (no shell: arguments never get a second interpretation), in its
 * own process group so that a time-out kills all of it. Output is kept up to 1 KiB for the
 * log and for an enhanced status code at its start. */
#include "mail/pipecmd.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/event.h"
#include "base/log.h"
#include "base/sock.h"
#include "config/cfparams.h"
#include "mail/dsn.h"
#include "mail/mailbox.h"
#include "mail/qfile.h"

static void prepare(const pn_pipe_job *job, const pn_buf *content, pn_buf *out)
{
    const char *f = job->flags;
    const char *eol = job->eol && *job->eol ? job->eol : "\n";
    pn_buf head = PN_BUF_INIT;
    pn_buf_init(&head);
    if (strchr(f, 'F')) {
        time_t now = time(NULL);
        char date[32];
        ctime_r(&now, date);
        date[strcspn(date, "\n")] = 0;
        pn_buf_printf(&head, "From %s  %s\n", *job->sender ? job->sender : "MAILER-DAEMON", date);
    }
    if (strchr(f, 'R'))
        pn_buf_printf(&head, "Return-Path: <%s>\n", job->sender);
    if (strchr(f, 'O') && job->orig)
        pn_buf_printf(&head, "X-Original-To: %s\n", job->orig);
    if (strchr(f, 'D') && job->recipient)
        pn_buf_printf(&head, "Delivered-To: %s\n", job->recipient);
    pn_buf_append(&head, content->data, content->len);
    if (strchr(f, 'B'))
        pn_buf_putc(&head, '\n');
    /* line by line: quoting and line ends */
    for (const char *p = head.data; p < head.data + head.len;) {
        const char *nl = memchr(p, '\n', (size_t)(head.data + head.len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(head.data + head.len - p);
        if (strchr(f, '.') && n > 0 && p[0] == '.')
            pn_buf_putc(out, '.');
        if (strchr(f, '>') && n >= 5 && strncmp(p, "From ", 5) == 0 &&
            !(strchr(f, 'F') && p == head.data))
            pn_buf_putc(out, '>');
        pn_buf_append(out, p, n);
        if (nl)
            pn_buf_puts(out, eol);
        p += n + (nl != NULL);
    }
    pn_buf_release(&head);
}

/* The sysexits.h codes: the enhanced status each maps to, and the text logged for it. */
static const struct {
    const char *dsn;
    const char *text;
} sysexits[] = {
    {"5.3.0", "command line usage error"},      /* 64 EX_USAGE */
    {"5.6.0", "data format error"},             /* 65 EX_DATAERR */
    {"5.3.0", "cannot open input"},             /* 66 EX_NOINPUT */
    {"5.1.1", "user unknown"},                  /* 67 EX_NOUSER */
    {"5.1.2", "host name unknown"},             /* 68 EX_NOHOST */
    {"5.3.0", "service unavailable"},           /* 69 EX_UNAVAILABLE */
    {"5.3.0", "internal software error"},       /* 70 EX_SOFTWARE */
    {"4.3.0", "system resource problem"},       /* 71 EX_OSERR */
    {"5.3.0", "critical OS file missing"},      /* 72 EX_OSFILE */
    {"5.2.0", "can't create user output file"}, /* 73 EX_CANTCREAT */
    {"5.3.0", "input/output error"},            /* 74 EX_IOERR */
    {"4.3.0", "temporary failure"},             /* 75 EX_TEMPFAIL */
    {"5.5.0", "remote error in protocol"},      /* 76 EX_PROTOCOL */
    {"5.7.0", "permission denied"},             /* 77 EX_NOPERM */
    {"5.3.5", "local configuration error"},     /* 78 EX_CONFIG */
};

/* reset_environment: in the child: PATH, the export_environment names, then the job's. */
static void reset_environment(const pn_argv *env)
{
    pn_argv *names = pn_argv_split(pn_config_get(PN_P(export_environment)), " \t\n,");
    pn_argv *keep = pn_argv_new();
    for (size_t i = 0; i < names->len; i++) {
        const char *value = getenv(names->items[i]);
        if (value && strcmp(names->items[i], "PATH") != 0) {
            pn_argv_add(keep, names->items[i]);
            pn_argv_add(keep, value);
        }
    }
    clearenv();
    setenv("PATH", "/usr/bin:/bin", 1);
    for (size_t i = 0; i + 1 < keep->len; i += 2)
        setenv(keep->items[i], keep->items[i + 1], 1);
    for (size_t i = 0; env && i < env->len; i++)
        putenv(env->items[i]);
    pn_argv_free(names);
    pn_argv_free(keep);
}

static int leading_status(const char *text, pn_buf *dsn)
{
    size_t n = pn_dsn_status_len(text);
    if (n == 0 || text[0] == '2')
        return 0;
    pn_buf_reset(dsn);
    pn_buf_append(dsn, text, n);
    return 1;
}

int pn_pipe_run(int qfd, const pn_pipe_job *job, pn_buf *dsn, pn_buf *text)
{
    pn_qfile q;
    pn_buf content = PN_BUF_INIT, input = PN_BUF_INIT, why = PN_BUF_INIT, output = PN_BUF_INIT;
    int rc = MAILBOX_DEFER;
    pn_buf_set(dsn, "4.3.0");
    if (pn_qfile_open(&q, qfd, &why) < 0 || pn_qfile_read_content(&q, &content, &why) < 0) {
        pn_buf_set(text, why.data);
        goto out;
    }
    if (job->loop_check && job->recipient && pn_mailbox_has_loop(content.data, job->recipient)) {
        pn_buf_printf(text, "mail forwarding loop for %s", job->recipient);
        pn_buf_set(dsn, "5.4.6");
        rc = MAILBOX_BOUNCE;
        goto out;
    }
    prepare(job, &content, &input);
    int in[2], outp[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
        pn_buf_printf(text, "pipe: %s", strerror(errno));
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        pn_buf_printf(text, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(in[0], 0);
        dup2(outp[1], 1);
        dup2(outp[1], 2);
        if (job->directory && *job->directory && chdir(job->directory) < 0)
            _exit(75);
        signal(SIGPIPE, SIG_DFL);
        reset_environment(job->env);
        execvp(job->argv->items[0], job->argv->items);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    signal(SIGPIPE, SIG_IGN);
    pn_buf_init(&output);
    long long deadline = pn_event_now_ms() + job->time_limit * 1000;
    size_t written = 0;
    int out_open = 1, in_open = 1, timed_out = 0;
    pn_sock_nonblock(in[1], 1);
    while (out_open) {
        struct pollfd fds[2] = {{.fd = outp[0], .events = POLLIN},
                                {.fd = in_open ? in[1] : -1, .events = POLLOUT}};
        long long left = deadline - pn_event_now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        if (poll(fds, 2, (int)left) < 0 && errno != EINTR)
            break;
        if (fds[1].revents) {
            ssize_t n = write(in[1], input.data + written, input.len - written);
            if (n > 0)
                written += (size_t)n;
            if (n < 0 || written == input.len) {
                close(in[1]);
                in_open = 0;
            }
        }
        if (fds[0].revents) {
            char data[4096];
            ssize_t n = read(outp[0], data, sizeof(data));
            if (n <= 0)
                out_open = 0;
            else if (output.len < 1024)
                pn_buf_append(&output, data,
                              (size_t)n < 1024 - output.len ? (size_t)n : 1024 - output.len);
        }
    }
    if (in_open)
        close(in[1]);
    close(outp[0]);
    /* a command that closed its output may still run: it gets what is left of its time */
    int status = 0;
    pid_t done = 0;
    while (!timed_out) {
        done = waitpid(pid, &status, WNOHANG);
        if (done > 0 || (done < 0 && errno != EINTR))
            break;
        if (pn_event_now_ms() >= deadline) {
            timed_out = 1;
            break;
        }
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    if (timed_out) { /* the command and what it started, never the agent in its place */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    if (done <= 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    const char *label = job->label ? job->label : job->argv->items[0];
    char *msg = output.data;
    while (*msg && isspace((unsigned char)*msg))
        msg++;
    for (char *cp = msg; *cp; cp++)
        if (*cp == '\n' || *cp == '\r')
            *cp = ' ';
    pn_log_sanitize(msg, strlen(msg)); /* the reason reaches bounces and mailq */
    for (size_t n = strlen(msg); n > 0 && msg[n - 1] == ' ';)
        msg[--n] = 0;
    if (timed_out) {
        pn_buf_set(dsn, "5.3.0");
        pn_buf_printf(text, "command time limit exceeded: \"%s\"", label);
        rc = MAILBOX_BOUNCE;
    } else if (WIFSIGNALED(status)) {
        pn_buf_set(dsn, "4.3.0");
        pn_buf_printf(text, "Command died with signal %d: \"%s\"", WTERMSIG(status), label);
    } else if (WEXITSTATUS(status) == 0) {
        pn_buf_set(dsn, "2.0.0");
        rc = MAILBOX_SENT;
        pn_buf_set(text, msg);
    } else {
        int code = WEXITSTATUS(status);
        int known = code >= 64 && code <= 78;
        if (!leading_status(msg, dsn))
            pn_buf_set(dsn, known ? sysexits[code - 64].dsn : "5.3.0");
        rc = dsn->data[0] == '4' ? MAILBOX_DEFER : MAILBOX_BOUNCE;
        if (known)
            pn_buf_set(text, sysexits[code - 64].text);
        else
            pn_buf_printf(text, "Command died with status %d: \"%s\"", code, label);
        if (*msg)
            pn_buf_printf(text, ". Command output: %s", msg);
    }
out:
    pn_qfile_release(&q);
    pn_buf_release(&content);
    pn_buf_release(&input);
    pn_buf_release(&why);
    pn_buf_release(&output);
    return rc;
}
