/* content.c: a message as the smtp client's header and body edits see it: the header fields
 * (folded lines joined as received, each an item) and the body after the blank line. */
#include <string.h>

#include "smtp.h"

void smtp_content_split(const pn_buf *content, pn_argv *fields, pn_buf *body)
{
    pn_buf field = PN_BUF_INIT;
    size_t pos = 0;
    while (pos < content->len) {
        const char *line = content->data + pos;
        const char *nl = memchr(line, '\n', content->len - pos);
        size_t len = nl ? (size_t)(nl - line) : content->len - pos;
        int folded = len > 0 && (line[0] == ' ' || line[0] == '\t') && field.len;
        if (field.len && !folded) {
            pn_argv_add(fields, field.data);
            pn_buf_reset(&field);
        }
        if (len == 0 || (!folded && memchr(line, ':', len) == NULL))
            break; /* the blank line (or a line that is no header) starts the body */
        if (folded)
            pn_buf_putc(&field, '\n');
        pn_buf_append(&field, line, len);
        pos += len + (nl != NULL);
    }
    if (field.len)
        pn_argv_add(fields, field.data);
    pn_buf_append(body, content->data + pos, content->len - pos);
    pn_buf_release(&field);
}

void smtp_content_join(const pn_argv *fields, const pn_buf *body, pn_buf *content)
{
    pn_buf_reset(content);
    for (size_t i = 0; i < fields->len; i++)
        pn_buf_printf(content, "%s\n", fields->items[i]);
    pn_buf_append(content, body->data, body->len);
}
