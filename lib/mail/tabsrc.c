/* tabsrc.c: splits table source lines into key and value. Continuations are appended as they
 * are (the reference keeps their leading blanks); a key may be "quoted" to hold blanks, and
 * then keeps its quotes, as the reference stores it. */
#include "mail/tabsrc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"

static pn_tabsrc *make(pn_stream *stream, const char *label, int syntax)
{
    pn_tabsrc *src = pn_calloc(1, sizeof(*src));
    src->stream = stream;
    src->syntax = syntax;
    pn_cfline_init(&src->lines, stream, pn_strdup(label), PN_CFLINE_JOIN_RAW);
    pn_buf_init(&src->logical);
    return src;
}

pn_tabsrc *pn_tabsrc_open(const char *path, int syntax, pn_buf *err)
{
    pn_stream *stream = pn_stream_open(path, O_RDONLY, 0);
    if (stream == NULL) {
        pn_buf_printf(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    return make(stream, path, syntax);
}

pn_tabsrc *pn_tabsrc_fdopen(int fd, const char *label, int syntax)
{
    return make(pn_stream_fdopen(fd), label, syntax);
}

void pn_tabsrc_close(pn_tabsrc *src)
{
    free((char *)src->lines.path);
    pn_cfline_release(&src->lines);
    pn_stream_release(src->stream);
    pn_buf_release(&src->logical);
    free(src);
}

/* key_end: where the key ends: at a blank (map), at ':' (alias), or after a closing quote. */
static char *key_end(char *text, int syntax)
{
    char *cp = text;
    if (*cp == '"') {
        char *close = cp + 1;
        while (*close && *close != '"') {
            if (*close == '\\' && close[1])
                close++;
            close++;
        }
        if (*close == '"')
            return close + 1;
    }
    if (syntax == PN_TABSRC_ALIAS)
        return cp + strcspn(cp, ":");
    return cp + strcspn(cp, " \t\r\n");
}

int pn_tabsrc_next(pn_tabsrc *src, pn_buf *key, pn_buf *value, int *line, pn_buf *err)
{
    for (;;) {
        int rc = pn_cfline_next(&src->lines, &src->logical);
        if (rc <= 0) {
            if (rc < 0)
                pn_buf_puts(err, pn_buf_str(&src->lines.error));
            return rc;
        }
        *line = src->lines.start_line;
        char *text = pn_trim(src->logical.data);
        char *end = key_end(text, src->syntax);
        char *rest = end;
        if (src->syntax == PN_TABSRC_ALIAS) {
            rest += strspn(rest, " \t");
            if (*rest != ':') {
                pn_warn("%s, line %d: need name:value pair", src->lines.path, *line);
                continue;
            }
            rest++;
        }
        pn_buf_reset(key);
        pn_buf_append(key, text, (size_t)(end - text));
        char *key_text = pn_trim(key->data);
        if (key_text != key->data) {
            memmove(key->data, key_text, strlen(key_text) + 1);
        }
        key->len = strlen(key->data);
        char *val = pn_trim(rest);
        if (key->len == 0 || (*val == 0 && src->syntax == PN_TABSRC_MAP)) {
            pn_warn("%s, line %d: expected format: key whitespace value", src->lines.path, *line);
            continue;
        }
        pn_buf_set(value, val);
        return 1;
    }
}
