/* argv.c: string vectors and the brace-grouping tokenizer. The tokenizer is the only place
 * that decides what "{ ... }" means, for master.cf, inline: tables and restriction lists. */
#include "base/argv.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/strutil.h"

pn_argv *pn_argv_new(void)
{
    pn_argv *argv = pn_malloc(sizeof(*argv));
    argv->cap = 8;
    argv->len = 0;
    argv->items = pn_malloc(argv->cap * sizeof(char *));
    argv->items[0] = NULL;
    return argv;
}

void pn_argv_addn(pn_argv *argv, const char *item, size_t len)
{
    if (argv->len + 1 >= argv->cap) {
        argv->cap *= 2;
        argv->items = pn_reallocarray(argv->items, argv->cap, sizeof(char *));
    }
    argv->items[argv->len++] = pn_strndup(item, len);
    argv->items[argv->len] = NULL;
}

void pn_argv_add(pn_argv *argv, const char *item)
{
    pn_argv_addn(argv, item, strlen(item));
}

void pn_argv_free(pn_argv *argv)
{
    if (argv == NULL)
        return;
    for (size_t i = 0; i < argv->len; i++)
        free(argv->items[i]);
    free(argv->items);
    free(argv);
}

pn_argv *pn_argv_split(const char *str, const char *delims)
{
    pn_argv *argv = pn_argv_new();
    char *copy = pn_strdup(str);
    char *cursor = copy;
    char *tok;
    while ((tok = pn_strtok(&cursor, delims)) != NULL)
        pn_argv_add(argv, tok);
    free(copy);
    return argv;
}

char *pn_strtok_grouped(char **cursor, const char *delims, const char **err)
{
    char *start = *cursor;
    *err = NULL;
    if (start == NULL)
        return NULL;
    start += strspn(start, delims);
    if (*start == 0) {
        *cursor = start;
        return NULL;
    }
    if (*start != '{') {
        /* A plain token may hold a braced part, as in inline:{ a=1, b=2 }. */
        char *end = start;
        int depth = 0;
        for (; *end && (depth > 0 || strchr(delims, *end) == NULL); end++) {
            if (*end == '{')
                depth++;
            else if (*end == '}' && depth > 0)
                depth--;
        }
        if (depth > 0) {
            *err = "missing '}'";
            return NULL;
        }
        if (*end)
            *end++ = 0;
        *cursor = end;
        return start;
    }
    int depth = 0;
    char *cp;
    for (cp = start; *cp; cp++) {
        if (*cp == '{')
            depth++;
        else if (*cp == '}' && --depth == 0)
            break;
    }
    if (*cp != '}') {
        *err = "missing '}'";
        return NULL;
    }
    char *after = cp + 1;
    if (*after && strchr(delims, *after) == NULL) {
        *err = "syntax error after '}'";
        return NULL;
    }
    *cp = 0;
    *cursor = *after ? after + 1 : after;
    return pn_trim(start + 1);
}

pn_argv *pn_argv_split_grouped(const char *str, const char *delims, const char **err)
{
    pn_argv *argv = pn_argv_new();
    char *copy = pn_strdup(str);
    char *cursor = copy;
    char *tok;
    while ((tok = pn_strtok_grouped(&cursor, delims, err)) != NULL)
        pn_argv_add(argv, tok);
    free(copy);
    if (*err) {
        pn_argv_free(argv);
        return NULL;
    }
    return argv;
}
