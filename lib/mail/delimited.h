/* delimited.h: splitting "/pattern/flags" as regexp: and pcre: tables write patterns. */
#ifndef PN_MAIL_DELIMITED_H
#define PN_MAIL_DELIMITED_H
#include "base/buf.h"

/* pn_delimited_parse: at *cursor, a delimiter character, the pattern (a backslash before the
 * delimiter makes it literal), the delimiter again, then flag letters. Advances *cursor past
 * the flags. 0, or -1 with why set. */
int pn_delimited_parse(char **cursor, pn_buf *pattern, pn_buf *flags, pn_buf *why);

#endif
