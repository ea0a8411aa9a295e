/* dict_regexp.c: regexp: tables with POSIX extended regular expressions. Matching is
 * case-insensitive unless the flag i toggles it; x toggles extended syntax, m makes ^ and $
 * match at line ends. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "mail/delimited.h"
#include "mail/dict_pattern.h"

static void *regexp_compile(char **cursor, size_t *groups, pn_buf *why)
{
    pn_buf pattern = PN_BUF_INIT, flags = PN_BUF_INIT;
    pn_buf_init(&pattern);
    pn_buf_init(&flags);
    regex_t *re = NULL;
    if (pn_delimited_parse(cursor, &pattern, &flags, why) < 0)
        goto out;
    int cflags = REG_EXTENDED | REG_ICASE;
    for (const char *f = flags.data; *f; f++) {
        switch (*f) {
        case 'i': cflags ^= REG_ICASE; break;
        case 'x': cflags ^= REG_EXTENDED; break;
        case 'm': cflags ^= REG_NEWLINE; break;
        default: pn_buf_printf(why, "unknown regexp option \"%c\"", *f); goto out;
        }
    }
    re = pn_malloc(sizeof(*re));
    int rc = regcomp(re, pattern.data, cflags);
    if (rc != 0) {
        char msg[256];
        regerror(rc, re, msg, sizeof(msg));
        pn_buf_printf(why, "regexp error in \"%s\": %s", pattern.data, msg);
        free(re);
        re = NULL;
        goto out;
    }
    *groups = re->re_nsub;
out:
    pn_buf_release(&pattern);
    pn_buf_release(&flags);
    return re;
}

static int regexp_match(void *pattern, const char *subject, long *offsets, pn_buf *why)
{
    (void)why;
    regmatch_t m[PN_PATTERN_MAX_GROUPS];
    if (regexec(pattern, subject, PN_PATTERN_MAX_GROUPS, m, 0) != 0)
        return 0;
    for (int i = 0; i < PN_PATTERN_MAX_GROUPS; i++) {
        offsets[2 * i] = m[i].rm_so;
        offsets[2 * i + 1] = m[i].rm_eo;
    }
    return 1;
}

static void regexp_release(void *pattern)
{
    regfree(pattern);
    free(pattern);
}

static const pn_pattern_ops regexp_ops = {regexp_compile, regexp_match, regexp_release, 1};

pn_dict *pn_dict_regexp_open(const char *type, const char *name, int flags, pn_buf *err)
{
    return pn_dict_pattern_open(type, name, flags, &regexp_ops, err);
}
