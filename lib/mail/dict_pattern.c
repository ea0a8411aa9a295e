/* dict_pattern.c: reads a pattern table file (or "{ {rule}, ... }" written inline) into rules
 * and evaluates them in order. An
 * "if" whose pattern does not match skips to its "endif". Syntax errors name file and line
 * and make the open fail: a half-read pattern table would silently change mail routing. */
#include "mail/dict_pattern.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfline.h"

enum rule_kind { RULE_MATCH, RULE_IF, RULE_ENDIF };

struct rule {
    enum rule_kind kind;
    int negate;
    void *pattern;
    char *result;   /* RULE_MATCH */
    size_t skip_to; /* RULE_IF: index of the matching endif */
    int line;
};

typedef struct dict_pattern {
    pn_dict dict;
    const pn_pattern_ops *ops;
    struct rule *rules;
    size_t count;
} dict_pattern;

/* check_result: every $n must name a group the pattern has. */
static int check_result(const char *result, size_t groups, pn_buf *why)
{
    for (const char *cp = result; (cp = strchr(cp, '$')) != NULL; cp++) {
        const char *num = cp + 1;
        if (*num == '$') {
            cp++;
            continue;
        }
        if (*num == '{')
            num++;
        if (!isdigit((unsigned char)*num))
            continue;
        long n = strtol(num, NULL, 10);
        if (n > (long)groups || n >= PN_PATTERN_MAX_GROUPS) {
            pn_buf_printf(why, "out-of-range substitution $%ld in \"%s\"", n, result);
            return -1;
        }
    }
    return 0;
}

static void substitute(const char *result, const char *subject, const long *offsets, pn_buf *out)
{
    pn_buf_reset(out);
    for (const char *cp = result; *cp; cp++) {
        if (*cp != '$') {
            pn_buf_putc(out, *cp);
            continue;
        }
        if (cp[1] == '$') {
            pn_buf_putc(out, '$');
            cp++;
            continue;
        }
        const char *num = cp + 1;
        int braced = *num == '{';
        if (braced)
            num++;
        if (!isdigit((unsigned char)*num)) {
            pn_buf_putc(out, '$');
            continue;
        }
        char *end;
        long n = strtol(num, &end, 10);
        if (braced && *end == '}')
            end++;
        if (n < PN_PATTERN_MAX_GROUPS && offsets[2 * n] >= 0)
            pn_buf_append(out, subject + offsets[2 * n],
                          (size_t)(offsets[2 * n + 1] - offsets[2 * n]));
        cp = end - 1;
    }
}

static int pattern_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    dict_pattern *d = (dict_pattern *)dict;
    long offsets[2 * PN_PATTERN_MAX_GROUPS];
    for (size_t i = 0; i < d->count; i++) {
        struct rule *r = &d->rules[i];
        if (r->kind == RULE_ENDIF)
            continue;
        for (int k = 0; k < 2 * PN_PATTERN_MAX_GROUPS; k++)
            offsets[k] = -1;
        pn_buf_reset(&dict->error);
        int m = d->ops->match(r->pattern, key, offsets, &dict->error);
        if (m < 0)
            return -1;
        if (r->negate)
            m = !m;
        if (r->kind == RULE_IF) {
            if (!m)
                i = r->skip_to;
            continue;
        }
        if (m) {
            if (d->ops->substitutes && !r->negate)
                substitute(r->result, key, offsets, value);
            else
                pn_buf_set(value, r->result);
            return 1;
        }
    }
    return 0;
}

static void pattern_free(pn_dict *dict)
{
    dict_pattern *d = (dict_pattern *)dict;
    for (size_t i = 0; i < d->count; i++) {
        if (d->rules[i].pattern)
            d->ops->release(d->rules[i].pattern);
        free(d->rules[i].result);
    }
    free(d->rules);
}

static int parse_line(dict_pattern *d, char *text, int line, size_t *open_ifs, size_t *depth,
                      pn_buf *why)
{
    struct rule r;
    memset(&r, 0, sizeof(r));
    r.line = line;
    char *cursor = text;
    if (strcmp(text, "endif") == 0) {
        if (*depth == 0) {
            pn_buf_puts(why, "ignoring ENDIF without matching IF");
            return -1;
        }
        d->rules[open_ifs[--*depth]].skip_to = d->count;
        r.kind = RULE_ENDIF;
        goto add;
    }
    if (strncmp(text, "if", 2) == 0 && isspace((unsigned char)text[2])) {
        r.kind = RULE_IF;
        cursor = text + 3;
        cursor += strspn(cursor, " \t");
    }
    if (*cursor == '!') {
        r.negate = 1;
        cursor++;
    }
    size_t groups = 0;
    r.pattern = d->ops->compile(&cursor, &groups, why);
    if (r.pattern == NULL)
        return -1;
    char *rest = pn_trim(cursor);
    if (r.kind == RULE_IF) {
        if (*rest) {
            pn_buf_printf(why, "text after IF pattern: \"%s\"", rest);
            goto bad;
        }
        if (*depth >= 100) {
            pn_buf_puts(why, "IF nested too deeply");
            goto bad;
        }
        open_ifs[(*depth)++] = d->count;
    } else {
        if (*rest == 0) {
            pn_buf_puts(why, "no replacement text");
            goto bad;
        }
        if (d->ops->substitutes && !r.negate && check_result(rest, groups, why) < 0)
            goto bad;
        r.result = pn_strdup(rest);
    }
add:
    d->rules = pn_reallocarray(d->rules, d->count + 1, sizeof(struct rule));
    d->rules[d->count++] = r;
    return 0;
bad:
    d->ops->release(r.pattern);
    return -1;
}

/* open_inline: "{ {rule}, {rule} }" written in main.cf itself, as the reference allows since
 * 3.7: each braced item is one rule, numbered as a line. */
static pn_dict *open_inline(const char *type, const char *spec, int flags,
                            const pn_pattern_ops *ops, pn_buf *err)
{
    size_t n = strlen(spec);
    if (n < 2 || spec[n - 1] != '}') {
        pn_buf_printf(err, "%s:%s: missing '}'", type, spec);
        return NULL;
    }
    char *inner = pn_strndup(spec + 1, n - 2);
    const char *why_split = NULL;
    pn_argv *items = pn_argv_split_grouped(inner, ", \t\r\n", &why_split);
    free(inner);
    if (items == NULL) {
        pn_buf_printf(err, "%s:%s: %s", type, spec, why_split);
        return NULL;
    }
    dict_pattern *d = (dict_pattern *)pn_dict_alloc(
        type, spec, (flags & ~PN_DICT_FOLD_KEYS) | PN_DICT_PATTERN, sizeof(dict_pattern));
    d->ops = ops;
    d->dict.lookup = pattern_lookup;
    d->dict.free_backend = pattern_free;
    size_t open_ifs[100], depth = 0;
    pn_buf why = PN_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < items->len; i++) {
        char *rule = items->items[i];
        size_t len = strlen(rule);
        if (rule[0] == '{' && len >= 2 && rule[len - 1] == '}') {
            rule[len - 1] = 0;
            rule++;
        }
        if (parse_line(d, pn_trim(rule), (int)i + 1, open_ifs, &depth, &why) < 0) {
            pn_buf_printf(err, "%s:%s, rule %zu: %s", type, spec, i + 1, why.data);
            rc = -1;
        }
    }
    if (rc == 0 && depth > 0) {
        pn_buf_printf(err, "%s:%s: IF without a matching ENDIF", type, spec);
        rc = -1;
    }
    pn_argv_free(items);
    pn_buf_release(&why);
    if (rc < 0) {
        pn_dict_abort(&d->dict);
        return NULL;
    }
    return &d->dict;
}

pn_dict *pn_dict_pattern_open(const char *type, const char *path, int flags,
                              const pn_pattern_ops *ops, pn_buf *err)
{
    if (path[0] == '{')
        return open_inline(type, path, flags, ops, err);
    pn_stream *stream = pn_stream_open(path, O_RDONLY, 0);
    if (stream == NULL) {
        pn_buf_printf(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    dict_pattern *d = (dict_pattern *)pn_dict_alloc(
        type, path, (flags & ~PN_DICT_FOLD_KEYS) | PN_DICT_PATTERN, sizeof(dict_pattern));
    d->ops = ops;
    d->dict.lookup = pattern_lookup;
    d->dict.free_backend = pattern_free;
    pn_cfline lines;
    pn_cfline_init(&lines, stream, path, PN_CFLINE_JOIN_SPACE);
    pn_buf line = PN_BUF_INIT, why = PN_BUF_INIT;
    size_t open_ifs[100], depth = 0;
    int rc;
    while ((rc = pn_cfline_next(&lines, &line)) > 0) {
        pn_buf_reset(&why);
        if (parse_line(d, pn_trim(line.data), lines.start_line, open_ifs, &depth, &why) < 0) {
            pn_buf_printf(err, "%s, line %d: %s", path, lines.start_line, why.data);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && depth > 0) {
        pn_buf_printf(err, "%s, line %d: IF at line %d has no matching ENDIF", path, lines.lineno,
                      d->rules[open_ifs[depth - 1]].line);
        rc = -1;
    }
    if (rc < 0 && err->len == 0)
        pn_buf_puts(err, pn_buf_str(&lines.error));
    pn_cfline_release(&lines);
    pn_stream_close(stream);
    pn_buf_release(&line);
    pn_buf_release(&why);
    if (rc < 0) {
        pn_dict_abort(&d->dict);
        return NULL;
    }
    pn_dict_watch_file(&d->dict, path);
    return &d->dict;
}
