/* cfline.c: reads physical lines with a bounded length, skips comments and blank lines, and
 * glues continuation lines. NUL bytes are refused here, once, so that no caller ever treats
 * binary data as text. */
#include "config/cfline.h"

#include <errno.h>
#include <string.h>

#include "base/strutil.h"

void pn_cfline_init(pn_cfline *r, pn_stream *stream, const char *path, int join)
{
    memset(r, 0, sizeof(*r));
    r->stream = stream;
    r->path = path;
    r->join = join;
    pn_buf_init(&r->pending);
    pn_buf_init(&r->error);
}

void pn_cfline_release(pn_cfline *r)
{
    pn_buf_release(&r->pending);
    pn_buf_release(&r->error);
}

static int fail(pn_cfline *r, int line, const char *what)
{
    pn_buf_reset(&r->error);
    pn_buf_printf(&r->error, "%s, line %d: %s", r->path, line, what);
    return -1;
}

/* read_physical: the next line that is neither blank nor a comment, into r->pending. */
static int read_physical(pn_cfline *r)
{
    for (;;) {
        int rc = pn_stream_get_line(r->stream, &r->pending, PN_CFLINE_MAX);
        if (rc == PN_LINE_EOF)
            return 0;
        r->lineno++;
        if (rc == PN_LINE_ERROR) {
            pn_buf_reset(&r->error);
            pn_buf_printf(&r->error, "%s, line %d: read error: %s", r->path, r->lineno,
                          strerror(errno));
            return -1;
        }
        if (rc == PN_LINE_TOO_LONG)
            return fail(r, r->lineno, "line too long");
        if (memchr(r->pending.data, 0, r->pending.len))
            return fail(r, r->lineno, "line contains a NUL byte (not a text file?)");
        if (r->pending.len && r->pending.data[r->pending.len - 1] == '\r')
            pn_buf_truncate(&r->pending, r->pending.len - 1);
        if (pn_cfline_is_skipped(r->pending.data))
            continue;
        return 1;
    }
}

void pn_cfline_join(pn_buf *out, const char *piece, int join)
{
    if (join == PN_CFLINE_JOIN_RAW) {
        pn_buf_puts(out, piece);
        return;
    }
    size_t start = strspn(piece, PN_BLANKS);
    size_t len = strlen(piece + start);
    while (len > 0 && strchr(PN_BLANKS, piece[start + len - 1]))
        len--;
    if (len == 0)
        return;
    if (out->len)
        pn_buf_putc(out, ' ');
    pn_buf_append(out, piece + start, len);
}

int pn_cfline_is_skipped(const char *line)
{
    const char *first = line + strspn(line, " \t\r\v\f");
    return *first == 0 || *first == '#';
}

static void append_piece(pn_cfline *r, pn_buf *out, const char *piece)
{
    pn_cfline_join(out, piece, r->join);
}

int pn_cfline_next(pn_cfline *r, pn_buf *out)
{
    pn_buf_reset(out);
    if (r->done)
        return 0;
    if (!r->have_pending) {
        int rc = read_physical(r);
        if (rc <= 0) {
            r->done = 1;
            return rc;
        }
    }
    r->have_pending = 0;
    r->start_line = r->lineno;
    if (r->pending.len + 1 > PN_CFLINE_MAX)
        return fail(r, r->start_line, "line too long");
    append_piece(r, out, r->pending.data);
    for (;;) {
        int rc = read_physical(r);
        if (rc < 0) {
            r->done = 1;
            return -1;
        }
        if (rc == 0) {
            r->done = 1;
            return 1;
        }
        if (r->pending.data[0] != ' ' && r->pending.data[0] != '\t') {
            r->have_pending = 1;
            return 1;
        }
        if (out->len + r->pending.len + 1 > PN_CFLINE_MAX)
            return fail(r, r->start_line, "logical line too long");
        append_piece(r, out, r->pending.data);
    }
}
