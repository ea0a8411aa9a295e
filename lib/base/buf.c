/* buf.c: growable byte strings. Every length is checked; the data stays NUL-terminated. */
#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

void pn_buf_init(pn_buf *buf)
{
    buf->cap = 32;
    buf->data = pn_malloc(buf->cap);
    buf->data[0] = 0;
    buf->len = 0;
}

pn_buf *pn_buf_new(void)
{
    pn_buf *buf = pn_malloc(sizeof(*buf));
    pn_buf_init(buf);
    return buf;
}

void pn_buf_release(pn_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

void pn_buf_free(pn_buf *buf)
{
    if (buf) {
        pn_buf_release(buf);
        free(buf);
    }
}

void pn_buf_reserve(pn_buf *buf, size_t extra)
{
    if (buf->data == NULL)
        pn_buf_init(buf);
    if (extra > SIZE_MAX / 2 - buf->len - 1)
        pn_realloc(NULL, SIZE_MAX); /* fatal: impossible size */
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap)
        return;
    size_t cap = buf->cap ? buf->cap : 32;
    while (cap < need)
        cap *= 2;
    buf->data = pn_realloc(buf->data, cap);
    buf->cap = cap;
}

void pn_buf_reset(pn_buf *buf)
{
    pn_buf_truncate(buf, 0);
}

void pn_buf_truncate(pn_buf *buf, size_t len)
{
    if (buf->data == NULL)
        pn_buf_init(buf);
    if (len < buf->len) {
        buf->len = len;
        buf->data[len] = 0;
    }
}

void pn_buf_append(pn_buf *buf, const void *data, size_t len)
{
    pn_buf_reserve(buf, len);
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = 0;
}

void pn_buf_puts(pn_buf *buf, const char *str)
{
    pn_buf_append(buf, str, strlen(str));
}

void pn_buf_putc(pn_buf *buf, int ch)
{
    char c = (char)ch;
    pn_buf_append(buf, &c, 1);
}

void pn_buf_set(pn_buf *buf, const char *str)
{
    pn_buf_reset(buf);
    pn_buf_puts(buf, str);
}

void pn_buf_vprintf(pn_buf *buf, const char *fmt, va_list ap)
{
    va_list copy;
    pn_buf_reserve(buf, 64);
    va_copy(copy, ap);
    int n = vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if ((size_t)n >= buf->cap - buf->len) {
        pn_buf_reserve(buf, (size_t)n);
        va_copy(copy, ap);
        vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, copy);
        va_end(copy);
    }
    buf->len += (size_t)n;
}

void pn_buf_printf(pn_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pn_buf_vprintf(buf, fmt, ap);
    va_end(ap);
}

const char *pn_buf_str(pn_buf *buf)
{
    if (buf->data == NULL)
        pn_buf_init(buf);
    return buf->data;
}

char *pn_buf_steal(pn_buf *buf)
{
    if (buf->data == NULL)
        pn_buf_init(buf);
    char *out = buf->data;
    buf->data = NULL;
    buf->len = buf->cap = 0;
    return out;
}
