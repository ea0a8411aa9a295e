/* main.c: postlogd, the one writer of maillog_file (doc/logging.md). Daemons and commands
 * send it datagrams "tag[pid]: text" on public/postlog. It reads what is waiting with
 * recvmmsg, turns each datagram into a line (time, host, text with control characters
 * replaced) and appends the batch with one write; it never fsyncs. A datagram that starts
 * with a NUL byte is a control message: "\0reopen" carries (SCM_RIGHTS) the new file that
 * postfix logrotate opened and a pipe whose closing tells it the old file is done with. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "config/cflog.h"
#include "config/cfparams.h"
#include "ipc/server.h"

#define BATCH 64
#define MAX_BATCHES 16 /* per wakeup: then the skeleton's retirement checks run */

static char data[BATCH][PN_LOG_DGRAM_MAX];
static char controls[BATCH][CMSG_SPACE(2 * sizeof(int))];
static char out[BATCH * (PN_LOG_DGRAM_MAX + 96)];
static char host_label[64]; /* the first label of myhostname, the lines' host field */

static void flush_out(size_t *used)
{
    size_t done = 0;
    while (done < *used) {
        ssize_t n = write(pn_log_file_fd(), out + done, *used - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk loses this batch; the next one tries again */
        done += (size_t)n;
    }
    *used = 0;
}

/* same_file: fd is the file maillog_file names now (logrotate's, not anybody's). */
static int same_file(int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
           stat(pn_config_get(PN_P(maillog_file)), &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* control: a reopen request (text NULL: an ordinary line, whose descriptors, if a sender
 * attached any, are only closed). Descriptors received are taken or closed here. */
static void control(const char *text, size_t len, struct msghdr *hdr)
{
    int fds[2] = {-1, -1};
    int count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(hdr); c; c = CMSG_NXTHDR(hdr, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (count < 2)
                fds[count++] = fd;
            else
                close(fd);
        }
    }
    if (text == NULL) {
        /* nothing to do: an ordinary line never carries descriptors */
    } else if (len == 7 && memcmp(text, "\0reopen", 7) == 0 && fds[0] >= 0 && same_file(fds[0])) {
        pn_log_replace_file(fds[0]);
        fds[0] = -1;
    } else if (len > 1) {
        pn_warn("unknown control message from postlog client");
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]); /* the pipe: closing it tells logrotate the old file is done */
}

static void datagrams(int listener, void *ctx)
{
    (void)ctx;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    size_t used = 0;
    for (int batch = 0; batch < MAX_BATCHES; batch++) {
        memset(msgs, 0, sizeof(msgs));
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = data[i];
            iov[i].iov_len = sizeof(data[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = controls[i];
            msgs[i].msg_hdr.msg_controllen = sizeof(controls[i]);
        }
        int n = recvmmsg(listener, msgs, BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        char stamp[16];
        pn_log_stamp((long)time(NULL), stamp);
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len;
            if (len > 0 && data[i][0] == 0) {
                flush_out(&used); /* lines before a reopen belong in the old file */
                control(data[i], len, &msgs[i].msg_hdr);
                continue;
            }
            if (msgs[i].msg_hdr.msg_controllen > 0)
                control(NULL, 0, &msgs[i].msg_hdr); /* a sender's stray descriptors */
            if (len == 0)
                continue;
            used +=
                pn_log_file_line(out + used, sizeof(out) - used, stamp, host_label, data[i], len);
        }
        flush_out(&used);
        if (n < BATCH)
            break;
    }
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    pn_buf why = PN_BUF_INIT;
    if (pn_config_maillog_check(&why) < 0)
        pn_fatal("%s", why.data);
    pn_buf_release(&why);
    const char *path = pn_config_get(PN_P(maillog_file));
    if (*path == 0)
        pn_fatal("maillog_file is empty: postlogd has nothing to write");
    const char *host = pn_config_get(PN_P(myhostname));
    snprintf(host_label, sizeof(host_label), "%.*s", (int)strcspn(host, "."), host);
    /* the skeleton opened it as root, before the privilege drop: the file may be root's */
    if (pn_log_file_fd() < 0)
        pn_fatal("open %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
    static pn_server server = {.datagrams = datagrams,
                               .pre_jail = pre_jail,
                               .log_writer = 1,
                               .drain_on_term = 1,
                               .max_use = 0, /* a use is a wakeup: never a reason to retire */
                               .max_idle = -1,
                               .process_limit = 1};
    return pn_dgram_server_main(argc, argv, &server);
}
