/* dns.h: DNS through c-ares for the smtp client: MX records sorted by preference (equal
 * preferences shuffled), null MX, A/AAAA addresses and TLSA records. The channel is created
 * once, before the chroot (it reads /etc/resolv.conf then); queries block until answered or
 * timed out. The mode is <prefix>_dns_support_level's: in DNSSEC mode each lookup says
 * whether its answer was validated ("secure"). */
#ifndef PN_MAIL_DNS_H
#define PN_MAIL_DNS_H
#include "base/argv.h"
#include "base/buf.h"
#include "base/inet.h"
#include "base/sock.h"

#define PN_DNS_OK 0
#define PN_DNS_NOTFOUND 1 /* the name (or record type) does not exist */
#define PN_DNS_RETRY -1   /* no answer now: try again later */

#define PN_DNS_ENABLED 0
#define PN_DNS_DISABLED 1 /* no DNS: host addresses from getaddrinfo(), no MX lookups */
#define PN_DNS_DNSSEC 2   /* DNS with validation asked for, and its outcome read */

typedef struct pn_mx {
    char host[256];
    int preference;
} pn_mx;

typedef struct pn_tlsa {
    unsigned char usage, selector, mtype;
    unsigned char *data;
    size_t len;
} pn_tlsa;

int pn_dns_init(pn_buf *why);
/* A source of answers in place of the resolver (tests that bring their own): for the name
 * and type asked, the whole DNS message in *abuf (kept by the source) and 0, or -1 for no
 * answer at all. NULL restores the resolver. Host name lookups by address are not covered. */
typedef int (*pn_dns_source)(const char *name, int type, const unsigned char **abuf, int *alen,
                             void *ctx);
void pn_dns_set_source(pn_dns_source source, void *ctx);
/* pn_dns_mode_of: the mode a dns_support_level value names ("" and "enabled": enabled). */
int pn_dns_mode_of(const char *level);
void pn_dns_set_mode(int mode);
int pn_dns_mode(void);
/* pn_dns_mx: the MX hosts of domain; *null_mx set for a "0 ." record (RFC 7505). secure
 * (may be NULL): the answer, or the name's non-existence, was validated. */
int pn_dns_mx(const char *domain, pn_mx **list, int *count, int *null_mx, int *secure, pn_buf *why);
/* pn_dns_addrs: the IPv4 and IPv6 addresses of host, with port, as inet_protocols allows;
 * secure (may be NULL): every answer was validated. */
int pn_dns_addrs(const char *host, int port, pn_addrlist *out, int *secure, pn_buf *why);
/* pn_dns_tlsa: the TLSA records of _port._tcp.host (PN_DNS_NOTFOUND: none), and whether the
 * answer was validated. */
int pn_dns_tlsa(const char *host, int port, pn_tlsa **list, int *count, int *secure, pn_buf *why);
void pn_dns_tlsa_free(pn_tlsa *list, int count);
/* pn_dns_a: the IPv4 addresses (at most max) of name, as a DNS list query wants them. */
int pn_dns_a(const char *name, unsigned char (*addrs)[4], int max, int *n, pn_buf *why);
/* pn_dns_ns: the name servers of domain, appended to hosts. */
int pn_dns_ns(const char *domain, pn_argv *hosts, pn_buf *why);
/* pn_dns_txt: the TXT records of name appended to text, " / " between records. */
int pn_dns_txt(const char *name, pn_buf *text, pn_buf *why);

/* pn_dns_name_of: the host name of addr (its PTR record, or the hosts file), waiting at most
 * timeout_ms. Unverified: see pn_dns_name_has. */
int pn_dns_name_of(const pn_inet_addr *addr, pn_buf *name, int timeout_ms);
/* pn_dns_name_has: PN_DNS_OK when name resolves to addr among others, PN_DNS_NOTFOUND when
 * it resolves to other addresses only (why says so) or not at all, PN_DNS_RETRY on a
 * temporary failure or timeout. */
int pn_dns_name_has(const char *name, const pn_inet_addr *addr, int timeout_ms, pn_buf *why);

#endif
