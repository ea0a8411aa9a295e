/* restrict_access.c: access tables in the restrictions: how check_*_access looks its
 * subject up (names with their parent domains, addresses with their networks, addresses as
 * user@domain, domain, user@), check_*_{a,mx,ns}_access (the servers of a name), every action
 * a table or policy server may answer, and the permits smtpd_log_access_permit_actions logs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/dns.h"
#include "restrict.h"

static pn_argv *logged_permits; /* smtpd_log_access_permit_actions, split */
static int access_parent_flags; /* parent domains as "example.com" or ".example.com" keys */

void rx_access_init(void)
{
    access_parent_flags =
        pn_config_list_has(PN_P(parent_domain_matches_subdomains), "smtpd_access_maps")
            ? PN_MAPS_PARENT_PLAIN
            : PN_MAPS_PARENT_DOT;
}

void rx_access_free(void)
{
    pn_argv_free(logged_permits);
    logged_permits = NULL;
}

static int permit_logged(const char *action)
{
    if (logged_permits == NULL)
        logged_permits =
            pn_argv_split(pn_config_get(PN_P(smtpd_log_access_permit_actions)), PN_SEPARATORS);
    for (size_t i = 0; i < logged_permits->len; i++)
        if (strcasecmp(logged_permits->items[i], "static:all") == 0 ||
            strcasecmp(logged_permits->items[i], action) == 0)
            return 1;
    return 0;
}

/* log_permit: "permit: RCPT from ...: action=permit_mynetworks for Client host=NAME[ADDR] ;
 * from=<...> ...", as the reference logs a permit it was asked to (table: " from TABLE"). */
void rx_log_permit(smtpd_session *s, const char *action, const char *what, const char *subject,
                   const char *table)
{
    if (!permit_logged(action))
        return;
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "action=%s for %s=%s %s%s", action, what, subject, table ? "from " : "",
                  table ? table : "");
    smtpd_log_action(s, "permit", rx_held.command, text.data, rx_held.rcpt);
    pn_buf_release(&text);
    rx_held.permit_logged = 1;
}

/* access_action: an access-map or policy-server result as a verdict (the reference's
 * actions); subject and what name it in a reply ("<a@b>: Recipient address rejected: ..."). */
enum verdict rx_access_action(smtpd_session *s, const char *value, const char *subject,
                              const char *what, int stage, pn_buf *reply)
{
    char *copy = pn_strdup(value), *text = pn_trim(copy);
    size_t word = strcspn(text, " \t");
    const char *rest = text + word + strspn(text + word, " \t");
    enum verdict v = DUNNO;
#define IS(name) (word == strlen(name) && strncasecmp(text, name, word) == 0)
    if (IS("OK") || (*text && strspn(text, "0123456789") == strlen(text))) { /* all digits */
        v = PERMIT;
    } else if (IS("REJECT") || IS("DEFER")) {
        rx_code_reply(reply,
                      IS("REJECT") ? PN_P(access_map_reject_code) : PN_P(access_map_defer_code),
                      "7.1");
        pn_buf_printf(reply, "<%s>: %s rejected: %s", subject, what,
                      *rest ? rest : "Access denied");
        v = REFUSE;
    } else if (IS("DEFER_IF_PERMIT") || IS("DEFER_IF_REJECT")) {
        pn_buf *slot = IS("DEFER_IF_PERMIT") ? &rx_held.if_permit : &rx_held.if_reject;
        if (slot->len == 0) {
            rx_code_reply(slot, PN_P(access_map_defer_code), "7.1");
            pn_buf_printf(slot, "<%s>: %s rejected: %s", subject, what,
                          *rest ? rest : "Service unavailable");
        }
    } else if (word == 3 && (text[0] == '4' || text[0] == '5') && isdigit((unsigned char)text[1]) &&
               isdigit((unsigned char)text[2])) {
        /* "NNN [X.Y.Z] text": the enhanced code's class follows the reply code's */
        size_t dsn = (rest[0] == '2' || rest[0] == '4' || rest[0] == '5') && rest[1] == '.'
                         ? strcspn(rest, " \t")
                         : 0;
        const char *said = rest + dsn + strspn(rest + dsn, " \t");
        if (dsn)
            pn_buf_printf(reply, "%.3s %c%.*s", text, text[0], (int)dsn - 1, rest + 1);
        else
            pn_buf_printf(reply, "%.3s %c.7.1", text, text[0]);
        pn_buf_printf(reply, " <%s>: %s rejected: %s", subject, what,
                      *said ? said : "Access denied");
        v = REFUSE;
    } else if (IS("PREPEND")) {
        if (*rest && strchr(rest, ':'))
            pn_argv_add(s->prepend, rest);
        else
            pn_warn("access table: PREPEND action without a header: \"%s\"", value);
    } else if (IS("HOLD") || IS("DISCARD")) {
        /* the message goes to the hold queue, or is accepted and dropped (and then nothing
         * more of the transaction is checked) */
        int hold = IS("HOLD");
        if (!(hold ? s->held : s->discarded)) {
            pn_buf line = PN_BUF_INIT;
            pn_buf_printf(&line, "<%s>: %s %s", subject, what,
                          *rest  ? rest
                          : hold ? "triggers HOLD action"
                                 : "triggers DISCARD action");
            smtpd_log_action(s, hold ? "hold" : "discard", rx_held.command, line.data,
                             rx_held.rcpt);
            pn_buf_release(&line);
            pn_argv_add(s->actions, hold ? "action=hold" : "action=discard");
            *(hold ? &s->held : &s->discarded) = 1;
        }
        v = hold ? DUNNO : PERMIT;
    } else if (IS("FILTER") || IS("REDIRECT") || IS("BCC")) {
        /* FILTER transport:destination (content_filter for this message), REDIRECT address
         * (it replaces every recipient), BCC address (one more recipient) */
        char verb[16];
        snprintf(verb, sizeof(verb), "%.*s", (int)word, text);
        if (*rest == 0 || (IS("FILTER") && strchr(rest, ':') == NULL)) {
            pn_warn("access table: %s action without a %s for %s", verb,
                    IS("FILTER") ? "transport:destination" : "address", subject);
        } else {
            pn_buf line = PN_BUF_INIT, record = PN_BUF_INIT;
            pn_buf_printf(&line, "<%s>: %s triggers %s %s", subject, what, verb, rest);
            smtpd_log_action(s, pn_lowercase(verb), rx_held.command, line.data, rx_held.rcpt);
            pn_buf_printf(&record, "%s=%s",
                          IS("FILTER") ? "content_filter"
                          : IS("BCC")  ? "bcc"
                                       : "redirect",
                          rest);
            pn_argv_add(s->actions, record.data);
            pn_buf_release(&line);
            pn_buf_release(&record);
        }
    } else if (IS("WARN") || IS("INFO")) {
        smtpd_log_action(s, IS("WARN") ? "warn" : "info", rx_held.command, rest, rx_held.rcpt);
    } else if (IS("DUNNO")) {
        v = DUNNO;
    } else if (word == strlen(text) && pn_restriction_implemented(text)) {
        rule r; /* a restriction (or class) named as the action */
        rx_compile(&r, text);
        v = rx_evaluate(s, &r, rx_held.rcpt, stage, reply);
        free(r.name);
    } else {
        pn_warn("access table: unsupported action \"%s\" for %s", text, subject);
    }
#undef IS
    free(copy);
    return v;
}

/* lookup_address: an address in an access table as the reference looks it up: whole, without
 * its extension, its domain and parent domains, "user@"; the null sender as
 * smtpd_null_access_lookup_key. */
static int lookup_address(pn_maps *table, const char *addr, pn_buf *value)
{
    if (*addr == 0)
        return pn_maps_find(table, pn_config_get(PN_P(smtpd_null_access_lookup_key)), value);
    int rc = pn_maps_find(table, addr, value);
    if (rc != 0)
        return rc;
    pn_buf domain = PN_BUF_INIT, stripped = PN_BUF_INIT;
    if (pn_addr_strip_extension(addr, pn_config_get(PN_P(recipient_delimiter)), &stripped))
        rc = pn_maps_find_fixed(table, stripped.data, value);
    pn_addr_domain(addr, &domain);
    if (rc == 0 && domain.len)
        rc = pn_maps_find_domain(table, domain.data, access_parent_flags, value);
    if (rc == 0 && pn_addr_at(addr)) {
        pn_buf local = PN_BUF_INIT;
        pn_addr_localpart(addr, &local);
        pn_buf_putc(&local, '@');
        rc = pn_maps_find_fixed(table, local.data, value);
        pn_buf_release(&local);
    }
    pn_buf_release(&domain);
    pn_buf_release(&stripped);
    return rc;
}

/* lookup_host: a host name and its parent domains, then (when addr is given) the address and
 * the networks that dropping its last octets (IPv6: its last parts) leaves: "192.0.2.1",
 * "192.0.2", "192.0", "192". An unknown name is not looked up. */
static int lookup_host(pn_maps *table, const char *name, const char *addr, pn_buf *value)
{
    int rc = 0;
    if (name && *name && strcmp(name, "unknown") != 0)
        rc = pn_maps_find_domain(table, name, access_parent_flags, value);
    if (rc != 0 || addr == NULL)
        return rc;
    if ((rc = pn_maps_find(table, addr, value)) != 0)
        return rc;
    char *net = pn_strdup(addr);
    char delim = strchr(net, ':') ? ':' : '.';
    for (char *cp; rc == 0 && (cp = strrchr(net, delim)) != NULL;) {
        *cp = 0;
        if (*net)
            rc = pn_maps_find_fixed(table, net, value);
    }
    free(net);
    return rc;
}

/* check_access: a check_*_access table's answer for the session as the action it names */
enum verdict rx_check_access(smtpd_session *s, const rule *r, const char *rcpt, int stage,
                             pn_buf *reply)
{
    const char *helo = s->helo.len ? s->helo.data : NULL;
    pn_buf value = PN_BUF_INIT;
    const char *subject = NULL, *whom = rx_what[stage];
    int rc = 0;
    switch (r->variant) {
    case PN_RX_KEY_CLIENT:
        rc = lookup_host(r->table, s->name.data, s->addr.data, &value);
        subject = s->namaddr.data;
        whom = "Client host";
        break;
    case PN_RX_KEY_REVERSE:
        rc = lookup_host(r->table, s->reverse_name.data, s->addr.data, &value);
        subject = s->namaddr.data;
        whom = "Client host";
        break;
    case PN_RX_KEY_HELO:
        if (helo == NULL)
            return DUNNO;
        rc = lookup_host(r->table, helo, NULL, &value);
        subject = helo;
        whom = "Helo command";
        break;
    case PN_RX_KEY_SENDER:
        if (!s->in_mail && stage != STAGE_SENDER)
            return DUNNO;
        rc = lookup_address(r->table, s->sender.data, &value);
        subject = s->sender.data;
        whom = "Sender address";
        break;
    case PN_RX_KEY_RECIPIENT:
        if (rcpt == NULL)
            return DUNNO;
        rc = lookup_address(r->table, rcpt, &value);
        subject = rcpt;
        whom = "Recipient address";
        break;
    case PN_RX_KEY_SASL:
        if (s->sasl_username.len == 0)
            return DUNNO;
        rc = pn_maps_find(r->table, s->sasl_username.data, &value);
        subject = s->namaddr.data;
        whom = "SASL login name";
        break;
    case PN_RX_KEY_CCERT:
        /* a trusted certificate, found by its fingerprint, then its public key's */
        if (s->ccert == 2 && (rc = pn_maps_find(r->table, s->ccert_fp.data, &value)) == 0)
            rc = pn_maps_find(r->table, s->ccert_pkey_fp.data, &value);
        subject = s->namaddr.data;
        whom = "Client certificate";
        break;
    }
    enum verdict v = DUNNO;
    if (rc < 0) {
        pn_buf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", subject);
        v = REFUSE;
    } else if (rc > 0) {
        v = rx_access_action(s, value.data, subject, whom, stage, reply);
        char action[32]; /* an OK (or all-digits) answer is the table's own permit */
        snprintf(action, sizeof(action), "%.*s", (int)strcspn(value.data, " \t"), value.data);
        if (v == PERMIT && !rx_held.permit_logged &&
            (strcasecmp(action, "OK") == 0 || strspn(action, "0123456789") == strlen(action)))
            rx_log_permit(s, action, whom, subject, r->table_name);
    }
    pn_buf_release(&value);
    return v;
}

/* servers_of: the hosts check_*_{a,mx,ns}_access look at for name: the name itself (A), its
 * MX hosts or, with none, the name itself (MX), the name servers of the name or of its
 * nearest parent that has some (NS). PN_DNS_*. */
static int servers_of(const char *name, int type, pn_argv *hosts)
{
    pn_buf why = PN_BUF_INIT;
    int rc = PN_DNS_OK;
    if (type == PN_RX_SERVER_A) {
        pn_argv_add(hosts, name);
    } else if (type == PN_RX_SERVER_MX) {
        pn_mx *mx = NULL;
        int count = 0, null_mx = 0;
        rc = pn_dns_mx(name, &mx, &count, &null_mx, NULL, &why);
        for (int i = 0; i < count; i++)
            pn_argv_add(hosts, mx[i].host);
        free(mx);
        if (rc == PN_DNS_NOTFOUND) {
            pn_argv_add(hosts, name);
            rc = PN_DNS_OK;
        }
    } else {
        const char *domain = name;
        while ((rc = pn_dns_ns(domain, hosts, &why)) == PN_DNS_NOTFOUND && strchr(domain, '.'))
            domain = strchr(domain, '.') + 1;
    }
    pn_buf_release(&why);
    return rc;
}

/* server_access: check_*_{a,mx,ns}_access: each server's name (and parent domains), then
 * each of its addresses (and networks), in the table. OK is not taken from such a table
 * (a server list does not vouch for mail), as in the reference: DUNNO. */
enum verdict rx_server_access(smtpd_session *s, const rule *r, const char *rcpt, int stage,
                              pn_buf *reply)
{
    const char *name = NULL, *subject = NULL, *whom = NULL;
    pn_buf domain = PN_BUF_INIT;
    switch (r->variant & 0x0f) {
    case PN_RX_KEY_CLIENT:
    case PN_RX_KEY_REVERSE:
        name = (r->variant & 0x0f) == PN_RX_KEY_CLIENT ? s->name.data : s->reverse_name.data;
        subject = s->namaddr.data;
        whom = "Client host";
        break;
    case PN_RX_KEY_HELO:
        name = s->helo.len ? s->helo.data : NULL;
        subject = name;
        whom = "Helo command";
        break;
    case PN_RX_KEY_SENDER:
    case PN_RX_KEY_RECIPIENT: {
        int sender = (r->variant & 0x0f) == PN_RX_KEY_SENDER;
        const char *addr = sender ? (s->in_mail ? s->sender.data : NULL) : rcpt;
        if (addr && *addr)
            pn_addr_domain(addr, &domain);
        name = domain.len ? domain.data : NULL;
        subject = addr;
        whom = sender ? "Sender address" : "Recipient address";
        break;
    }
    }
    enum verdict v = DUNNO;
    if (name == NULL || *name == 0 || strcmp(name, "unknown") == 0 || name[0] == '[') {
        pn_buf_release(&domain);
        return DUNNO;
    }
    pn_argv *hosts = pn_argv_new();
    pn_buf value = PN_BUF_INIT;
    int found = 0;
    if (servers_of(name, r->variant & 0xf0, hosts) == PN_DNS_OK) {
        for (size_t i = 0; i < hosts->len && found == 0; i++) {
            found = lookup_host(r->table, hosts->items[i], NULL, &value);
            pn_addrlist addrs = {NULL, 0};
            pn_buf why = PN_BUF_INIT;
            if (found == 0 && pn_dns_addrs(hosts->items[i], 25, &addrs, NULL, &why) == PN_DNS_OK) {
                for (int k = 0; k < addrs.count && found == 0; k++) {
                    pn_buf text = PN_BUF_INIT;
                    pn_sockaddr_address(&addrs.addrs[k], &text);
                    found = lookup_host(r->table, NULL, text.data, &value);
                    pn_buf_release(&text);
                }
                pn_addrlist_free(&addrs);
            }
            pn_buf_release(&why);
        }
    }
    if (found < 0) {
        pn_buf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", subject);
        v = REFUSE;
    } else if (found > 0) {
        size_t word = strcspn(value.data, " \t");
        if ((word == 2 && strncasecmp(value.data, "OK", 2) == 0) ||
            (*value.data && strspn(value.data, "0123456789") == strlen(value.data)))
            pn_warn("access table %s: with %s specify DUNNO instead of %s", r->table_name, r->name,
                    value.data);
        else
            v = rx_access_action(s, value.data, subject, whom, stage, reply);
    }
    pn_argv_free(hosts);
    pn_buf_release(&value);
    pn_buf_release(&domain);
    return v;
}
