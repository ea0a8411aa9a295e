/* checks.c: header_checks, mime_header_checks, nested_header_checks and body_checks. Each
 * header (the logical line, folded lines as received) and each body line is looked up in the
 * tables of its class; the first table that has it decides the action. Which class a header
 * belongs to follows the MIME structure: the primary header's Content-* and MIME-Version
 * fields and every field of a multipart part go to mime_header_checks, the fields of an
 * attached message/rfc822 to nested_header_checks, the other primary fields to
 * header_checks; body lines (boundaries included) to body_checks, the first
 * body_checks_size_limit bytes of each part. Actions, replies and log lines are the
 * reference's: REJECT, WARN, DISCARD, HOLD, IGNORE, PREPEND, REPLACE, REDIRECT, FILTER, BCC,
 * INFO, DUNNO and OK; anything else is logged as an unknown command and passed over. A
 * message rejected or discarded is not looked at further. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "cleanup.h"
#include "config/cfparams.h"

enum check_class { CLASS_HEADER, CLASS_MIME, CLASS_NESTED, CLASS_BODY, CLASS_COUNT };

static const char *const class_params[CLASS_COUNT] = {
    PN_P(header_checks), PN_P(mime_header_checks), PN_P(nested_header_checks), PN_P(body_checks)};
static pn_maps *class_maps[CLASS_COUNT]; /* NULL: no tables; a shared value shares the maps */

void checks_init(void)
{
    for (int c = 0; c < CLASS_COUNT; c++) {
        const char *value = pn_config_get(class_params[c]);
        for (int k = 0; k < c && class_maps[c] == NULL; k++)
            if (class_maps[k] && strcmp(value, pn_config_get(class_params[k])) == 0)
                class_maps[c] = class_maps[k];
        if (class_maps[c] || *value == 0)
            continue;
        pn_buf err = PN_BUF_INIT;
        class_maps[c] = pn_maps_open(class_params[c], value, PN_DICT_DEFAULT_FLAGS, &err);
        if (class_maps[c] == NULL)
            pn_fatal("%s", err.data);
        pn_buf_release(&err);
    }
}

int checks_changed(void)
{
    for (int c = 0; c < CLASS_COUNT; c++)
        if (class_maps[c] && pn_maps_changed(class_maps[c]))
            return 1;
    return 0;
}

int checks_enabled(void)
{
    for (int c = 0; c < CLASS_COUNT; c++)
        if (class_maps[c])
            return 1;
    return 0;
}

static const char *attr(const cleanup_msg *msg, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < msg->attrs->len; i++)
        if (strncmp(msg->attrs->items[i], name, n) == 0 && msg->attrs->items[i][n] == '=')
            return msg->attrs->items[i] + n + 1;
    return NULL;
}

/* log_action: "ID: action: header TEXT from CLIENT; from=<> to=<> proto=P helo=<H>: why". */
static void log_action(const cleanup_msg *msg, const char *action, int cls, const char *line,
                       const char *why)
{
    const char *name = attr(msg, "client_name"), *addr = attr(msg, "client_addr");
    const char *proto = attr(msg, "client_proto"), *helo = attr(msg, "client_helo");
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "%s: %s: %s %.200s from ", msg->queue_id.data, action,
                  cls == CLASS_BODY ? "body" : "header", line);
    if (name && addr)
        pn_buf_printf(&text, "%s[%s]", name, addr);
    else
        pn_buf_puts(&text, "local");
    pn_buf_printf(&text, "; from=<%s> to=<%s>", msg->sender.data,
                  msg->rcpt_count ? msg->rcpts[0].orig : "");
    if (proto)
        pn_buf_printf(&text, " proto=%s", proto);
    if (helo)
        pn_buf_printf(&text, " helo=<%s>", helo);
    if (why && *why)
        pn_buf_printf(&text, ": %s", why);
    pn_info("%s", text.data);
    pn_buf_release(&text);
}

/* What becomes of the line that was looked up. */
enum line_fate { LINE_KEEP, LINE_DROP, LINE_REPLACE };

static int is_dsn_code(const char *text)
{
    return (text[0] == '4' || text[0] == '5') && text[1] == '.' && isdigit((unsigned char)text[2]) &&
           strchr(text, ' ') != NULL;
}

/* act: carry out one table result for line; the replacement text (REPLACE) goes to repl and a
 * line to insert before it (PREPEND) to prepend. */
static enum line_fate act(cleanup_msg *msg, int cls, const char *line, const char *value,
                          pn_buf *repl, pn_buf *prepend)
{
    size_t n = strcspn(value, " \t");
    char *command = pn_strndup(value, n);
    const char *text = value + n;
    while (*text == ' ' || *text == '\t')
        text++;
    enum line_fate fate = LINE_KEEP;
    if (strcasecmp(command, "REJECT") == 0) {
        pn_buf why = PN_BUF_INIT;
        if (is_dsn_code(text))
            pn_buf_puts(&why, text);
        else
            pn_buf_printf(&why, "5.7.1 %s", *text ? text : "message content rejected");
        log_action(msg, "reject", cls, line, why.data);
        msg->status |= why.data[0] == '4' ? CLEANUP_STAT_DEFER : CLEANUP_STAT_CONTENT;
        pn_buf_set(&msg->reason, why.data);
        pn_buf_release(&why);
    } else if (strcasecmp(command, "WARN") == 0) {
        log_action(msg, "warning", cls, line, text);
    } else if (strcasecmp(command, "INFO") == 0) {
        log_action(msg, "info", cls, line, text);
    } else if (strcasecmp(command, "DISCARD") == 0) {
        log_action(msg, "discard", cls, line, text);
        msg->discard = 1;
    } else if (strcasecmp(command, "HOLD") == 0) {
        log_action(msg, "hold", cls, line, text);
        msg->hold = 1;
    } else if (strcasecmp(command, "IGNORE") == 0) {
        fate = LINE_DROP;
    } else if (strcasecmp(command, "PREPEND") == 0 && *text) {
        log_action(msg, "prepend", cls, line, text);
        pn_buf_set(prepend, text);
    } else if (strcasecmp(command, "REPLACE") == 0 && *text) {
        log_action(msg, "replace", cls, line, text);
        pn_buf_set(repl, text);
        fate = LINE_REPLACE;
    } else if (strcasecmp(command, "REDIRECT") == 0 && *text) {
        log_action(msg, "redirect", cls, line, text);
        pn_buf_set(&msg->redirect, text);
    } else if (strcasecmp(command, "FILTER") == 0 && strchr(text, ':') && text[0] != ':') {
        log_action(msg, "filter", cls, line, text);
        pn_buf_set(&msg->filter, text);
    } else if (strcasecmp(command, "BCC") == 0 && *text) {
        log_action(msg, "bcc", cls, line, text);
        pn_argv_add(msg->bcc, text);
    } else if (strcasecmp(command, "DUNNO") != 0 && strcasecmp(command, "OK") != 0) {
        pn_warn("unknown command in %s map: %s", class_params[cls], value);
    }
    free(command);
    return fate;
}

static int finished(const cleanup_msg *msg)
{
    return msg->status != 0 || msg->discard;
}

/* check_line: look line up in the tables of its class; the line(s) to keep go to out, each
 * followed by end (a header is an argv item, a body line ends with "\n"). */
static void check_line(cleanup_msg *msg, int cls, const char *line, pn_argv *out_headers,
                       pn_buf *out_body)
{
    enum line_fate fate = LINE_KEEP;
    pn_buf value = PN_BUF_INIT, repl = PN_BUF_INIT, prepend = PN_BUF_INIT;
    if (class_maps[cls] && !finished(msg)) {
        int rc = pn_maps_find(class_maps[cls], line, &value);
        if (rc < 0) {
            msg->status |= CLEANUP_STAT_WRITE;
            pn_buf_set(&msg->reason, "4.3.0 header or body checks lookup failure");
            pn_warn("%s: %s lookup failure", msg->queue_id.data, class_params[cls]);
        } else if (rc > 0) {
            fate = act(msg, cls, line, value.data, &repl, &prepend);
        }
    }
    const char *emit[2] = {prepend.len ? prepend.data : NULL,
                           fate == LINE_DROP      ? NULL
                           : fate == LINE_REPLACE ? repl.data
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
static mime_info header_block(cleanup_msg *msg, const pn_buf *body, size_t *pos, int nested,
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
            check_line(msg, is_mime_field(field.data) || !nested ? CLASS_MIME : CLASS_NESTED,
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
static void check_body(cleanup_msg *msg, mime_info primary)
{
    walk w = {{NULL}, 0, pn_config_get_int(PN_P(mime_nesting_limit)), 0,
              pn_config_get_int(PN_P(body_checks_size_limit))};
    pn_buf out = PN_BUF_INIT, line = PN_BUF_INIT;
    pn_buf_init(&out);
    size_t pos = 0;
    if (primary.message) {
        mime_info inner = header_block(msg, &msg->body, &pos, 1, &out);
        push_boundary(&w, inner.boundary);
    }
    push_boundary(&w, primary.boundary);
    while (pos < msg->body.len) {
        const char *start = msg->body.data + pos;
        const char *nl = memchr(start, '\n', msg->body.len - pos);
        size_t len = nl ? (size_t)(nl - start) : msg->body.len - pos;
        pn_buf_set(&line, "");
        pn_buf_append(&line, start, len);
        pos += len + (nl != NULL);
        int last = 0, level = boundary_of(&w, line.data, len, &last);
        int cls = class_maps[CLASS_BODY] && w.segment < w.size_limit ? CLASS_BODY : -1;
        w.segment += (long)len + 1;
        if (cls >= 0)
            check_line(msg, CLASS_BODY, line.data, NULL, &out);
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
        mime_info part = header_block(msg, &msg->body, &pos, 0, &out);
        w.segment = 0;
        if (part.message) {
            mime_info inner = header_block(msg, &msg->body, &pos, 1, &out);
            free(part.boundary);
            part.boundary = inner.boundary;
        }
        push_boundary(&w, part.boundary);
    }
    if (msg->body.len && msg->body.data[msg->body.len - 1] != '\n' && out.len)
        out.len--, out.data[out.len] = 0; /* as received: no final newline added */
    while (w.depth > 0)
        free(w.bounds[--w.depth]);
    pn_buf_release(&msg->body);
    msg->body = out;
    pn_buf_release(&line);
}

void checks_apply(cleanup_msg *msg)
{
    pn_argv *kept = pn_argv_new();
    mime_info primary = {NULL, 0};
    for (size_t i = 0; i < msg->headers->len; i++) {
        const char *field = msg->headers->items[i];
        content_type(field, &primary);
        check_line(msg, is_mime_field(field) ? CLASS_MIME : CLASS_HEADER, field, kept, NULL);
    }
    pn_argv_free(msg->headers);
    msg->headers = kept;
    int walk_body = class_maps[CLASS_BODY] || primary.boundary || primary.message;
    if (!finished(msg) && walk_body && (class_maps[CLASS_BODY] || class_maps[CLASS_MIME] ||
                                        class_maps[CLASS_NESTED]))
        check_body(msg, primary);
    else
        free(primary.boundary);
}
