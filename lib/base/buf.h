/* buf.h: the one string type. A growable, length-tracked byte buffer whose data is always
 * NUL-terminated, so it can hold binary bytes and still be used as a C string. */
#ifndef PN_BASE_BUF_H
#define PN_BASE_BUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct pn_buf {
    char *data; /* always NUL-terminated once initialised */
    size_t len;
    size_t cap;
} pn_buf;

#define PN_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void pn_buf_init(pn_buf *buf);
pn_buf *pn_buf_new(void);
void pn_buf_free(pn_buf *buf);    /* for pn_buf_new() */
void pn_buf_release(pn_buf *buf); /* for embedded buffers */
void pn_buf_reserve(pn_buf *buf, size_t extra);
void pn_buf_reset(pn_buf *buf);
void pn_buf_truncate(pn_buf *buf, size_t len);
void pn_buf_append(pn_buf *buf, const void *data, size_t len);
void pn_buf_puts(pn_buf *buf, const char *str);
void pn_buf_putc(pn_buf *buf, int ch);
void pn_buf_set(pn_buf *buf, const char *str);
void pn_buf_printf(pn_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pn_buf_vprintf(pn_buf *buf, const char *fmt, va_list ap);
const char *pn_buf_str(pn_buf *buf);
/* pn_buf_steal: hand the storage to the caller (free with free()) and reset the buffer. */
char *pn_buf_steal(pn_buf *buf);

#endif
