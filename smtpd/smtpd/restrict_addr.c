/* restrict_addr.c: the restrictions' view of addresses and names: trivial-rewrite's address
 * class (or this process's resolver, for the golden tests), whether a recipient or sender
 * exists in its class's table, what DNS says of a domain (reject_unknown_*_domain, a HELO
 * name) and permit_mx_backup. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/dns.h"
#include "mail/resolve.h"
#include "mail/resolveclnt.h"
#include "restrict.h"

static pn_maps *local_rcpt_maps, *alias_maps, *mailbox_maps, *relay_rcpt_maps;
static pn_resolve_client *resolver;
static pn_resolver *local_resolver; /* set: addresses are resolved in this process */
static pn_cidr *backup_nets;        /* permit_mx_backup_networks */
static size_t backup_net_count;

void rx_addr_init(void)
{
    local_rcpt_maps =
        rx_open_maps(PN_P(local_recipient_maps), pn_config_get(PN_P(local_recipient_maps)));
    alias_maps = rx_open_maps(PN_P(virtual_alias_maps), pn_config_get(PN_P(virtual_alias_maps)));
    mailbox_maps =
        rx_open_maps(PN_P(virtual_mailbox_maps), pn_config_get(PN_P(virtual_mailbox_maps)));
    relay_rcpt_maps =
        rx_open_maps(PN_P(relay_recipient_maps), pn_config_get(PN_P(relay_recipient_maps)));
    backup_net_count = rx_parse_nets(PN_P(permit_mx_backup_networks), &backup_nets);
    resolver = pn_resolve_client_new();
}

void rx_addr_free(void)
{
    pn_maps *maps[] = {local_rcpt_maps, alias_maps, mailbox_maps, relay_rcpt_maps};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
        pn_maps_free(maps[i]);
    local_rcpt_maps = alias_maps = mailbox_maps = relay_rcpt_maps = NULL;
    free(backup_nets);
    backup_nets = NULL;
    backup_net_count = 0;
    pn_resolve_client_free(resolver);
    resolver = NULL;
}

int rx_addr_changed(void)
{
    return pn_maps_changed(local_rcpt_maps) || pn_maps_changed(alias_maps) ||
           pn_maps_changed(mailbox_maps) || pn_maps_changed(relay_rcpt_maps);
}

/* resolve: trivial-rewrite's answer for an address (or this process's resolver's). */
static int resolve(const char *addr, pn_resolved *res, pn_buf *why)
{
    if (local_resolver) {
        pn_resolve(local_resolver, "", addr, res);
        return 0;
    }
    return pn_resolve_addrs(resolver, "", &addr, 1, res, why);
}

void smtpd_restrict_resolve_here(pn_resolver *r)
{
    local_resolver = r;
}

/* resolve_class: the address class of rcpt; -1 on a lookup failure. The relay check and the
 * recipient check ask for the same address: the resolve cache answers the second. */
/* resolve_rcpt: the recipient's class flags, -1 on failure; moved (when not NULL) gets the
 * relocated_maps text ("User has moved to ...") or stays empty. */
static int resolve_rcpt(const char *rcpt, pn_buf *moved)
{
    pn_resolved res;
    pn_buf why = PN_BUF_INIT;
    pn_resolved_init(&res);
    int flags = -1;
    if (resolve(rcpt, &res, &why) < 0)
        pn_warn("resolve %s: %s", rcpt, why.data);
    else
        flags = res.flags;
    if (moved && flags >= 0 && strcmp(pn_buf_str(&res.transport), "error") == 0 &&
        strncmp(pn_buf_str(&res.nexthop), "5.1.6 ", 6) == 0)
        pn_buf_set(moved, res.nexthop.data + 6);
    pn_resolved_release(&res);
    pn_buf_release(&why);
    if (flags < 0 || (flags & PN_RESOLVE_FAIL))
        return -1;
    return flags;
}

int rx_resolve_class(const char *rcpt)
{
    return resolve_rcpt(rcpt, NULL);
}

/* may_be_malformed: only these addresses can get an error from the resolver: an empty or
 * numeric domain, or an '@' left in the local part. Others need no round trip to it. */
static int may_be_malformed(const char *addr)
{
    const char *at = pn_addr_at(addr);
    if (at == NULL)
        return strchr(addr, '@') != NULL; /* "user@x" in quotes, and no domain */
    const char *domain = at + 1;
    if (*domain == 0 || strspn(domain, "0123456789.") == strlen(domain))
        return 1;
    return memchr(addr, '@', (size_t)(at - addr)) != NULL;
}

int smtpd_address_resolves(const char *addr)
{
    pn_buf canon = PN_BUF_INIT;
    pn_addr_rewrite_local(addr, &canon);
    const char *key = strcmp(addr, "@") == 0 ? addr : canon.data; /* "@" is not <> */
    if (!may_be_malformed(key)) {
        pn_buf_release(&canon);
        return 1;
    }
    pn_resolved res;
    pn_buf why = PN_BUF_INIT;
    pn_resolved_init(&res);
    int ok = resolve(key, &res, &why) < 0 || !(res.flags & PN_RESOLVE_ERROR);
    pn_resolved_release(&res);
    pn_buf_release(&why);
    pn_buf_release(&canon);
    return ok;
}

int rx_valid_hostname(const char *name)
{
    if (*name == 0 || strlen(name) > 255)
        return 0;
    if (name[0] == '[')
        return name[strlen(name) - 1] == ']';
    for (const char *cp = name; *cp; cp++)
        if (!isalnum((unsigned char)*cp) && *cp != '-' && *cp != '.' && *cp != '_')
            return 0;
    return name[0] != '.' && name[0] != '-';
}

/* unknown_domain: reject_unknown_sender_domain and reject_unknown_recipient_domain. A domain
 * this system is the final destination for is known; any other needs an MX record (not a
 * null MX) or an address record. A DNS failure defers (450), never rejects. */
enum verdict rx_unknown_domain(const char *addr, int recipient, pn_buf *reply)
{
    pn_buf domain = PN_BUF_INIT, why = PN_BUF_INIT;
    enum verdict v = DUNNO;
    pn_addr_domain(addr, &domain);
    if (*addr == 0 || domain.len == 0 || domain.data[0] == '[')
        goto out;
    int flags = rx_resolve_class(addr);
    if (flags >= 0 &&
        (flags & (PN_RESOLVE_CLASS_LOCAL | PN_RESOLVE_CLASS_ALIAS | PN_RESOLVE_CLASS_VIRTUAL)))
        goto out;
    pn_mx *mx = NULL;
    int count = 0, null_mx = 0;
    int rc = pn_dns_mx(domain.data, &mx, &count, &null_mx, NULL, &why);
    free(mx);
    const char *what = recipient ? "Recipient address" : "Sender address";
    if (rc == PN_DNS_OK && null_mx && count == 0) {
        pn_buf_printf(reply, "%s <%s>: %s rejected: Domain %s does not accept mail (nullMX)",
                      recipient ? "556 5.1.10" : "550 5.7.27", addr, what, domain.data);
        v = REFUSE;
    } else if (rc == PN_DNS_NOTFOUND) {
        pn_addrlist addrs;
        rc = pn_dns_addrs(domain.data, 25, &addrs, NULL, &why);
        if (rc == PN_DNS_OK)
            pn_addrlist_free(&addrs);
    }
    if (v == DUNNO && rc != PN_DNS_OK) {
        long code = rc == PN_DNS_RETRY ? 450 : pn_config_get_int(PN_P(unknown_address_reject_code));
        pn_buf_printf(reply, "%ld %c.1.%d <%s>: %s rejected: Domain not found", code,
                      code >= 500 ? '5' : '4', recipient ? 2 : 8, addr, what);
        v = rc == PN_DNS_RETRY ? rx_tempfail(reply) : REFUSE;
    }
out:
    pn_buf_release(&domain);
    pn_buf_release(&why);
    return v;
}

/* has_address: an A, AAAA or MX record for the name; PN_DNS_* */
int rx_has_address(const char *name)
{
    pn_buf why = PN_BUF_INIT;
    pn_addrlist addrs;
    int rc = pn_dns_addrs(name, 25, &addrs, NULL, &why);
    if (rc == PN_DNS_OK)
        pn_addrlist_free(&addrs);
    if (rc == PN_DNS_NOTFOUND) {
        pn_mx *mx = NULL;
        int count = 0, null_mx = 0;
        rc = pn_dns_mx(name, &mx, &count, &null_mx, NULL, &why);
        free(mx);
    }
    pn_buf_release(&why);
    return rc;
}

/* host_is: does one of host's addresses satisfy the test (this system's, or in the networks)?
 * -1 when its addresses cannot be looked up now. */
static int host_is(const char *host, int (*test)(const pn_inet_addr *))
{
    pn_addrlist addrs = {NULL, 0};
    pn_buf why = PN_BUF_INIT;
    int rc = pn_dns_addrs(host, 25, &addrs, NULL, &why), yes = 0;
    for (int k = 0; rc == PN_DNS_OK && k < addrs.count && !yes; k++) {
        pn_buf text = PN_BUF_INIT;
        pn_inet_addr addr;
        pn_sockaddr_address(&addrs.addrs[k], &text);
        yes = pn_inet_parse(text.data, &addr) == 0 && test(&addr);
        pn_buf_release(&text);
    }
    if (rc == PN_DNS_OK)
        pn_addrlist_free(&addrs);
    pn_buf_release(&why);
    return rc == PN_DNS_RETRY ? -1 : yes;
}

static int ours(const pn_inet_addr *addr)
{
    return pn_inet_is_local(addr, pn_config_get(PN_P(inet_interfaces))) ||
           (*pn_config_get(PN_P(proxy_interfaces)) &&
            pn_inet_is_local(addr, pn_config_get(PN_P(proxy_interfaces))));
}

static int in_backup_networks(const pn_inet_addr *addr)
{
    for (size_t i = 0; i < backup_net_count; i++)
        if (pn_cidr_match(&backup_nets[i], addr))
            return 1;
    return 0;
}

/* mx_backup: permit_mx_backup: this system is an MX host of the recipient's domain, but not
 * its best one; with permit_mx_backup_networks, every better MX host is in them. */
enum verdict rx_mx_backup(smtpd_session *s, const char *rcpt, int stage)
{
    int flags = rx_resolve_class(rcpt);
    if (flags >= 0 && (flags & PN_RESOLVE_CLASS_MASK) != PN_RESOLVE_CLASS_DEFAULT &&
        !(flags & PN_RESOLVE_ROUTED))
        return PERMIT; /* an authorized destination */
    if (flags < 0 || (flags & PN_RESOLVE_ROUTED))
        return DUNNO;
    pn_buf domain = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_addr_domain(rcpt, &domain);
    pn_mx *mx = NULL;
    int count = 0, null_mx = 0, rc = PN_DNS_NOTFOUND;
    if (domain.len && domain.data[0] != '[')
        rc = pn_dns_mx(domain.data, &mx, &count, &null_mx, NULL, &why);
    enum verdict v = DUNNO;
    if (rc == PN_DNS_RETRY && rx_held.if_permit.len == 0) { /* maybe later */
        pn_buf_printf(&rx_held.if_permit,
                      "450 4.4.4 <%s>: %s rejected: Unable to look up mail "
                      "exchanger information",
                      rcpt, rx_what[stage]);
    }
    for (int i = 0; rc == PN_DNS_OK && i < count; i++) {
        int local = host_is(mx[i].host, ours);
        if (local <= 0)
            continue;
        if (mx[i].preference == mx[0].preference)
            break; /* the best MX: mail for it is not backup mail */
        int trusted = 1;
        for (int k = 0; backup_net_count && k < count && mx[k].preference < mx[i].preference; k++)
            trusted = trusted && host_is(mx[k].host, in_backup_networks) > 0;
        v = trusted ? PERMIT : DUNNO;
        break;
    }
    free(mx);
    pn_buf_release(&domain);
    pn_buf_release(&why);
    (void)s;
    return v;
}

/* unlisted: the address does not exist in the table its class is checked against; 1 with
 * the reply naming the sender or the recipient. */
int rx_unlisted(const char *rcpt, int sender, pn_buf *reply)
{
    pn_buf moved = PN_BUF_INIT;
    int flags = resolve_rcpt(rcpt, &moved);
    if (flags < 0) {
        pn_buf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", rcpt);
        pn_buf_release(&moved);
        return 1;
    }
    if (moved.len) {
        pn_buf_printf(reply, "550 5.1.6 <%s>: %s address rejected: %s", rcpt,
                      sender ? "Sender" : "Recipient", moved.data);
        pn_buf_release(&moved);
        return 1;
    }
    pn_buf_release(&moved);
    pn_buf value = PN_BUF_INIT, local = PN_BUF_INIT;
    const char *table = NULL, *code = NULL;
    int rc = 1;
    switch (flags & PN_RESOLVE_CLASS_MASK) {
    case PN_RESOLVE_CLASS_LOCAL:
        if (local_rcpt_maps->count) {
            pn_buf base = PN_BUF_INIT;
            pn_addr_localpart(rcpt, &local);
            pn_addr_strip_extension(local.data, pn_config_get(PN_P(recipient_delimiter)), &base);
            rc = pn_maps_find(local_rcpt_maps, pn_lowercase(base.data), &value);
            pn_buf_release(&base);
            table = "local recipient table";
            code = PN_P(unknown_local_recipient_reject_code);
        }
        break;
    case PN_RESOLVE_CLASS_ALIAS:
        rc = pn_maps_find_addr(alias_maps, rcpt, pn_config_get(PN_P(recipient_delimiter)), 0,
                               &value);
        table = "virtual alias table";
        code = PN_P(unknown_virtual_alias_reject_code);
        break;
    case PN_RESOLVE_CLASS_VIRTUAL:
        rc = pn_maps_find_addr(alias_maps, rcpt, pn_config_get(PN_P(recipient_delimiter)), 0,
                               &value);
        if (rc == 0)
            rc = pn_maps_find_addr(mailbox_maps, rcpt, pn_config_get(PN_P(recipient_delimiter)), 0,
                                   &value);
        table = "virtual mailbox table";
        code = PN_P(unknown_virtual_mailbox_reject_code);
        break;
    case PN_RESOLVE_CLASS_RELAY:
        if (relay_rcpt_maps->count) {
            rc = pn_maps_find_addr(relay_rcpt_maps, rcpt, pn_config_get(PN_P(recipient_delimiter)),
                                   0, &value);
            table = "relay recipient table";
            code = PN_P(unknown_relay_recipient_reject_code);
        }
        break;
    }
    pn_buf_release(&value);
    pn_buf_release(&local);
    if (rc < 0) {
        pn_buf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", rcpt);
        return 1;
    }
    if (rc == 0 && table) {
        rx_code_reply(reply, code, sender ? "1.0" : "1.1");
        pn_buf_printf(reply, "<%s>: %s address rejected: User unknown in %s", rcpt,
                      sender ? "Sender" : "Recipient", table);
        return 1;
    }
    return 0;
}
