/* dict_pattern.h: the engine shared by the pattern tables (regexp:, pcre:, cidr:): ordered
 * rules, "!" negation, if/endif blocks, first match wins, $n substitution in results. A back
 * end supplies only how a pattern is parsed, compiled and matched. */
#ifndef PN_MAIL_DICT_PATTERN_H
#define PN_MAIL_DICT_PATTERN_H
#include <stddef.h>

#include "base/buf.h"
#include "mail/dict.h"

#define PN_PATTERN_MAX_GROUPS 10

typedef struct pn_pattern_ops {
    /* compile the pattern at *cursor (advancing past it); NULL with why set on error.
     * *groups = number of capture groups. */
    void *(*compile)(char **cursor, size_t *groups, pn_buf *why);
    /* 1 match (offsets: start/end pairs, -1 unset), 0 no match, -1 error (why set). */
    int (*match)(void *pattern, const char *subject, long *offsets, pn_buf *why);
    void (*release)(void *pattern);
    int substitutes; /* results may use $n */
} pn_pattern_ops;

pn_dict *pn_dict_pattern_open(const char *type, const char *path, int flags,
                              const pn_pattern_ops *ops, pn_buf *err);

#endif
