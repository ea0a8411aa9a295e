/* cfexpand.c: a recursive-descent expander for parameter values. It keeps a stack of the
 * names being expanded, so a loop (a = $b, b = $a) is reported with its path instead of
 * recursing until the stack runs out. */
#include "config/cfexpand.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

#define EXPAND_MAX_DEPTH 100

struct state {
    const pn_expand_ctx *ec;
    const char *stack[EXPAND_MAX_DEPTH];
    int depth;
    pn_buf *err;
};

static int expand_text(struct state *st, const char *text, size_t len, pn_buf *out);

static int is_name_char(int c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int error(struct state *st, const char *fmt, const char *arg, size_t arglen)
{
    pn_buf_reset(st->err);
    pn_buf_printf(st->err, fmt, (int)arglen, arg);
    return -1;
}

/* matching_close: index of the bracket closing the one at text[0], or -1. */
static long matching_close(const char *text, size_t len)
{
    char open = text[0];
    char close = open == '{' ? '}' : ')';
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == open)
            depth++;
        else if (text[i] == close && --depth == 0)
            return (long)i;
    }
    return -1;
}

static const char *lookup(struct state *st, const char *name)
{
    const char *value = st->ec->lookup(name, st->ec->ctx);
    if (value == NULL && st->ec->undefined)
        st->ec->undefined(name, st->ec->ctx);
    return value;
}

static int expand_name(struct state *st, const char *name, pn_buf *out)
{
    const char *value = lookup(st, name);
    if (value == NULL)
        return 0;
    if (!(st->ec->flags & PN_EXPAND_RECURSE)) {
        pn_buf_puts(out, value);
        return 0;
    }
    for (int i = 0; i < st->depth; i++) {
        if (strcmp(st->stack[i], name) == 0) {
            pn_buf_reset(st->err);
            pn_buf_puts(st->err, "expansion loop: ");
            for (int j = i; j < st->depth; j++)
                pn_buf_printf(st->err, "$%s -> ", st->stack[j]);
            pn_buf_printf(st->err, "$%s", name);
            return -1;
        }
    }
    if (st->depth >= EXPAND_MAX_DEPTH)
        return error(st, "expansion nested too deeply at \"$%.*s\"", name, strlen(name));
    st->stack[st->depth++] = name;
    int rc = expand_text(st, value, strlen(value), out);
    st->depth--;
    return rc;
}

static const char *skip_blanks(const char *cp, const char *end)
{
    while (cp < end && isspace((unsigned char)*cp))
        cp++;
    return cp;
}

/* braced: parse "{...}" at *cp; sets the inner span and advances past the '}'. */
static int braced(const char **cp, const char *end, const char **inner, size_t *inner_len)
{
    if (*cp >= end || **cp != '{')
        return -1;
    long close = matching_close(*cp, (size_t)(end - *cp));
    if (close < 0)
        return -1;
    *inner = *cp + 1;
    *inner_len = (size_t)close - 1;
    *cp += close + 1;
    return 0;
}

/* conditional: ${name?x}, ${name:x}, ${name?{a}:{b}} with rest = text after the operator. */
static int expand_conditional(struct state *st, const char *name, char op, const char *rest,
                              size_t rest_len, pn_buf *out)
{
    const char *value = lookup(st, name);
    int nonempty = value != NULL && *value != 0;
    const char *end = rest + rest_len;
    const char *yes = rest, *no = NULL;
    size_t yes_len = rest_len, no_len = 0;
    if (rest_len > 0 && rest[0] == '{') {
        const char *cp = rest;
        if (braced(&cp, end, &yes, &yes_len) < 0)
            return error(st, "bad conditional \"%.*s\": missing '}'", rest, rest_len);
        cp = skip_blanks(cp, end);
        if (cp < end) {
            if (*cp != ':' || op != '?')
                return error(st, "bad conditional \"%.*s\": text after '}'", rest, rest_len);
            cp = skip_blanks(cp + 1, end);
            if (braced(&cp, end, &no, &no_len) < 0 || skip_blanks(cp, end) != end)
                return error(st, "bad conditional \"%.*s\": expected {value}", rest, rest_len);
        }
    }
    if (op == ':') {
        if (!nonempty)
            return expand_text(st, yes, yes_len, out);
        return 0;
    }
    if (nonempty)
        return expand_text(st, yes, yes_len, out);
    if (no)
        return expand_text(st, no, no_len, out);
    return 0;
}

static int all_digits(const char *s)
{
    if (*s == 0)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

int pn_compat_level_valid(const char *text)
{
    int parts = 0;
    const char *cp = text;
    for (;;) {
        if (!isdigit((unsigned char)*cp))
            return 0;
        while (isdigit((unsigned char)*cp))
            cp++;
        parts++;
        if (*cp == 0)
            return parts <= 3;
        if (*cp != '.')
            return 0;
        cp++;
    }
}

int pn_compat_level_cmp(const char *a, const char *b)
{
    for (int part = 0; part < 3; part++) {
        long x = strtol(a, (char **)&a, 10);
        long y = strtol(b, (char **)&b, 10);
        if (x != y)
            return x < y ? -1 : 1;
        if (*a == '.')
            a++;
        if (*b == '.')
            b++;
    }
    return 0;
}

static const char *const relops[] = {"<=level", ">=level", "==level", "!=level", "<level",
                                     ">level",  "==",      "!=",      "<=",      ">=",
                                     "<",       ">",       NULL};

static int compare(const char *op, const char *a, const char *b, int *result)
{
    int cmp;
    size_t oplen = strlen(op);
    if (oplen > 5 && strcmp(op + oplen - 5, "level") == 0) {
        if (!pn_compat_level_valid(a) || !pn_compat_level_valid(b))
            return -1;
        cmp = pn_compat_level_cmp(a, b);
        oplen -= 5;
    } else if (all_digits(a) && all_digits(b)) {
        long x = strtol(a, NULL, 10), y = strtol(b, NULL, 10);
        cmp = x < y ? -1 : x > y;
    } else {
        cmp = strcmp(a, b);
    }
    if (strncmp(op, "==", oplen) == 0 && oplen == 2)
        *result = cmp == 0;
    else if (strncmp(op, "!=", oplen) == 0 && oplen == 2)
        *result = cmp != 0;
    else if (strncmp(op, "<=", oplen) == 0 && oplen == 2)
        *result = cmp <= 0;
    else if (strncmp(op, ">=", oplen) == 0 && oplen == 2)
        *result = cmp >= 0;
    else if (op[0] == '<')
        *result = cmp < 0;
    else
        *result = cmp > 0;
    return 0;
}

/* relational: ${{a} op {b} ? {x} : {y}}, inner = everything between "${" and "}". */
static int expand_relational(struct state *st, const char *inner, size_t len, pn_buf *out)
{
    const char *end = inner + len, *cp = inner;
    const char *a, *b, *x, *y = NULL;
    size_t a_len, b_len, x_len, y_len = 0;
    const char *op = NULL;
    if (braced(&cp, end, &a, &a_len) < 0)
        goto syntax;
    cp = skip_blanks(cp, end);
    for (int i = 0; relops[i]; i++) {
        size_t n = strlen(relops[i]);
        if ((size_t)(end - cp) >= n && strncmp(cp, relops[i], n) == 0) {
            op = relops[i];
            cp += n;
            break;
        }
    }
    if (op == NULL)
        goto syntax;
    cp = skip_blanks(cp, end);
    if (braced(&cp, end, &b, &b_len) < 0)
        goto syntax;
    cp = skip_blanks(cp, end);
    if (cp >= end || *cp != '?')
        goto syntax;
    cp = skip_blanks(cp + 1, end);
    if (braced(&cp, end, &x, &x_len) < 0)
        goto syntax;
    cp = skip_blanks(cp, end);
    if (cp < end) {
        if (*cp != ':')
            goto syntax;
        cp = skip_blanks(cp + 1, end);
        if (braced(&cp, end, &y, &y_len) < 0 || skip_blanks(cp, end) != end)
            goto syntax;
    }
    pn_buf left = PN_BUF_INIT, right = PN_BUF_INIT;
    pn_buf_init(&left);
    pn_buf_init(&right);
    int rc = expand_text(st, a, a_len, &left);
    if (rc == 0)
        rc = expand_text(st, b, b_len, &right);
    int result = 0;
    if (rc == 0 && compare(op, pn_buf_str(&left), pn_buf_str(&right), &result) < 0) {
        pn_buf_reset(st->err);
        pn_buf_printf(st->err, "bad compatibility level in \"%s\" %s \"%s\"", left.data, op,
                      right.data);
        rc = -1;
    }
    pn_buf_release(&left);
    pn_buf_release(&right);
    if (rc < 0)
        return rc;
    if (result)
        return expand_text(st, x, x_len, out);
    return y ? expand_text(st, y, y_len, out) : 0;
syntax:
    return error(st, "bad relational expression \"${%.*s}\"", inner, len);
}

/* expand_macro: text points at '$'; returns bytes consumed, or -1. */
static long expand_macro(struct state *st, const char *text, size_t len, pn_buf *out)
{
    if (len < 2) {
        pn_buf_putc(out, '$');
        return 1;
    }
    char next = text[1];
    if (next == '$') {
        pn_buf_putc(out, '$');
        return 2;
    }
    if (is_name_char(next)) {
        size_t n = 1;
        while (n < len && is_name_char(text[n]))
            n++;
        char *name = pn_strndup(text + 1, n - 1);
        int rc = expand_name(st, name, out);
        free(name);
        return rc < 0 ? -1 : (long)n;
    }
    if (next != '{' && next != '(') {
        pn_buf_putc(out, '$');
        return 1;
    }
    long close = matching_close(text + 1, len - 1);
    if (close < 0)
        return error(st, "unbalanced brackets in \"%.*s\"", text, len);
    const char *inner = text + 2;
    size_t inner_len = (size_t)close - 1;
    long consumed = close + 2;
    if (next == '{' && inner_len > 0 && inner[0] == '{')
        return expand_relational(st, inner, inner_len, out) < 0 ? -1 : consumed;
    size_t n = 0;
    while (n < inner_len && is_name_char(inner[n]))
        n++;
    if (n == 0)
        return error(st, "bad parameter name in \"%.*s\"", text, (size_t)consumed);
    char *name = pn_strndup(inner, n);
    int rc;
    if (n == inner_len)
        rc = expand_name(st, name, out);
    else if (next == '{' && (inner[n] == '?' || inner[n] == ':'))
        rc = expand_conditional(st, name, inner[n], inner + n + 1, inner_len - n - 1, out);
    else
        rc = error(st, "bad parameter name in \"%.*s\"", text, (size_t)consumed);
    free(name);
    return rc < 0 ? -1 : consumed;
}

static int expand_text(struct state *st, const char *text, size_t len, pn_buf *out)
{
    size_t i = 0;
    while (i < len) {
        const char *dollar = memchr(text + i, '$', len - i);
        if (dollar == NULL) {
            pn_buf_append(out, text + i, len - i);
            return 0;
        }
        pn_buf_append(out, text + i, (size_t)(dollar - (text + i)));
        i = (size_t)(dollar - text);
        long used = expand_macro(st, text + i, len - i, out);
        if (used < 0)
            return -1;
        i += (size_t)used;
    }
    return 0;
}

int pn_expand(const pn_expand_ctx *ec, const char *text, pn_buf *out, pn_buf *err)
{
    struct state st;
    st.ec = ec;
    st.depth = 0;
    st.err = err;
    if (ec->self)
        st.stack[st.depth++] = ec->self;
    return expand_text(&st, text, strlen(text), out);
}
