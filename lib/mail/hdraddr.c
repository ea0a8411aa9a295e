/* hdraddr.c: addresses found in place in an address-list header (RFC 5322 section 3.4): the
 * list is cut at commas (and group ends) outside quoted strings, comments and angle brackets;
 * an element with <...> has its address there (a source route before ':' is kept), a bare one
 * is the element without its comments. Only the address text is replaced. */
#include "mail/hdraddr.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const sender_fields[] = {
    "From",        "Sender",        "Reply-To",        "Return-Receipt-To",           "Errors-To",
    "Resent-From", "Resent-Sender", "Resent-Reply-To", "Disposition-Notification-To", NULL};
static const char *const recipient_fields[] = {
    "To", "Cc", "Bcc", "Apparently-To", "Resent-To", "Resent-Cc", "Resent-Bcc", NULL};

static int named(const char *field, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(field, names[i], n) == 0 && field[n] == ':')
            return 1;
    }
    return 0;
}

enum pn_hdraddr_kind pn_hdraddr_kind(const char *field)
{
    return named(field, sender_fields)      ? PN_HDRADDR_SENDER
           : named(field, recipient_fields) ? PN_HDRADDR_RECIPIENT
                                            : PN_HDRADDR_NONE;
}

/* skip_special: past a quoted string or a (nested) comment starting at p; p when neither. */
static const char *skip_special(const char *p)
{
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && p[1])
                p++;
        return *p ? p + 1 : p;
    }
    if (*p == '(') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '(')
                depth++;
            else if (*p == ')' && --depth == 0)
                return p + 1;
        }
    }
    return p;
}

/* address_span: where the address of the element [start, end) is; 0 when it has none. */
static int address_span(const char *start, const char *end, const char **a, const char **b)
{
    for (const char *p = start; p < end;) {
        const char *q = skip_special(p);
        if (q != p) {
            p = q;
            continue;
        }
        if (*p == '<') {
            const char *close = memchr(p, '>', (size_t)(end - p));
            if (close == NULL)
                return 0;
            const char *in = p + 1;
            const char *colon =
                in < close && *in == '@' ? memchr(in, ':', (size_t)(close - in)) : NULL;
            *a = colon ? colon + 1 : in;
            *b = close;
            return *b > *a;
        }
        p++;
    }
    /* bare: from the first to the last character outside comments and blanks */
    const char *first = NULL, *last = NULL;
    for (const char *p = start; p < end;) {
        if (*p == '(') {
            p = skip_special(p);
            continue;
        }
        const char *q = *p == '"' ? skip_special(p) : p + 1;
        if (!isspace((unsigned char)*p)) {
            if (first == NULL)
                first = p;
            last = q;
        }
        p = q;
    }
    if (first == NULL || last > end)
        return 0;
    *a = first;
    *b = last;
    return 1;
}

int pn_hdraddr_rewrite(const char *field, pn_hdraddr_fn fn, void *ctx, pn_buf *out)
{
    const char *colon = strchr(field, ':');
    if (colon == NULL)
        return 0;
    pn_buf result = PN_BUF_INIT, addr = PN_BUF_INIT, repl = PN_BUF_INIT;
    pn_buf_append(&result, field, (size_t)(colon + 1 - field));
    const char *done = colon + 1; /* copied up to here */
    const char *element = done;
    int changed = 0;
    for (const char *p = element;; p++) {
        const char *q = skip_special(p);
        if (q != p) {
            p = q - 1;
            if (*q == 0)
                p = q;
        }
        if (*p == '<') {
            const char *close = strchr(p, '>');
            p = close ? close : p + strlen(p);
        }
        if (*p == ':' && p > element) { /* a group's name */
            element = p + 1;
            continue;
        }
        if (*p != ',' && *p != ';' && *p != 0)
            continue;
        const char *a, *b;
        if (address_span(element, p, &a, &b)) {
            pn_buf_reset(&addr);
            pn_buf_append(&addr, a, (size_t)(b - a));
            pn_buf_reset(&repl);
            if (fn(addr.data, &repl, ctx) && strcmp(repl.data, addr.data) != 0) {
                pn_buf_append(&result, done, (size_t)(a - done));
                pn_buf_puts(&result, repl.data);
                done = b;
                changed = 1;
            }
        }
        if (*p == 0)
            break;
        element = p + 1;
    }
    pn_buf_puts(&result, done);
    if (changed)
        pn_buf_set(out, result.data);
    pn_buf_release(&result);
    pn_buf_release(&addr);
    pn_buf_release(&repl);
    return changed;
}
