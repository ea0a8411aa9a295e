/* dns.h: DNS through c-ares for the smtp client: MX records sorted by preference (equal
 * preferences shuffled), null MX, and A/AAAA addresses. The channel is created once, before
 * the chroot (it reads /etc/resolv.conf then); queries block until answered or timed out. */
#ifndef PN_MAIL_DNS_H
#define PN_MAIL_DNS_H
#include "base/buf.h"
#include "base/inet.h"
#include "base/sock.h"

#define PN_DNS_OK 0
#define PN_DNS_NOTFOUND 1 /* the name (or record type) does not exist */
#define PN_DNS_RETRY -1   /* no answer now: try again later */

typedef struct pn_mx {
    char host[256];
    int preference;
} pn_mx;

int pn_dns_init(pn_buf *why);
/* pn_dns_mx: the MX hosts of domain; *null_mx set for a "0 ." record (RFC 7505). */
int pn_dns_mx(const char *domain, pn_mx **list, int *count, int *null_mx, pn_buf *why);
/* pn_dns_addrs: the IPv4 and IPv6 addresses of host, with port, as inet_protocols allows. */
int pn_dns_addrs(const char *host, int port, pn_addrlist *out, pn_buf *why);

/* pn_dns_name_of: the host name of addr (its PTR record, or the hosts file), waiting at most
 * timeout_ms. Unverified: see pn_dns_name_has. */
int pn_dns_name_of(const pn_inet_addr *addr, pn_buf *name, int timeout_ms);
/* pn_dns_name_has: PN_DNS_OK when name resolves to addr among others, PN_DNS_NOTFOUND when
 * it resolves to other addresses only (why says so) or not at all, PN_DNS_RETRY on a
 * temporary failure or timeout. */
int pn_dns_name_has(const char *name, const pn_inet_addr *addr, int timeout_ms, pn_buf *why);

#endif
