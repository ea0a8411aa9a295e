/* delimited.c: the /pattern/flags reader shared by the regexp: and pcre: back ends. */
#include "mail/delimited.h"

#include <ctype.h>
#include <string.h>

int pn_delimited_parse(char **cursor, pn_buf *pattern, pn_buf *flags, pn_buf *why)
{
    char *cp = *cursor;
    char delim = *cp;
    if (delim == 0 || isspace((unsigned char)delim) || isalnum((unsigned char)delim)) {
        pn_buf_printf(why, "no pattern delimiter in \"%s\"", *cursor);
        return -1;
    }
    pn_buf_reset(pattern);
    for (cp++; *cp && *cp != delim; cp++) {
        if (*cp == '\\' && cp[1] == delim)
            cp++;
        else if (*cp == '\\' && cp[1])
            pn_buf_putc(pattern, *cp++);
        pn_buf_putc(pattern, *cp);
    }
    if (*cp != delim) {
        pn_buf_printf(why, "missing closing delimiter '%c' in \"%s\"", delim, *cursor);
        return -1;
    }
    cp++;
    pn_buf_reset(flags);
    while (*cp && !isspace((unsigned char)*cp))
        pn_buf_putc(flags, *cp++);
    *cursor = cp;
    return 0;
}
