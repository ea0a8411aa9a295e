/* hbc.c: header and body checks (header_checks, mime_header_checks, nested_header_checks,
 * body_checks in cleanup; their smtp_ twins in the smtp client). Each header (the logical line,
 * folded lines as received) and each body line is looked up in the tables of its class; the
 * first table that has it gives the action, which the caller carries out. Which class a header
 * belongs to follows the MIME structure: the primary header's Content-* and MIME-Version
 * fields and every field of a multipart part go to the MIME class, the fields of an attached
 * message/rfc822 to the nested class, the other primary fields to the header class; body
 * lines (boundaries included) to the body class, the first body_checks_size_limit bytes of
 * each part. */
#include "mail/hbc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"
#include "config/cfparams.h"

void pn_hbc_open(pn_hbc *hbc, const char *const params[PN_HBC_COUNT])
{
    for (int c = 0; c < PN_HBC_COUNT; c++) {
        hbc->params[c] = params[c];
        hbc->maps[c] = NULL;
        hbc->owned[c] = 0;
        const char *value = pn_config_get(params[c]);
        for (int k = 0; k < c && hbc->maps[c] == NULL; k++)
            if (hbc->maps[k] && strcmp(value, pn_config_get(params[k])) == 0)
                hbc->maps[c] = hbc->maps[k];
        if (hbc->maps[c] || *value == 0)
            continue;
        pn_buf err = PN_BUF_INIT;
        hbc->maps[c] = pn_maps_open(params[c], value, PN_DICT_DEFAULT_FLAGS, &err);
        if (hbc->maps[c] == NULL)
            pn_fatal("%s", err.data);
        hbc->owned[c] = 1;
        pn_buf_release(&err);
    }
}

int pn_hbc_enabled(const pn_hbc *hbc)
{
    for (int c = 0; c < PN_HBC_COUNT; c++)
        if (hbc->maps[c])
            return 1;
    return 0;
}

int pn_hbc_changed(const pn_hbc *hbc)
{
    for (int c = 0; c < PN_HBC_COUNT; c++)
        if (hbc->owned[c] && pn_maps_changed(hbc->maps[c]))
            return 1;
    return 0;
}

/* One pass over a message. */
struct run {
    const pn_hbc *hbc;
    const pn_hbc_ops *ops;
    pn_buf *body;
};

/* check_line: look line up in the tables of its class; the line(s) to keep go to out_headers
 * (an item each) or out_body (each ending with "\n"). */
static void check_line(struct run *run, int cls, const char *line, pn_argv *out_headers,
                       pn_buf *out_body)
{
    enum pn_hbc_fate fate = PN_HBC_KEEP;
    pn_buf value = PN_BUF_INIT, repl = PN_BUF_INIT, prepend = PN_BUF_INIT;
    pn_maps *maps = run->hbc->maps[cls];
    if (maps && !run->ops->done(run->ops->ctx)) {
        int rc = pn_maps_find(maps, line, &value);
        if (rc < 0)
            run->ops->failed(run->ops->ctx, cls);
        else if (rc > 0)
            fate = run->ops->act(run->ops->ctx, cls, line, value.data, &repl, &prepend);
    }
    const char *emit[2] = {prepend.len ? prepend.data : NULL, fate == PN_HBC_DROP      ? NULL
                                                              : fate == PN_HBC_REPLACE ? repl.data
                                                                                       : line};
    for (int i = 0; i < 2; i++) {
        if (emit[i] == NULL)
            continue;
        if (out_headers) {
            pn_argv_add(out_headers, emit[i]);
        } else {
            pn_buf_puts(out_body, emit[i]);
            pn_buf_putc(out_body, '\n');
        }
    }
    pn_buf_release(&value);
    pn_buf_release(&repl);
    pn_buf_release(&prepend);
}

static int is_mime_field(const char *field)
{
    return strncasecmp(field, "Content-", 8) == 0 || strncasecmp(field, "MIME-Version:", 13) == 0;
}

/* What a header block says about the MIME structure of what follows it. */
typedef struct mime_info {
    char *boundary; /* multipart: the boundary, else NULL */
    int message;    /* message/rfc822: a header block follows */
} mime_info;

static void content_type(const char *field, mime_info *info)
{
    if (strncasecmp(field, "Content-Type:", 13) != 0)
        return;
    const char *v = field + 13;
    while (isspace((unsigned char)*v))
        v++;
    if (strncasecmp(v, "message/rfc822", 14) == 0)
        info->message = 1;
    if (strncasecmp(v, "multipart/", 10) != 0)
        return;
    for (const char *p = v; (p = strchr(p, ';')) != NULL;) {
        p++;
        while (isspace((unsigned char)*p))
            p++;
        if (strncasecmp(p, "boundary=", 9) != 0)
            continue;
        p += 9;
        size_t len;
        if (*p == '"') {
            p++;
            len = strcspn(p, "\"");
        } else {
            len = strcspn(p, "; \t\r\n");
        }
        free(info->boundary);
        info->boundary = len ? pn_strndup(p, len) : NULL;
        return;
    }
}

#define MAX_BOUNDARIES 32

/* The walk through the body: a stack of open multipart boundaries. */
typedef struct walk {
    char *bounds[MAX_BOUNDARIES];
    int depth;
    long nesting_limit;
    long segment;    /* bytes of the current part seen by body_checks */
    long size_limit; /* body_checks_size_limit */
} walk;

static void push_boundary(walk *w, char *boundary)
{
    if (boundary && w->depth < MAX_BOUNDARIES && w->depth < w->nesting_limit)
        w->bounds[w->depth++] = boundary;
    else
        free(boundary);
}

/* boundary_of: how deep the open boundary this line closes or separates is (-1: none);
 * *last set for the closing form "--b--". */
static int boundary_of(const walk *w, const char *line, size_t len, int *last)
{
    if (len < 3 || line[0] != '-' || line[1] != '-')
        return -1;
    for (int i = w->depth - 1; i >= 0; i--) {
        size_t b = strlen(w->bounds[i]);
        if (len >= b + 2 && strncmp(line + 2, w->bounds[i], b) == 0) {
            *last = len >= b + 4 && strncmp(line + 2 + b, "--", 2) == 0;
            return i;
        }
    }
    return -1;
}

/* header_block: the fields starting at *pos (folded lines joined, as received) up to the
 * blank line, each checked in its class; returns what they say about the MIME structure. */
static mime_info header_block(struct run *run, const pn_buf *body, size_t *pos, int nested,
                              pn_buf *out)
{
    mime_info info = {NULL, 0};
    pn_buf field = PN_BUF_INIT;
    for (;;) {
        const char *line = body->data + *pos;
        size_t left = body->len - *pos;
        const char *nl = memchr(line, '\n', left);
        size_t len = nl ? (size_t)(nl - line) : left;
        int blank = len == 0 || (len == 1 && line[0] == '\r');
        int folded = !blank && (line[0] == ' ' || line[0] == '\t') && field.len;
        if (field.len && !folded) {
            content_type(field.data, &info);
            check_line(run, is_mime_field(field.data) || !nested ? PN_HBC_MIME : PN_HBC_NESTED,
                       field.data, NULL, out);
            pn_buf_reset(&field);
        }
        if (left == 0)
            break;
        if (blank) {
            pn_buf_append(out, line, len);
            pn_buf_putc(out, '\n');
            *pos += len + (nl != NULL);
            break;
        }
        if (!folded && field.len == 0 && memchr(line, ':', len) == NULL) {
            break; /* not a header: the part has no header block */
        }
        if (folded)
            pn_buf_putc(&field, '\n');
        pn_buf_append(&field, line, len);
        *pos += len + (nl != NULL);
    }
    pn_buf_release(&field);
    return info;
}

/* check_body: body lines and the header blocks of MIME parts; the checked body replaces the
 * old one. primary: what the primary header said about the structure. */
static void check_body(struct run *run, mime_info primary)
{
    walk w = {{NULL},
              0,
              pn_config_get_int(PN_P(mime_nesting_limit)),
              0,
              pn_config_get_int(PN_P(body_checks_size_limit))};
    pn_buf out = PN_BUF_INIT, line = PN_BUF_INIT;
    pn_buf_init(&out);
    size_t pos = 0;
    if (primary.message) {
        mime_info inner = header_block(run, run->body, &pos, 1, &out);
        push_boundary(&w, inner.boundary);
    }
    push_boundary(&w, primary.boundary);
    while (pos < run->body->len) {
        const char *start = run->body->data + pos;
        const char *nl = memchr(start, '\n', run->body->len - pos);
        size_t len = nl ? (size_t)(nl - start) : run->body->len - pos;
        pn_buf_set(&line, "");
        pn_buf_append(&line, start, len);
        pos += len + (nl != NULL);
        int last = 0, level = boundary_of(&w, line.data, len, &last);
        int cls = run->hbc->maps[PN_HBC_BODY] && w.segment < w.size_limit ? PN_HBC_BODY : -1;
        w.segment += (long)len + 1;
        if (cls >= 0)
            check_line(run, PN_HBC_BODY, line.data, NULL, &out);
        else
            pn_buf_printf(&out, "%s\n", line.data);
        if (level < 0)
            continue;
        while (w.depth > level + 1)
            free(w.bounds[--w.depth]);
        if (last) {
            free(w.bounds[--w.depth]);
            continue;
        }
        /* a new part: its header block, then a new segment */
        mime_info part = header_block(run, run->body, &pos, 0, &out);
        w.segment = 0;
        if (part.message) {
            mime_info inner = header_block(run, run->body, &pos, 1, &out);
            free(part.boundary);
            part.boundary = inner.boundary;
        }
        push_boundary(&w, part.boundary);
    }
    if (run->body->len && run->body->data[run->body->len - 1] != '\n' && out.len)
        out.len--, out.data[out.len] = 0; /* as received: no final newline added */
    while (w.depth > 0)
        free(w.bounds[--w.depth]);
    pn_buf_release(run->body);
    *run->body = out;
    pn_buf_release(&line);
}

void pn_hbc_apply(const pn_hbc *hbc, pn_argv **headers, pn_buf *body, const pn_hbc_ops *ops)
{
    struct run run_state = {hbc, ops, body};
    struct run *run = &run_state;
    pn_argv *kept = pn_argv_new();
    mime_info primary = {NULL, 0};
    for (size_t i = 0; i < (*headers)->len; i++) {
        const char *field = (*headers)->items[i];
        content_type(field, &primary);
        check_line(run, is_mime_field(field) ? PN_HBC_MIME : PN_HBC_HEADER, field, kept, NULL);
    }
    pn_argv_free(*headers);
    *headers = kept;
    const pn_maps *const *maps = (const pn_maps *const *)hbc->maps;
    int walk_body = maps[PN_HBC_BODY] || primary.boundary || primary.message;
    if (body && !ops->done(ops->ctx) && walk_body &&
        (maps[PN_HBC_BODY] || maps[PN_HBC_MIME] || maps[PN_HBC_NESTED]))
        check_body(run, primary);
    else
        free(primary.boundary);
}
