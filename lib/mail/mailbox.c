/* mailbox.c: final delivery, in a worker that already is the recipient (worker.c), so that
 * nothing runs as root while message bytes are handled: into a Maildir (tmp/, fsync, link
 * into new/) or an mbox file (exclusive lock, "From " quoting, truncated back on any error).
 * Commands are run by pipecmd.c. The content checksum is verified before the message becomes
 * visible. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "mail/mailbox.h"
#include "mail/mboxlock.h"

static int make_dirs(const char *path)
{
    char *copy = strdup(path);
    for (char *cp = copy + 1; *cp; cp++) {
        if (*cp != '/')
            continue;
        *cp = 0;
        if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
            free(copy);
            return -1;
        }
        *cp = '/';
    }
    int rc = mkdir(copy, 0700) < 0 && errno != EEXIST ? -1 : 0;
    free(copy);
    return rc;
}

int pn_mailbox_has_loop(const char *content, const char *recipient)
{
    size_t rlen = strlen(recipient);
    for (const char *line = content; *line && *line != '\n';) {
        if (strncasecmp(line, "Delivered-To:", 13) == 0) {
            const char *v = line + 13;
            while (*v == ' ' || *v == '\t')
                v++;
            if (strncasecmp(v, recipient, rlen) == 0 && (v[rlen] == '\n' || v[rlen] == 0))
                return 1;
        }
        const char *nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return 0;
}

static int maildir(const char *dir, const pn_buf *msg, pn_buf *text)
{
    static unsigned long count;
    pn_buf sub = PN_BUF_INIT, tmp = PN_BUF_INIT, fresh = PN_BUF_INIT;
    int rc = MAILBOX_DEFER;
    const char *parts[] = {"tmp", "new", "cur"};
    for (int i = 0; i < 3; i++) {
        pn_buf_reset(&sub);
        pn_buf_printf(&sub, "%s%s", dir, parts[i]);
        if (make_dirs(sub.data) < 0) {
            pn_buf_printf(text, "create maildir file %s: %s", sub.data, strerror(errno));
            goto out;
        }
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    pn_buf name = PN_BUF_INIT;
    pn_buf_printf(&name, "%ld.P%dQ%luM%ld.%s", (long)tv.tv_sec, (int)getpid(), ++count,
                  (long)tv.tv_usec, pn_config_get_hostname(PN_P(myhostname)));
    pn_buf_printf(&tmp, "%stmp/%s", dir, name.data);
    pn_buf_printf(&fresh, "%snew/%s", dir, name.data);
    pn_buf_release(&name);
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        pn_buf_printf(text, "create maildir file %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    if (pn_write_all(fd, msg->data, msg->len) < 0 || fsync(fd) < 0 || close(fd) < 0) {
        pn_buf_printf(text, "write maildir file %s: %s", tmp.data, strerror(errno));
        unlink(tmp.data);
        goto out;
    }
    if (link(tmp.data, fresh.data) < 0) {
        pn_buf_printf(text, "link maildir file %s: %s", fresh.data, strerror(errno));
        unlink(tmp.data);
        goto out;
    }
    unlink(tmp.data);
    pn_buf_puts(text, "delivered to maildir");
    rc = MAILBOX_SENT;
out:
    pn_buf_release(&sub);
    pn_buf_release(&tmp);
    pn_buf_release(&fresh);
    return rc;
}

static int mbox(const char *path, const char *sender, const pn_buf *msg,
                const pn_mailbox_job *job, pn_buf *text)
{
    /* never through a link, never blocked by a FIFO put in the mailbox's place */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
        pn_buf_printf(text, "cannot open mailbox %s: %s", path,
                      errno == ELOOP ? "file is a symbolic link" : strerror(errno));
        return MAILBOX_DEFER;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) < 0) {
        pn_buf_printf(text, "cannot examine mailbox %s: %s", path, strerror(errno));
        close(fd);
        return MAILBOX_DEFER;
    }
    /* a character device is /dev/null (an alias that discards); anything else but a regular
     * file with one name is refused: a hard link would let mail be written into a file of the
     * user's choosing that someone else owns */
    int device = S_ISCHR(st.st_mode);
    if (!device && (!S_ISREG(st.st_mode) || st.st_nlink != 1)) {
        if (!S_ISREG(st.st_mode))
            pn_buf_printf(text, "cannot open mailbox %s: file is not a regular file", path);
        else
            pn_buf_printf(text, "cannot open mailbox %s: file has %ld hard links", path,
                          (long)st.st_nlink);
        close(fd);
        return MAILBOX_DEFER;
    }
    if (job->strict_owner && st.st_uid != getuid()) {
        pn_buf_printf(text, "destination %s is not owned by recipient", path);
        pn_warn("specify \"%s = no\" to ignore mailbox ownership mismatch",
                PN_P(strict_mailbox_ownership));
        close(fd);
        return MAILBOX_DEFER;
    }
    if (device) {
        close(fd);
        pn_buf_puts(text, "delivered to mailbox");
        return MAILBOX_SENT;
    }
    pn_mbox_lock lock;
    pn_buf why = PN_BUF_INIT;
    if (pn_mbox_lock_take(&lock, fd, path, job->lock ? job->lock : "fcntl, dotlock",
                          job->dotlock_may_fail, &why) < 0) {
        pn_buf_printf(text, "cannot lock mailbox %s: %s", path, why.data);
        pn_buf_release(&why);
        close(fd);
        return MAILBOX_DEFER;
    }
    pn_buf_release(&why);
    fstat(fd, &st); /* its size now that it is locked */
    pn_buf out = PN_BUF_INIT;
    time_t now = time(NULL);
    char date[32];
    ctime_r(&now, date);
    pn_buf_printf(&out, "From %s  %s", *sender ? sender : "MAILER-DAEMON", date);
    for (const char *line = msg->data; line < msg->data + msg->len;) {
        const char *nl = memchr(line, '\n', (size_t)(msg->data + msg->len - line));
        size_t n = nl ? (size_t)(nl - line) + 1 : (size_t)(msg->data + msg->len - line);
        if (strncmp(line, "From ", 5) == 0)
            pn_buf_putc(&out, '>');
        pn_buf_append(&out, line, n);
        line += n;
    }
    pn_buf_putc(&out, '\n');
    int rc = MAILBOX_SENT;
    if (job->limit > 0 && (long)st.st_size + (long)out.len > job->limit) {
        pn_buf_printf(text, "cannot update mailbox %s: file too large", path);
        rc = MAILBOX_BOUNCE;
    } else if (pn_write_all(fd, out.data, out.len) < 0 || fsync(fd) < 0) {
        pn_buf_printf(text, "write mailbox %s: %s", path, strerror(errno));
        if (ftruncate(fd, st.st_size) < 0)
            pn_buf_puts(text, " (and it could not be truncated back)");
        rc = MAILBOX_DEFER;
    } else {
        pn_buf_puts(text, "delivered to mailbox");
    }
    pn_mbox_lock_release(&lock);
    close(fd);
    pn_buf_release(&out);
    return rc;
}

int pn_mailbox_write(int qfd, const pn_mailbox_job *job, pn_buf *text, pn_buf *dsn)
{
    pn_qfile q;
    pn_buf content = PN_BUF_INIT, msg = PN_BUF_INIT, why = PN_BUF_INIT;
    int rc = MAILBOX_DEFER;
    const char *path = job->path;
    if (pn_qfile_open(&q, qfd, &why) < 0 || pn_qfile_read_content(&q, &content, &why) < 0) {
        pn_buf_set(text, why.data);
        goto out;
    }
    if (pn_mailbox_has_loop(content.data, job->recipient)) {
        pn_buf_printf(text, "mail forwarding loop for %s", job->recipient);
        pn_buf_set(dsn, "5.4.6");
        rc = MAILBOX_BOUNCE;
        goto out;
    }
    pn_buf_printf(&msg, "Return-Path: <%s>\n", job->sender);
    if (job->orig && *job->orig)
        pn_buf_printf(&msg, "X-Original-To: %s\n", job->orig);
    pn_buf_printf(&msg, "Delivered-To: %s\n", job->recipient);
    pn_buf_append(&msg, content.data, content.len);
    size_t len = strlen(path);
    if (len && path[len - 1] == '/') {
        if (job->limit > 0 && (long)msg.len > job->limit) {
            pn_buf_printf(text, "cannot write maildir file in %s: file too large", path);
            rc = MAILBOX_BOUNCE;
        } else {
            rc = maildir(path, &msg, text);
        }
    } else {
        rc = mbox(path, job->sender, &msg, job, text);
    }
    pn_buf_set(dsn, rc == MAILBOX_SENT ? "2.0.0" : rc == MAILBOX_DEFER ? "4.2.0" : "5.2.2");
out:
    pn_qfile_release(&q);
    pn_buf_release(&content);
    pn_buf_release(&msg);
    pn_buf_release(&why);
    return rc;
}
