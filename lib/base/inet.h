/* inet.h: IP address parsing and CIDR matching (a.b.c.d/n, [v6]/n, v6/n). An IPv4-mapped IPv6
 * address is matched as the IPv4 address it carries only when the caller converts it first. */
#ifndef PN_BASE_INET_H
#define PN_BASE_INET_H
#include <stdint.h>

#include "base/buf.h"

typedef struct pn_inet_addr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
} pn_inet_addr;

typedef struct pn_cidr {
    pn_inet_addr net;
    int prefix; /* bits */
} pn_cidr;

/* pn_inet_parse: a literal IPv4 or IPv6 address, with or without [brackets]. 0 or -1. */
int pn_inet_parse(const char *text, pn_inet_addr *out);
/* pn_inet_unmap: turn ::ffff:a.b.c.d into a.b.c.d; other addresses stay as they are. */
void pn_inet_unmap(pn_inet_addr *addr);
/* pn_cidr_parse: "net/len" or a bare address. Host bits must be zero; else -1 and why. */
int pn_cidr_parse(const char *text, pn_cidr *out, pn_buf *why);
int pn_cidr_match(const pn_cidr *cidr, const pn_inet_addr *addr);

/* pn_inet_my_hostname: this host's name; a name without a dot gets ".domain" appended
 * (domain when given, else "localdomain"). */
void pn_inet_my_hostname(pn_buf *out, const char *domain);
/* pn_inet_my_networks: the networks of this host's interfaces in mynetworks syntax, for
 * style "host" (each address alone), "subnet" (attached subnets) or "class" (IPv4 class
 * networks); IPv4 first, then IPv6 in [brackets]. */
void pn_inet_my_networks(pn_buf *out, const char *style);

/* pn_inet_is_local: the address is one this host listens on for inet_interfaces ("all":
 * any interface address, "loopback-only", or a list of addresses). */
int pn_inet_is_local(const pn_inet_addr *addr, const char *interfaces);

#endif
