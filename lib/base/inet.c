/* inet.c: address literals and CIDR patterns, for cidr: tables, mynetworks and access maps.
 * Matching never crosses address families. */
#include "base/inet.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>
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

void pn_inet_my_hostname(pn_buf *out, const char *domain)
{
    char name[256];
    if (gethostname(name, sizeof(name) - 1) < 0)
        snprintf(name, sizeof(name), "localhost");
    name[sizeof(name) - 1] = 0;
    pn_buf_puts(out, name);
    if (strchr(name, '.') == NULL)
        pn_buf_printf(out, ".%s", domain && *domain ? domain : "localdomain");
}

/* network_of: the address with the bits past prefix cleared. */
static void network_of(pn_inet_addr *addr, int prefix)
{
    int bits = addr_bits(addr->family);
    for (int i = prefix; i < bits; i++)
        addr->bytes[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
}

static int prefix_of(const struct sockaddr *mask, int family)
{
    const uint8_t *bytes = family == AF_INET
                               ? (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr
                               : (const uint8_t *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
    int n = 0;
    for (int i = 0; i < addr_bits(family) / 8; i++)
        n += __builtin_popcount(bytes[i]);
    return n;
}

static int class_prefix(const pn_inet_addr *addr)
{
    uint8_t first = addr->bytes[0];
    if (first < 128)
        return 8;
    if (first < 192)
        return 16;
    if (first < 224)
        return 24;
    return 32;
}

static void add_network(pn_buf *out, int family, const pn_inet_addr *addr, int prefix)
{
    char text[INET6_ADDRSTRLEN];
    pn_buf item = PN_BUF_INIT;
    inet_ntop(family, addr->bytes, text, sizeof(text));
    if (family == AF_INET)
        pn_buf_printf(&item, "%s/%d", text, prefix);
    else
        pn_buf_printf(&item, "[%s]/%d", text, prefix);
    /* Skip duplicates: two interfaces on one subnet. */
    pn_buf padded = PN_BUF_INIT;
    pn_buf_printf(&padded, " %s ", pn_buf_str(out));
    pn_buf needle = PN_BUF_INIT;
    pn_buf_printf(&needle, " %s ", item.data);
    if (strstr(padded.data, needle.data) == NULL) {
        if (out->len)
            pn_buf_putc(out, ' ');
        pn_buf_puts(out, item.data);
    }
    pn_buf_release(&item);
    pn_buf_release(&padded);
    pn_buf_release(&needle);
}

void pn_inet_my_networks(pn_buf *out, const char *style)
{
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0) {
        pn_buf_puts(out, "127.0.0.0/8 [::1]/128");
        return;
    }
    static const int families[] = {AF_INET, AF_INET6};
    for (int f = 0; f < 2; f++) {
        int family = families[f];
        for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
            if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != family)
                continue;
            pn_inet_addr addr;
            memset(&addr, 0, sizeof(addr));
            addr.family = family;
            if (family == AF_INET)
                memcpy(addr.bytes, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, 4);
            else
                memcpy(addr.bytes, &((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr, 16);
            int prefix = addr_bits(family);
            if (strcmp(style, "host") != 0 && ifa->ifa_netmask)
                prefix = prefix_of(ifa->ifa_netmask, family);
            if (strcmp(style, "class") == 0 && family == AF_INET)
                prefix = class_prefix(&addr) < prefix ? class_prefix(&addr) : prefix;
            network_of(&addr, prefix);
            add_network(out, family, &addr, prefix);
        }
    }
    freeifaddrs(list);
}

int pn_inet_is_local(const pn_inet_addr *addr, const char *interfaces)
{
    if (interfaces && strcmp(interfaces, "all") != 0 && *interfaces) {
        const char *list = strcmp(interfaces, "loopback-only") == 0 ? "127.0.0.1 ::1" : interfaces;
        char *copy = pn_strdup(list), *cursor = copy, *item;
        int found = 0;
        while (!found && (item = pn_strtok(&cursor, ", \t")) != NULL) {
            pn_inet_addr other;
            found = pn_inet_parse(item, &other) == 0 && other.family == addr->family &&
                    memcmp(other.bytes, addr->bytes, addr->family == AF_INET ? 4 : 16) == 0;
        }
        free(copy);
        return found;
    }
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0)
        return 0;
    int found = 0;
    for (struct ifaddrs *ifa = ifs; ifa && !found; ifa = ifa->ifa_next) {
        if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != addr->family)
            continue;
        const void *bytes = addr->family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)ifa->ifa_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
        found = memcmp(bytes, addr->bytes, addr->family == AF_INET ? 4 : 16) == 0;
    }
    freeifaddrs(ifs);
    return found;
}
