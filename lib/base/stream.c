/* stream.c: buffered descriptor I/O. Reads fill a 64 KiB buffer and lines are cut out of it
 * with memchr, so a line costs no system call of its own; no line can grow past its limit.
 * A transport (TLS) may sit under the buffer: then every byte goes through it. */
#include "base/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mem.h"

#define STREAM_BUFSIZE 65536

struct pn_stream {
    int fd;
    int timeout_ms;
    char *rbuf;
    size_t rpos;
    size_t rlen;
    int eof;
    pn_buf wbuf;
    const pn_stream_io *io; /* NULL: the descriptor itself */
    void *io_ctx;
    int not_socket; /* send() said ENOTSOCK: writes wait with poll() first */
};

pn_stream *pn_stream_fdopen(int fd)
{
    pn_stream *s = pn_calloc(1, sizeof(*s));
    s->fd = fd;
    s->rbuf = pn_malloc(STREAM_BUFSIZE);
    pn_buf_init(&s->wbuf);
    return s;
}

pn_stream *pn_stream_open(const char *path, int flags, int mode)
{
    int fd = open(path, flags | O_CLOEXEC, mode);
    return fd < 0 ? NULL : pn_stream_fdopen(fd);
}

void pn_stream_release(pn_stream *s)
{
    if (s == NULL)
        return;
    free(s->rbuf);
    pn_buf_release(&s->wbuf);
    free(s);
}

int pn_stream_close(pn_stream *s)
{
    int rc = pn_stream_flush(s);
    if (close(s->fd) < 0)
        rc = -1;
    pn_stream_release(s);
    return rc;
}

int pn_stream_fd(const pn_stream *s)
{
    return s->fd;
}

void pn_stream_set_timeout(pn_stream *s, int timeout_ms)
{
    s->timeout_ms = timeout_ms;
}

static int wait_for(pn_stream *s, short events)
{
    if (s->timeout_ms <= 0)
        return 0;
    struct pollfd pfd = {.fd = s->fd, .events = events};
    for (;;) {
        int n = poll(&pfd, 1, s->timeout_ms);
        if (n > 0)
            return 0;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

static int fill(pn_stream *s)
{
    if (s->eof)
        return 0;
    if (s->rpos > 0 && s->rpos == s->rlen)
        s->rpos = s->rlen = 0;
    if (s->io) {
        ssize_t n =
            s->io->read(s->io_ctx, s->rbuf + s->rlen, STREAM_BUFSIZE - s->rlen, s->timeout_ms);
        if (n < 0)
            return -1;
        if (n == 0)
            s->eof = 1;
        s->rlen += (size_t)n;
        return (int)(n > 0);
    }
    if (wait_for(s, POLLIN) < 0)
        return -1;
    for (;;) {
        ssize_t n = read(s->fd, s->rbuf + s->rlen, STREAM_BUFSIZE - s->rlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            s->eof = 1;
        s->rlen += (size_t)n;
        return (int)(n > 0);
    }
}

int pn_stream_get_line(pn_stream *s, pn_buf *line, size_t limit)
{
    pn_buf_reset(line);
    for (;;) {
        if (s->rpos == s->rlen) {
            s->rpos = s->rlen = 0;
            int rc = fill(s);
            if (rc < 0)
                return PN_LINE_ERROR;
            if (rc == 0)
                return line->len ? PN_LINE_LAST : PN_LINE_EOF;
        }
        char *start = s->rbuf + s->rpos;
        size_t avail = s->rlen - s->rpos;
        size_t room = limit - line->len;
        size_t scan = avail < room ? avail : room;
        char *nl = memchr(start, '\n', scan);
        if (nl) {
            pn_buf_append(line, start, (size_t)(nl - start));
            s->rpos += (size_t)(nl - start) + 1;
            return PN_LINE_OK;
        }
        pn_buf_append(line, start, scan);
        s->rpos += scan;
        if (line->len >= limit)
            return PN_LINE_TOO_LONG;
    }
}

ssize_t pn_stream_read(pn_stream *s, void *data, size_t len)
{
    if (s->rpos == s->rlen) {
        s->rpos = s->rlen = 0;
        int rc = fill(s);
        if (rc <= 0)
            return rc;
    }
    size_t n = s->rlen - s->rpos < len ? s->rlen - s->rpos : len;
    memcpy(data, s->rbuf + s->rpos, n);
    s->rpos += n;
    return (ssize_t)n;
}

int pn_stream_flush(pn_stream *s)
{
    size_t done = 0;
    while (done < s->wbuf.len) {
        ssize_t n;
        if (s->io) {
            n = s->io->write(s->io_ctx, s->wbuf.data + done, s->wbuf.len - done, s->timeout_ms);
        } else if (s->timeout_ms > 0 && !s->not_socket) {
            /* a socket takes the bytes at once nearly always: poll() only when it will not */
            n = send(s->fd, s->wbuf.data + done, s->wbuf.len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno == ENOTSOCK) {
                s->not_socket = 1;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (wait_for(s, POLLOUT) < 0)
                    return -1;
                continue;
            }
        } else {
            if (wait_for(s, POLLOUT) < 0)
                return -1;
            n = write(s->fd, s->wbuf.data + done, s->wbuf.len - done);
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            pn_buf_reset(&s->wbuf);
            return -1;
        }
        done += (size_t)n;
    }
    pn_buf_reset(&s->wbuf);
    return 0;
}

int pn_stream_write(pn_stream *s, const void *data, size_t len)
{
    pn_buf_append(&s->wbuf, data, len);
    if (s->wbuf.len >= STREAM_BUFSIZE)
        return pn_stream_flush(s);
    return 0;
}

int pn_stream_puts(pn_stream *s, const char *str)
{
    return pn_stream_write(s, str, strlen(str));
}

int pn_stream_printf(pn_stream *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pn_buf_vprintf(&s->wbuf, fmt, ap);
    va_end(ap);
    if (s->wbuf.len >= STREAM_BUFSIZE)
        return pn_stream_flush(s);
    return 0;
}

size_t pn_stream_buffered(const pn_stream *s)
{
    return s->rlen - s->rpos + (s->io && s->io->pending ? s->io->pending(s->io_ctx) : 0);
}

size_t pn_stream_peek(const pn_stream *s, const char **data)
{
    *data = s->rbuf ? s->rbuf + s->rpos : "";
    return s->rlen - s->rpos;
}

void pn_stream_set_io(pn_stream *s, const pn_stream_io *io, void *ctx)
{
    s->io = io;
    s->io_ctx = ctx;
    s->eof = 0;
}

void pn_stream_drop_input(pn_stream *s)
{
    s->rpos = s->rlen = 0;
}

int pn_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
