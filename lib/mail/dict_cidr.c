/* dict_cidr.c: cidr: tables: "network/prefix result" lines (IPv4, IPv6 with or without
 * [brackets]), "!pattern", if/endif; the key is an IP address; the first match wins. */
#include <stdlib.h>
#include <string.h>

#include "base/inet.h"
#include "base/mem.h"
#include "mail/dict_pattern.h"

static void *cidr_compile(char **cursor, size_t *groups, pn_buf *why)
{
    char *start = *cursor;
    size_t len = strcspn(start, " \t");
    char *text = pn_strndup(start, len);
    pn_cidr *cidr = pn_malloc(sizeof(*cidr));
    if (pn_cidr_parse(text, cidr, why) < 0) {
        free(cidr);
        cidr = NULL;
    }
    free(text);
    *cursor = start + len;
    *groups = 0;
    return cidr;
}

static int cidr_match(void *pattern, const char *subject, long *offsets, pn_buf *why)
{
    (void)offsets;
    (void)why;
    pn_inet_addr addr;
    if (pn_inet_parse(subject, &addr) < 0)
        return 0;
    return pn_cidr_match(pattern, &addr);
}

static const pn_pattern_ops cidr_ops = {cidr_compile, cidr_match, free, 0};

pn_dict *pn_dict_cidr_open(const char *type, const char *name, int flags, pn_buf *err)
{
    return pn_dict_pattern_open(type, name, flags, &cidr_ops, err);
}
