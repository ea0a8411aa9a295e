/* argv.h: growable NULL-terminated string vectors, and the tokenizer that understands the
 * "{ text with blanks }" grouping of master.cf arguments and table specifications. */
#ifndef PN_BASE_ARGV_H
#define PN_BASE_ARGV_H
#include <stddef.h>

typedef struct pn_argv {
    char **items; /* NULL-terminated */
    size_t len;
    size_t cap;
} pn_argv;

pn_argv *pn_argv_new(void);
void pn_argv_add(pn_argv *argv, const char *item);
void pn_argv_addn(pn_argv *argv, const char *item, size_t len);
void pn_argv_free(pn_argv *argv);
/* pn_argv_split: tokens separated by any of delims. */
pn_argv *pn_argv_split(const char *str, const char *delims);
/* pn_strtok_grouped: like pn_strtok, but a token that starts with '{' runs to the matching
 * '}'; the braces and the blanks just inside them are removed. Other tokens may hold a
 * braced part ("inline:{ a=1, b=2 }") that delimiters do not split. On bad syntax returns NULL
 * and sets *err to a static message. */
char *pn_strtok_grouped(char **cursor, const char *delims, const char **err);
/* pn_argv_split_grouped: all grouped tokens; NULL with *err set on bad syntax. */
pn_argv *pn_argv_split_grouped(const char *str, const char *delims, const char **err);

#endif
