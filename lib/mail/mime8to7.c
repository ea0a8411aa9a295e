/* mime8to7.c: the 8-bit to 7-bit downgrade (see mime8to7.h). An entity is its header up to
 * the first empty line, then its body; only the fields that say what the body is
 * (Content-Type, Content-Transfer-Encoding) are read, and only the latter is rewritten. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "config/cfparams.h"
#include "mail/mime8to7.h"

#define QP_LINE 76

static int has_8bit(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] & 0x80)
            return 1;
    return 0;
}

/* field_value: the unfolded value of the named field in header, into out; 1 when present. */
static int field_value(const char *h, size_t n, const char *name, pn_buf *out)
{
    size_t k = strlen(name);
    const char *p = h, *end = h + n;
    pn_buf_reset(out);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > k && strncasecmp(p, name, k) == 0 && p[k] == ':') {
            pn_buf_append(out, p + k + 1, len - k - 1);
            for (p += len + 1; p < end && (*p == ' ' || *p == '\t');) {
                nl = memchr(p, '\n', (size_t)(end - p));
                len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                pn_buf_append(out, p, len);
                p += len + 1;
            }
            return 1;
        }
        p += len + 1;
    }
    return 0;
}

/* token_is: does the value (a field body) start with word, ignoring case and blanks? */
static int token_is(const pn_buf *v, const char *word)
{
    const char *p = v->data;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(word);
    return strncasecmp(p, word, n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '-';
}

/* boundary: the boundary parameter of a Content-Type value. */
static int boundary(const pn_buf *ct, pn_buf *out)
{
    const char *p = strcasestr(ct->data, "boundary=");
    if (p == NULL)
        return 0;
    p += 9;
    pn_buf_reset(out);
    if (*p == '"') {
        const char *q = strchr(++p, '"');
        if (q == NULL)
            return 0;
        pn_buf_append(out, p, (size_t)(q - p));
    } else {
        pn_buf_append(out, p, strcspn(p, " \t;"));
    }
    return out->len > 0 && out->len <= 70;
}

static void qp_encode(const char *p, size_t n, pn_buf *out)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') {
            pn_buf_putc(out, '\n');
            col = 0;
            continue;
        }
        int at_eol = i + 1 == n || p[i + 1] == '\n';
        int plain = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol);
        size_t width = plain ? 1 : 3;
        if (col + width > QP_LINE - 1) { /* room for the soft break's "=" */
            pn_buf_puts(out, "=\n");
            col = 0;
        }
        if (plain)
            pn_buf_putc(out, (char)c);
        else
            pn_buf_printf(out, "=%02X", c);
        col += width;
    }
}

/* header_without_cte: the header with Content-Transfer-Encoding (and its continuation
 * lines) left out. */
static void header_without_cte(const char *h, size_t n, pn_buf *out)
{
    const char *p = h, *end = h + n;
    int skipping = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        if (*p != ' ' && *p != '\t')
            skipping = len > 26 && strncasecmp(p, "Content-Transfer-Encoding:", 26) == 0;
        if (!skipping)
            pn_buf_append(out, p, len);
        p += len;
    }
}

static int entity(const char *p, size_t n, int depth, const char *host, pn_buf *out);

/* multipart: each part of the body (between boundary lines) as an entity of its own. */
static int multipart(const char *body, size_t n, const pn_buf *bnd, int depth, const char *host,
                     pn_buf *out)
{
    const char *p = body, *end = body + n, *part = NULL;
    int changed = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int delimiter = len >= bnd->len + 2 && p[0] == '-' && p[1] == '-' &&
                        memcmp(p + 2, bnd->data, bnd->len) == 0;
        if (delimiter) {
            if (part) /* the part ends with the line break before the delimiter */
                changed |= entity(part, (size_t)(p - part), depth + 1, host, out);
            pn_buf_append(out, p, len + (nl != NULL));
            int last = len >= bnd->len + 4 && p[bnd->len + 2] == '-' && p[bnd->len + 3] == '-';
            p += len + (nl != NULL);
            part = last ? NULL : p;
            if (last) { /* the epilogue stays as it is */
                pn_buf_append(out, p, (size_t)(end - p));
                return changed;
            }
            continue;
        }
        if (part == NULL) /* the preamble */
            pn_buf_append(out, p, len + (nl != NULL));
        p += len + (nl != NULL);
    }
    if (part)
        changed |= entity(part, (size_t)(end - part), depth + 1, host, out);
    return changed;
}

static int entity(const char *p, size_t n, int depth, const char *host, pn_buf *out)
{
    /* header: up to and including the line break before the empty line; body: after it */
    size_t hlen = n;
    const char *body = p + n;
    if (n > 0 && p[0] == '\n') {
        hlen = 0;
        body = p + 1;
    } else {
        const char *sep = memmem(p, n, "\n\n", 2);
        if (sep) {
            hlen = (size_t)(sep - p) + 1;
            body = sep + 2;
        }
    }
    size_t blen = n - (size_t)(body - p);
    int has_body = body > p + hlen;
    pn_buf ct = PN_BUF_INIT, cte = PN_BUF_INIT, bnd = PN_BUF_INIT;
    int changed = 0, has_ct = field_value(p, hlen, "Content-Type", &ct);
    int has_cte = field_value(p, hlen, "Content-Transfer-Encoding", &cte);
    long limit = pn_config_get_int(PN_P(mime_nesting_limit));
    if (has_ct && token_is(&ct, "multipart") && boundary(&ct, &bnd) && depth < limit) {
        pn_buf_append(out, p, (size_t)(body - p));
        changed = multipart(body, blen, &bnd, depth, host, out);
    } else if (has_ct && token_is(&ct, "message/rfc822") && depth < limit) {
        pn_buf_append(out, p, (size_t)(body - p));
        changed = entity(body, blen, depth + 1, host, out);
    } else if ((!has_cte || token_is(&cte, "8bit") || token_is(&cte, "7bit")) &&
               has_8bit(body, blen)) {
        header_without_cte(p, hlen, out);
        pn_buf_puts(out, "Content-Transfer-Encoding: quoted-printable\n");
        pn_buf_printf(out, "X-MIME-Autoconverted: from 8bit to quoted-printable by %s\n", host);
        if (has_body)
            pn_buf_putc(out, '\n');
        qp_encode(body, blen, out);
        changed = 1;
    } else {
        pn_buf_append(out, p, n);
    }
    pn_buf_release(&ct);
    pn_buf_release(&cte);
    pn_buf_release(&bnd);
    return changed;
}

int pn_mime_downgrade(const char *msg, size_t len, const char *host, pn_buf *out)
{
    pn_buf_reset(out);
    if (!has_8bit(msg, len)) {
        pn_buf_append(out, msg, len);
        return 0;
    }
    return entity(msg, len, 0, host, out);
}
