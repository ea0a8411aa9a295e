/* strutil.c: string helpers shared by every layer. Parsers here are strict: a value is valid
 * only when every byte of it was consumed. */
#include "base/strutil.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *pn_trim(char *str)
{
    while (*str && strchr(PN_BLANKS, *str))
        str++;
    size_t len = strlen(str);
    while (len > 0 && strchr(PN_BLANKS, str[len - 1]))
        str[--len] = 0;
    return str;
}

char *pn_lowercase(char *str)
{
    for (char *cp = str; *cp; cp++)
        *cp = (char)tolower((unsigned char)*cp);
    return str;
}

int pn_has_prefix(const char *str, const char *prefix)
{
    return strncmp(str, prefix, strlen(prefix)) == 0;
}

int pn_streq_nocase(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

char *pn_strtok(char **cursor, const char *delims)
{
    char *start = *cursor;
    if (start == NULL)
        return NULL;
    start += strspn(start, delims);
    if (*start == 0) {
        *cursor = start;
        return NULL;
    }
    char *end = start + strcspn(start, delims);
    if (*end)
        *end++ = 0;
    *cursor = end;
    return start;
}

int pn_parse_long(const char *str, long *out)
{
    char *end;
    if (*str == 0 || isspace((unsigned char)*str))
        return -1;
    errno = 0;
    long val = strtol(str, &end, 10);
    if (errno != 0 || *end != 0)
        return -1;
    *out = val;
    return 0;
}

int pn_parse_bool(const char *str, int *out)
{
    if (strcasecmp(str, "yes") == 0 || strcasecmp(str, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(str, "no") == 0 || strcasecmp(str, "false") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static long unit_seconds(int unit)
{
    switch (unit) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    case 'w': return 7 * 86400;
    default: return 0;
    }
}

int pn_parse_time(const char *str, int def_unit, long *seconds)
{
    char *end;
    if (!isdigit((unsigned char)*str))
        return -1;
    errno = 0;
    long val = strtol(str, &end, 10);
    if (errno != 0)
        return -1;
    int unit = def_unit;
    if (*end) {
        unit = tolower((unsigned char)*end);
        if (end[1] != 0)
            return -1;
    }
    long mult = unit_seconds(unit);
    if (mult == 0 || val > LONG_MAX / mult)
        return -1;
    *seconds = val * mult;
    return 0;
}

int pn_is_blank(const char *str)
{
    return str[strspn(str, PN_BLANKS)] == 0;
}
