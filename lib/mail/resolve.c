/* resolve.c: address resolution, a pure function of the configuration and its tables. The
 * order is the reference's: strip local domains while the local part still routes, pick the
 * class, take its transport, let transport_maps override (not for virtual aliases), and
 * report a table failure as "try again" rather than guessing a route. */
#include "mail/resolve.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/inet.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/domlist.h"
#include "mail/maps.h"

struct pn_resolver {
    pn_domlist *mydestination;
    pn_domlist *alias_domains;
    pn_domlist *mailbox_domains;
    pn_domlist *relay_domains;
    pn_maps *transport_maps;
    pn_maps *relocated_maps;
    pn_maps *sender_relayhost; /* sender_dependent_relayhost_maps */
    pn_maps *sender_transport; /* sender_dependent_default_transport_maps */
};

void pn_resolved_init(pn_resolved *r)
{
    pn_buf_init(&r->transport);
    pn_buf_init(&r->nexthop);
    pn_buf_init(&r->recipient);
    r->flags = 0;
}

void pn_resolved_release(pn_resolved *r)
{
    pn_buf_release(&r->transport);
    pn_buf_release(&r->nexthop);
    pn_buf_release(&r->recipient);
}

pn_resolver *pn_resolver_open(pn_buf *err)
{
    pn_resolver *r = pn_calloc(1, sizeof(*r));
    if ((r->mydestination = pn_domlist_open(PN_P(mydestination), pn_config_get(PN_P(mydestination)),
                                            err)) == NULL ||
        (r->alias_domains = pn_domlist_open(PN_P(virtual_alias_domains),
                                            pn_config_get(PN_P(virtual_alias_domains)), err)) ==
            NULL ||
        (r->mailbox_domains = pn_domlist_open(PN_P(virtual_mailbox_domains),
                                              pn_config_get(PN_P(virtual_mailbox_domains)), err)) ==
            NULL ||
        (r->relay_domains = pn_domlist_open(PN_P(relay_domains), pn_config_get(PN_P(relay_domains)),
                                            err)) == NULL ||
        (r->transport_maps = pn_maps_open(PN_P(transport_maps), pn_config_get(PN_P(transport_maps)),
                                          PN_DICT_DEFAULT_FLAGS, err)) == NULL ||
        (r->relocated_maps = pn_maps_open(PN_P(relocated_maps), pn_config_get(PN_P(relocated_maps)),
                                          PN_DICT_DEFAULT_FLAGS, err)) == NULL ||
        (r->sender_relayhost = pn_maps_open(PN_P(sender_dependent_relayhost_maps),
                                            pn_config_get(PN_P(sender_dependent_relayhost_maps)),
                                            PN_DICT_DEFAULT_FLAGS, err)) == NULL ||
        (r->sender_transport =
             pn_maps_open(PN_P(sender_dependent_default_transport_maps),
                          pn_config_get(PN_P(sender_dependent_default_transport_maps)),
                          PN_DICT_DEFAULT_FLAGS, err)) == NULL) {
        pn_resolver_free(r);
        return NULL;
    }
    return r;
}

void pn_resolver_free(pn_resolver *r)
{
    if (r == NULL)
        return;
    pn_domlist_free(r->mydestination);
    pn_domlist_free(r->alias_domains);
    pn_domlist_free(r->mailbox_domains);
    pn_domlist_free(r->relay_domains);
    pn_maps_free(r->transport_maps);
    pn_maps_free(r->relocated_maps);
    pn_maps_free(r->sender_relayhost);
    pn_maps_free(r->sender_transport);
    free(r);
}

static int list_changed(const pn_domlist *l)
{
    for (size_t i = 0; l && i < l->count; i++)
        if (l->tables[i] && pn_maps_changed(l->tables[i]))
            return 1;
    return 0;
}

int pn_resolver_changed(const pn_resolver *r)
{
    return list_changed(r->mydestination) || list_changed(r->alias_domains) ||
           list_changed(r->mailbox_domains) || list_changed(r->relay_domains) ||
           pn_maps_changed(r->transport_maps) || pn_maps_changed(r->relocated_maps) ||
           pn_maps_changed(r->sender_relayhost) || pn_maps_changed(r->sender_transport);
}

const char *pn_resolve_class_name(int flags)
{
    switch (flags & PN_RESOLVE_CLASS_MASK) {
    case PN_RESOLVE_CLASS_LOCAL: return "local";
    case PN_RESOLVE_CLASS_ALIAS: return "alias";
    case PN_RESOLVE_CLASS_VIRTUAL: return "virtual";
    case PN_RESOLVE_CLASS_RELAY: return "relay";
    case PN_RESOLVE_CLASS_DEFAULT: return "default";
    default: return "none";
    }
}

/* set_transport: "transport:nexthop" from a *_transport parameter; without a nexthop part
 * the class's own next hop stays. */
static void set_transport(pn_resolved *out, const char *value, const char *dflt_nexthop)
{
    const char *colon = strchr(value, ':');
    pn_buf_reset(&out->transport);
    pn_buf_append(&out->transport, value, colon ? (size_t)(colon - value) : strlen(value));
    pn_buf_set(&out->nexthop, colon && colon[1] ? colon + 1 : dflt_nexthop);
}

static int is_numeric_domain(const char *domain)
{
    if (*domain == 0)
        return 0;
    for (const char *cp = domain; *cp; cp++)
        if (!isdigit((unsigned char)*cp) && *cp != '.')
            return 0;
    return 1;
}

/* is_local_literal: "[ip]" for an address of inet_interfaces or proxy_interfaces. */
static int is_local_literal(const char *domain)
{
    size_t len = strlen(domain);
    if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
        return 0;
    pn_inet_addr addr;
    char *ip = pn_strndup(domain + 1, len - 2);
    const char *v6 = strncasecmp(ip, "ipv6:", 5) == 0 ? ip + 5 : ip;
    int local = pn_inet_parse(v6, &addr) == 0 &&
                (pn_inet_is_local(&addr, pn_config_get(PN_P(inet_interfaces))) ||
                 (*pn_config_get(PN_P(proxy_interfaces)) &&
                  pn_inet_is_local(&addr, pn_config_get(PN_P(proxy_interfaces)))));
    free(ip);
    return local;
}

/* lookup_transport_maps: the reference's key order; 1 with value, 0, -1 on table error. */
static int lookup_transport_maps(pn_resolver *r, const char *addr, const char *domain,
                                 pn_buf *value)
{
    if (r->transport_maps->count == 0)
        return 0;
    int rc = pn_maps_find(r->transport_maps, addr, value);
    pn_buf stripped = PN_BUF_INIT;
    if (rc == 0 &&
        pn_addr_strip_extension(addr, pn_config_get(PN_P(recipient_delimiter)), &stripped))
        rc = pn_maps_find_fixed(r->transport_maps, stripped.data, value);
    pn_buf_release(&stripped);
    if (rc == 0 && *domain)
        rc = pn_maps_find_fixed(r->transport_maps, domain, value);
    for (const char *dot = strchr(domain, '.'); rc == 0 && dot; dot = strchr(dot + 1, '.'))
        rc = pn_maps_find_fixed(r->transport_maps, dot, value);
    if (rc == 0)
        rc = pn_maps_find_fixed(r->transport_maps, "*", value);
    return rc;
}

static void apply_transport_map(pn_resolved *out, const char *value, const char *domain)
{
    const char *colon = strchr(value, ':');
    size_t tlen = colon ? (size_t)(colon - value) : strlen(value);
    const char *nexthop = colon ? colon + 1 : "";
    if (tlen == 0 && *nexthop == 0)
        return; /* ":" alone: no change */
    if (tlen > 0) {
        pn_buf_reset(&out->transport);
        pn_buf_append(&out->transport, value, tlen);
        pn_buf_set(&out->nexthop, *nexthop ? nexthop : domain);
    } else {
        pn_buf_set(&out->nexthop, nexthop);
    }
}

/* by_sender: a sender-dependent table's answer for the envelope sender (the address, then
 * @domain; the null sender as the lookup key parameter says). 1 found, 0 not (or DUNNO),
 * -1 table error. */
static int by_sender(pn_maps *maps, const char *sender, const char *null_key, pn_buf *value)
{
    if (maps->count == 0)
        return 0;
    const char *key = *sender ? sender : pn_config_get(null_key);
    int rc = pn_maps_find_addr(maps, key, pn_config_get(PN_P(recipient_delimiter)), 0, value);
    if (rc > 0 && strcasecmp(value->data, "DUNNO") == 0)
        rc = 0;
    return rc;
}

/* internal_form: addr with a quoted local part unquoted ("a b"@x -> a b@x); 1 when it was
 * quoted. */
static int internal_form(const char *addr, pn_buf *out)
{
    const char *at = pn_addr_at(addr);
    size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
    pn_buf_reset(out);
    if (local_len >= 2 && addr[0] == '"' && addr[local_len - 1] == '"') {
        for (size_t i = 1; i < local_len - 1; i++) {
            if (addr[i] == '\\' && i + 1 < local_len - 1)
                i++;
            pn_buf_putc(out, addr[i]);
        }
        pn_buf_puts(out, at ? at : "");
        return 1;
    }
    pn_buf_append(out, addr, local_len);
    pn_buf_puts(out, at ? at : "");
    return 0;
}

/* external_form: the internal address with its local part quoted where RFC 5322 needs it. */
static void external_form(const char *addr, pn_buf *out)
{
    const char *at = strrchr(addr, '@');
    char *local = pn_strndup(addr, at ? (size_t)(at - addr) : strlen(addr));
    pn_buf_reset(out);
    pn_addr_quote_local(local, out);
    pn_buf_puts(out, at ? at : "");
    free(local);
}

void pn_resolve(pn_resolver *r, const char *sender, const char *addr_in, pn_resolved *out)
{
    pn_buf addr = PN_BUF_INIT, domain = PN_BUF_INIT, local = PN_BUF_INIT, value = PN_BUF_INIT;
    pn_buf sender_hop = PN_BUF_INIT;
    pn_buf_init(&addr);
    out->flags = 0;
    pn_buf_reset(&out->transport);
    pn_buf_reset(&out->nexthop);
    const char *myhostname = pn_config_get_hostname(PN_P(myhostname));
    /* The rules work on the address with its local part unquoted, so that an '@' in quotes
     * is seen (resolve_dequoted_address); the recipient is given back quoted as needed. */
    int quoted = internal_form(addr_in, &addr);
    if (addr.len == 0)
        pn_buf_puts(&addr, pn_config_get(PN_P(empty_address_recipient)));
    if (strchr(addr.data, '@') == NULL)
        pn_buf_printf(&addr, "@%s", myhostname);

    /* While the domain is local, what is left of the local part may still route. */
    int is_local = 0, bad_syntax = 0;
    int dequote = pn_config_get_bool(PN_P(resolve_dequoted_address));
    const char *last_local = myhostname; /* the domain a trailing '@' stands for */
    pn_buf_reset(&domain);
    for (int round = 0; round < 10; round++) {
        char *at = strrchr(addr.data, '@');
        pn_buf_set(&domain, at + 1);
        pn_buf_reset(&local);
        pn_buf_append(&local, addr.data, (size_t)(at - addr.data));
        if (local.len == 0)
            pn_buf_set(&local, pn_config_get(PN_P(empty_address_recipient)));
        if (domain.len == 0 && pn_config_get_bool(PN_P(resolve_null_domain)))
            pn_buf_set(&domain, last_local); /* "user@" is local */
        pn_buf_reset(&addr);
        pn_buf_printf(&addr, "%s@%s", local.data, domain.data);
        pn_lowercase(domain.data); /* the recipient keeps its case; matching ignores it */
        if (domain.len == 0) {
            bad_syntax = 1;
            break;
        }
        int m = pn_domlist_match(r->mydestination, domain.data);
        if (m < 0)
            goto fail;
        is_local = m || is_local_literal(domain.data);
        if (!is_local)
            break;
        pn_buf_set(&value, domain.data); /* last_local must outlive the next round's domain */
        last_local = value.data;
        char *bang = strchr(local.data, '!');
        char *percent = strrchr(local.data, '%');
        if (strchr(local.data, '@')) {
            if (!dequote)
                break; /* "user@remote"@local stays local (and routed) */
            pn_buf_set(&addr, local.data);
        } else if (percent && pn_config_get_bool(PN_P(allow_percent_hack))) {
            *percent = '@';
            pn_buf_set(&addr, local.data);
        } else if (bang && pn_config_get_bool(PN_P(swap_bangpath))) {
            pn_buf_reset(&addr);
            pn_buf_printf(&addr, "%s@%.*s", bang + 1, (int)(bang - local.data), local.data);
        } else {
            break;
        }
    }
    /* an address that came quoted, that routing changed, or with an '@' left in its local
     * part is given back quoted as needed; any other in the form it came */
    if (quoted || strcmp(addr.data, addr_in) != 0 || strchr(local.data, '@'))
        external_form(addr.data, &out->recipient);
    else
        pn_buf_set(&out->recipient, addr.data);
    if (bad_syntax ||
        (is_numeric_domain(domain.data) && !pn_config_get_bool(PN_P(resolve_numeric_domain)))) {
        out->flags |= PN_RESOLVE_ERROR | PN_RESOLVE_CLASS_DEFAULT;
        pn_buf_set(&out->transport, "error");
        pn_buf_set(&out->nexthop,
                   bad_syntax ? "5.1.3 bad address syntax" : "5.1.2 bad address syntax");
        goto done;
    }
    /* routed: what is left of the local part still holds a routing operator */
    if (strpbrk(local.data, "@%!"))
        out->flags |= PN_RESOLVE_ROUTED;
    const char *relayhost = pn_config_get(PN_P(relayhost));
    int m = by_sender(r->sender_relayhost, sender ? sender : "",
                      PN_P(empty_address_relayhost_maps_lookup_key), &sender_hop);
    if (m < 0)
        goto fail;
    if (m > 0)
        relayhost = sender_hop.data;
    const char *remote_hop = *relayhost ? relayhost : domain.data;
    if (is_local) {
        out->flags |= PN_RESOLVE_CLASS_LOCAL;
        set_transport(out, pn_config_get(PN_P(local_transport)), myhostname);
    } else if ((m = pn_domlist_match(r->alias_domains, domain.data)) != 0) {
        if (m < 0)
            goto fail;
        out->flags |= PN_RESOLVE_CLASS_ALIAS;
        pn_buf_set(&out->transport, "error");
        pn_buf_set(&out->nexthop, "5.1.1 User unknown in virtual alias table");
        goto relocated; /* transport_maps never apply to this class */
    } else if ((m = pn_domlist_match(r->mailbox_domains, domain.data)) != 0) {
        if (m < 0)
            goto fail;
        out->flags |= PN_RESOLVE_CLASS_VIRTUAL;
        set_transport(out, pn_config_get(PN_P(virtual_transport)), domain.data);
    } else if ((m = pn_domlist_match(r->relay_domains, domain.data)) != 0) {
        if (m < 0)
            goto fail;
        out->flags |= PN_RESOLVE_CLASS_RELAY;
        set_transport(out, pn_config_get(PN_P(relay_transport)), remote_hop);
    } else {
        out->flags |= PN_RESOLVE_CLASS_DEFAULT;
        m = by_sender(r->sender_transport, sender ? sender : "",
                      PN_P(empty_address_default_transport_maps_lookup_key), &value);
        if (m < 0)
            goto fail;
        set_transport(out, m > 0 ? value.data : pn_config_get(PN_P(default_transport)), remote_hop);
    }
    int rc = lookup_transport_maps(r, addr.data, domain.data, &value);
    if (rc < 0)
        goto fail;
    if (rc > 0)
        apply_transport_map(out, value.data, domain.data);
relocated:
    /* relocated_maps last, for every class: the recipient bounces with the new contact
     * (5.1.6, "mailbox has moved"); the key is the address without its extension */
    if (r->relocated_maps->count) {
        rc = pn_maps_find_addr(r->relocated_maps, addr.data, "", is_local ? PN_MAPS_LOCALPART : 0,
                               &value);
        if (rc < 0)
            goto fail;
        if (rc > 0) {
            pn_buf_set(&out->transport, "error");
            pn_buf_reset(&out->nexthop);
            pn_buf_printf(&out->nexthop, "5.1.6 User has moved to %s", value.data);
        }
    }
    goto done;
fail:
    out->flags |= PN_RESOLVE_FAIL;
done:
    pn_buf_release(&sender_hop);
    pn_buf_release(&addr);
    pn_buf_release(&domain);
    pn_buf_release(&local);
    pn_buf_release(&value);
}
