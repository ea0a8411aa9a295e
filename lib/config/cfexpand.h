/* cfexpand.h: $-expansion of parameter values: $name, ${name}, $(name), ${name?value},
 * ${name:value}, ${name?{a}:{b}}, ${{a} op {b} ? {x} : {y}} (==, !=, <, <=, >, >=, and the
 * compatibility-level forms <level ...), and $$. Loops are detected, not recursed into. */
#ifndef PN_CONFIG_CFEXPAND_H
#define PN_CONFIG_CFEXPAND_H
#include "base/buf.h"

/* The raw value of a name, or NULL when the name is undefined (which expands to nothing). */
typedef const char *(*pn_expand_lookup)(const char *name, void *ctx);
/* Told about each undefined name that was referenced. */
typedef void (*pn_expand_undefined)(const char *name, void *ctx);

#define PN_EXPAND_RECURSE 1 /* expand the values of referenced names as well */

typedef struct pn_expand_ctx {
    pn_expand_lookup lookup;
    pn_expand_undefined undefined; /* may be NULL */
    void *ctx;
    int flags;
    const char *self; /* the name whose value is being expanded, for loop detection */
} pn_expand_ctx;

/* pn_expand: appends the expansion of text to out. Returns 0, or -1 with err set. */
int pn_expand(const pn_expand_ctx *ec, const char *text, pn_buf *out, pn_buf *err);
/* pn_compat_level_cmp: compare "3.6", "2", "3.10.1" numerically; <0, 0, >0. */
int pn_compat_level_cmp(const char *a, const char *b);
/* pn_compat_level_valid: the text is a compatibility level ("N", "N.N", "N.N.N"). */
int pn_compat_level_valid(const char *text);

#endif
