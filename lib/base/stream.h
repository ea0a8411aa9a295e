/* stream.h: the one buffered stream over a file descriptor: bounded line reads, buffered
 * writes, and an optional deadline for each read or write (milliseconds, 0 = none). */
#ifndef PN_BASE_STREAM_H
#define PN_BASE_STREAM_H
#include <stddef.h>
#include <sys/types.h>

#include "base/buf.h"

typedef struct pn_stream pn_stream;

/* Results of pn_stream_get_line. */
#define PN_LINE_ERROR (-1) /* read error or timeout; errno says which */
#define PN_LINE_EOF 0      /* nothing more */
#define PN_LINE_OK 1       /* a complete line; the newline is not stored */
#define PN_LINE_LAST 2     /* the last line of the input, without a newline */
#define PN_LINE_TOO_LONG 3 /* limit bytes stored; the rest of the line is still unread */

pn_stream *pn_stream_fdopen(int fd);
pn_stream *pn_stream_open(const char *path, int flags, int mode);
/* pn_stream_close: flushes, closes the descriptor; returns -1 when a flush or close failed. */
int pn_stream_close(pn_stream *stream);
/* pn_stream_release: frees the stream without closing its descriptor. */
void pn_stream_release(pn_stream *stream);
int pn_stream_fd(const pn_stream *stream);
void pn_stream_set_timeout(pn_stream *stream, int timeout_ms);
int pn_stream_get_line(pn_stream *stream, pn_buf *line, size_t limit);
/* pn_stream_read: up to len bytes; 0 at end of input, -1 on error or timeout. */
ssize_t pn_stream_read(pn_stream *stream, void *data, size_t len);
int pn_stream_write(pn_stream *stream, const void *data, size_t len);
int pn_stream_puts(pn_stream *stream, const char *str);
int pn_stream_printf(pn_stream *stream, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pn_stream_flush(pn_stream *stream);
/* pn_stream_buffered: bytes already read from the descriptor and not yet consumed (an event
 * loop must not wait for readability while these remain). */
size_t pn_stream_buffered(const pn_stream *stream);
/* pn_stream_peek: what the buffer holds of that (not what a transport holds), unconsumed. */
size_t pn_stream_peek(const pn_stream *stream, const char **data);

/* A transport under the buffer (TLS, lib/mail/tls.c): read and write like read(2) and
 * write(2), each within timeout_ms (0 = none; -1 with errno ETIMEDOUT when it passes);
 * pending: bytes the transport holds that a read returns without waiting. */
typedef struct pn_stream_io {
    ssize_t (*read)(void *ctx, void *data, size_t len, int timeout_ms);
    ssize_t (*write)(void *ctx, const void *data, size_t len, int timeout_ms);
    size_t (*pending)(void *ctx);
} pn_stream_io;

/* pn_stream_set_io: from now on, I/O through io (NULL: the descriptor itself again). */
void pn_stream_set_io(pn_stream *stream, const pn_stream_io *io, void *ctx);
/* pn_stream_drop_input: forget what was read and not yet consumed (what a client sent after
 * STARTTLS, before the handshake, must never be taken for a command inside TLS). */
void pn_stream_drop_input(pn_stream *stream);

/* pn_write_all: all len bytes to a plain descriptor, across short writes and EINTR; 0, or -1
 * with errno. */
int pn_write_all(int fd, const void *data, size_t len);

#endif
