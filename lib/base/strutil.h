/* strutil.h: small string helpers: trimming, case folding, tokenising, and strict parsing of
 * integers, sizes, booleans and time values with units. */
#ifndef PN_BASE_STRUTIL_H
#define PN_BASE_STRUTIL_H
#include <stddef.h>

#define PN_BLANKS " \t\r\n"
#define PN_SEPARATORS ", \t\r\n"

/* pn_trim: drop leading and trailing blanks in place; returns the first non-blank. */
char *pn_trim(char *str);
char *pn_lowercase(char *str);
int pn_has_prefix(const char *str, const char *prefix);
int pn_streq_nocase(const char *a, const char *b);
/* pn_strtok: next token separated by any of delims, or NULL; advances *cursor. */
char *pn_strtok(char **cursor, const char *delims);
/* Strict parsers: return 0 on success, -1 when the text is not entirely a valid value. */
int pn_parse_long(const char *str, long *out);
int pn_parse_bool(const char *str, int *out);
/* pn_parse_time: number with optional unit s, m, h, d or w; def_unit applies when none. */
int pn_parse_time(const char *str, int def_unit, long *seconds);
/* pn_is_blank_line: only blanks (or empty). */
int pn_is_blank(const char *str);

#endif
