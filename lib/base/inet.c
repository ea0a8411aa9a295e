/* inet.c: address literals and CIDR patterns, for cidr: tables, mynetworks and access maps.
 * Matching never crosses address families. */
#include "base/inet.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/strutil.h"

int pn_inet_parse(const char *text, pn_inet_addr *out)
{
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t len = strlen(text);
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, text, len);
    tmp[len] = 0;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, tmp, out->bytes) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, out->bytes) == 1) {
        out->family = AF_INET6;
        return 0;
    }
    return -1;
}

void pn_inet_unmap(pn_inet_addr *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (addr->family == AF_INET6 && memcmp(addr->bytes, mapped, 12) == 0) {
        memmove(addr->bytes, addr->bytes + 12, 4);
        memset(addr->bytes + 4, 0, 12);
        addr->family = AF_INET;
    }
}

static int addr_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

int pn_cidr_parse(const char *text, pn_cidr *out, pn_buf *why)
{
    char *copy = pn_strdup(text);
    char *slash = strrchr(copy, '/');
    long prefix = -1;
    int rc = -1;
    if (slash) {
        *slash = 0;
        if (pn_parse_long(slash + 1, &prefix) < 0 || prefix < 0) {
            pn_buf_printf(why, "bad net/mask pattern: \"%s\"", text);
            goto out;
        }
    }
    if (pn_inet_parse(copy, &out->net) < 0) {
        pn_buf_printf(why, "bad address pattern: \"%s\"", text);
        goto out;
    }
    int bits = addr_bits(out->net.family);
    if (prefix < 0)
        prefix = bits;
    if (prefix > bits) {
        pn_buf_printf(why, "bad mask length in \"%s\"", text);
        goto out;
    }
    out->prefix = (int)prefix;
    for (int i = (int)prefix; i < bits; i++) {
        if (out->net.bytes[i / 8] & (0x80 >> (i % 8))) {
            pn_buf_printf(why, "non-null host address bits in \"%s\"", text);
            goto out;
        }
    }
    rc = 0;
out:
    free(copy);
    return rc;
}

int pn_cidr_match(const pn_cidr *cidr, const pn_inet_addr *addr)
{
    if (cidr->net.family != addr->family)
        return 0;
    int full = cidr->prefix / 8;
    if (memcmp(cidr->net.bytes, addr->bytes, (size_t)full) != 0)
        return 0;
    int rest = cidr->prefix % 8;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (cidr->net.bytes[full] & mask) == (addr->bytes[full] & mask);
}
