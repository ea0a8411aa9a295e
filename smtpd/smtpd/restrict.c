/* restrict.c: the restriction lists smtpd evaluates at RCPT time (smtpd_delay_reject): client,
 * helo, sender, relay and recipient restrictions, in that order, then the check that the
 * recipient exists. Each list is parsed once at start; a restriction this version does not
 * implement is a configuration error, answered with 451 4.3.5 (mail is never accepted
 * unchecked). Reply texts and codes are the reference's. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/inet.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "config/cfrestrict.h"
#include "ipc/ipcclnt.h"
#include "mail/addr.h"
#include "mail/dns.h"
#include "mail/maps.h"
#include "mail/resolve.h"
#include "mail/resolveclnt.h"
#include "smtpd.h"

enum verdict { DUNNO, PERMIT, REFUSE };

struct restriction_class;

/* One compiled restriction: what it does (cfrestrict.h), its table or argument. */
typedef struct rule {
    enum pn_restriction_op op; /* 0: not one smtpd carries out (warned, 451 when reached) */
    int variant;
    char *name;     /* as the list names it, lower case: for warnings */
    pn_maps *table; /* check_*_access */
    char *table_name; /* ... as the list names it (for the permit log) */
    char *arg;      /* DNS list, policy server, seconds */
    struct restriction_class *class;
} rule;

typedef struct rule_list {
    const char *param;
    rule *rules;
    size_t count;
} rule_list;

/* The lists by stage, in the order of evaluation at RCPT. */
enum { STAGE_CLIENT, STAGE_HELO, STAGE_SENDER, STAGE_RELAY, STAGE_RECIPIENT, STAGE_ETRN,
       STAGE_DATA, STAGE_EOD, STAGES };
static rule_list lists[STAGES] = {
    {PN_P(smtpd_client_restrictions), NULL, 0},    {PN_P(smtpd_helo_restrictions), NULL, 0},
    {PN_P(smtpd_sender_restrictions), NULL, 0},    {PN_P(smtpd_relay_restrictions), NULL, 0},
    {PN_P(smtpd_recipient_restrictions), NULL, 0}, {PN_P(smtpd_etrn_restrictions), NULL, 0},
    {PN_P(smtpd_data_restrictions), NULL, 0},      {PN_P(smtpd_end_of_data_restrictions), NULL, 0}};
/* The clients whose headers get the local rewriting (local_header_rewrite_clients). */
static rule_list rewrite_clients = {PN_P(local_header_rewrite_clients), NULL, 0};
static pn_cidr *mynetworks;
static size_t mynetworks_count;
static pn_cidr *backup_nets; /* permit_mx_backup_networks */
static size_t backup_net_count;
static pn_maps *local_rcpt_maps, *alias_maps, *mailbox_maps, *relay_rcpt_maps;
static pn_maps *relay_clientcerts; /* fingerprints of the client certificates trusted to relay */
static pn_resolve_client *resolver;
static pn_argv *logged_permits; /* smtpd_log_access_permit_actions, split */
static pn_resolver *local_resolver; /* set: addresses are resolved in this process */
static int access_parent_flags;     /* parent domains in access tables: "example.com" or ".example.com" */
static void parse_rewrite_clients(void);

static pn_maps *open_maps(const char *param, const char *value)
{
    pn_buf err = PN_BUF_INIT, spec = PN_BUF_INIT;
    /* proxy: tables are read directly until proxymap exists */
    const char *why = NULL; /* an inline:{ ... } table stays whole */
    pn_argv *items = pn_argv_split_grouped(value, PN_SEPARATORS, &why);
    if (items == NULL)
        pn_fatal("%s: %s", param, why);
    for (size_t i = 0; i < items->len; i++)
        pn_buf_printf(&spec, "%s%s", i ? ", " : "",
                      pn_has_prefix(items->items[i], "proxy:") ? items->items[i] + 6
                                                               : items->items[i]);
    pn_argv_free(items);
    pn_maps *maps = pn_maps_open(param, pn_buf_str(&spec), PN_DICT_DEFAULT_FLAGS, &err);
    if (maps == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    pn_buf_release(&spec);
    return maps;
}

/* Restriction classes: smtpd_restriction_classes names parameters of main.cf (or -o) whose
 * values are restriction lists; the class name in a list, or as an access table's action,
 * evaluates that list: its REJECT is the answer, its OK ends the list it was named in. */
static struct restriction_class {
    char *name;
    rule_list list;
} * classes;
static size_t class_count;

static struct restriction_class *class_named(const char *name)
{
    for (size_t i = 0; i < class_count; i++)
        if (strcasecmp(classes[i].name, name) == 0)
            return &classes[i];
    return NULL;
}

/* compile: one restriction name into a rule; 0 (warned when reached) when smtpd does not
 * carry it out. */
static void compile(rule *r, const char *name)
{
    memset(r, 0, sizeof(*r));
    r->name = pn_lowercase(pn_strdup(name));
    const pn_restriction_def *def = pn_restriction_find(name);
    if (def) {
        r->op = def->op;
        r->variant = def->variant;
    } else if ((r->class = class_named(name)) != NULL) {
        r->op = PN_RX_CLASS;
    }
}

/* parse_value: a list's words compiled into rules, once; a table is opened now (before the
 * chroot). */
static void parse_value(rule_list *list, const char *value)
{
    const char *why = NULL;
    pn_argv *words = pn_argv_split_grouped(value, PN_SEPARATORS, &why);
    if (words == NULL)
        pn_fatal("%s: %s", list->param, why);
    for (size_t i = 0; i < words->len; i++) {
        list->rules = pn_reallocarray(list->rules, list->count + 1, sizeof(rule));
        rule *r = &list->rules[list->count++];
        compile(r, words->items[i]);
        if (!pn_restriction_takes_argument(r->name) || i + 1 >= words->len)
            continue;
        if (r->op == PN_RX_ACCESS || r->op == PN_RX_SERVER_ACCESS) {
            r->table_name = pn_strdup(words->items[++i]);
            r->table = open_maps(list->param, r->table_name);
        }
        else
            r->arg = pn_strdup(words->items[++i]);
    }
    pn_argv_free(words);
}

static void parse_classes(void)
{
    pn_argv *names = pn_argv_split(pn_config_get(PN_P(smtpd_restriction_classes)), PN_SEPARATORS);
    classes = pn_calloc(names->len + 1, sizeof(*classes));
    for (size_t i = 0; i < names->len; i++) { /* all named first: a class may name another */
        classes[class_count].name = pn_strdup(names->items[i]);
        classes[class_count].list.param = classes[class_count].name;
        class_count++;
    }
    for (size_t i = 0; i < class_count; i++) {
        struct restriction_class *c = &classes[i];
        const char *raw = pn_config_raw(c->name);
        pn_buf value = PN_BUF_INIT, err = PN_BUF_INIT;
        if (raw == NULL)
            pn_warn("restriction class %s has no definition", c->name);
        else if (pn_config_expand_text(raw, &value, &err) < 0)
            pn_fatal("restriction class %s: %s", c->name, err.data);
        parse_value(&c->list, pn_buf_str(&value));
        pn_buf_release(&value);
        pn_buf_release(&err);
    }
    pn_argv_free(names);
}

static void free_list(rule_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->rules[i].name);
        free(list->rules[i].arg);
        free(list->rules[i].table_name);
        if (list->rules[i].table)
            pn_maps_free(list->rules[i].table);
    }
    free(list->rules);
    list->rules = NULL;
    list->count = 0;
}

void smtpd_restrict_free(void)
{
    pn_argv_free(logged_permits);
    logged_permits = NULL;
    for (size_t i = 0; i < STAGES; i++)
        free_list(&lists[i]);
    for (size_t i = 0; i < class_count; i++) {
        free_list(&classes[i].list);
        free(classes[i].name);
    }
    free(classes);
    classes = NULL;
    class_count = 0;
    free_list(&rewrite_clients);
    free(mynetworks);
    mynetworks = NULL;
    mynetworks_count = 0;
    free(backup_nets);
    backup_nets = NULL;
    backup_net_count = 0;
    pn_maps *maps[] = {local_rcpt_maps, alias_maps, mailbox_maps, relay_rcpt_maps,
                       relay_clientcerts};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
        pn_maps_free(maps[i]);
    local_rcpt_maps = alias_maps = mailbox_maps = relay_rcpt_maps = relay_clientcerts = NULL;
    pn_resolve_client_free(resolver);
    resolver = NULL;
}

/* guard_against_open_relay: the relay or the recipient list must be able to refuse mail, or
 * smtpd does not start (master throttles it): no mail is taken by a server that relays for
 * everybody. The reference's rule and text. */
static void guard_against_open_relay(void)
{
    static const int stages[] = {STAGE_RELAY, STAGE_RECIPIENT};
    for (size_t k = 0; k < 2; k++) {
        const rule_list *list = &lists[stages[k]];
        for (size_t i = 0; i < list->count; i++) {
            const rule *r = &list->rules[i];
            if (r->op == PN_RX_REJECT || r->op == PN_RX_DEFER || r->op == PN_RX_DEFER_IF_PERMIT ||
                (r->op == PN_RX_AUTH_DESTINATION && r->variant != 'p'))
                return;
        }
    }
    pn_fatal("in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify "
             "at least one working instance of: reject_unauth_destination, "
             "defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains");
}

void smtpd_restrict_init(void)
{
    parse_classes();
    for (size_t i = 0; i < STAGES; i++)
        parse_value(&lists[i], pn_config_get(lists[i].param));
    guard_against_open_relay();
    access_parent_flags =
        pn_config_list_has(PN_P(parent_domain_matches_subdomains), "smtpd_access_maps")
            ? PN_MAPS_PARENT_PLAIN
            : PN_MAPS_PARENT_DOT;
    pn_argv *nets = pn_argv_split(pn_config_get(PN_P(mynetworks)), PN_SEPARATORS);
    mynetworks = pn_calloc(nets->len + 1, sizeof(pn_cidr));
    for (size_t i = 0; i < nets->len; i++) {
        pn_buf why = PN_BUF_INIT;
        if (pn_cidr_parse(nets->items[i], &mynetworks[mynetworks_count], &why) == 0)
            mynetworks_count++;
        else
            pn_warn("mynetworks: %s: ignored", why.data);
        pn_buf_release(&why);
    }
    pn_argv_free(nets);
    nets = pn_argv_split(pn_config_get(PN_P(permit_mx_backup_networks)), PN_SEPARATORS);
    backup_nets = pn_calloc(nets->len + 1, sizeof(pn_cidr));
    for (size_t i = 0; i < nets->len; i++) {
        pn_buf why = PN_BUF_INIT;
        if (pn_cidr_parse(nets->items[i], &backup_nets[backup_net_count], &why) == 0)
            backup_net_count++;
        else
            pn_warn("permit_mx_backup_networks: %s: ignored", why.data);
        pn_buf_release(&why);
    }
    pn_argv_free(nets);
    local_rcpt_maps =
        open_maps(PN_P(local_recipient_maps), pn_config_get(PN_P(local_recipient_maps)));
    alias_maps = open_maps(PN_P(virtual_alias_maps), pn_config_get(PN_P(virtual_alias_maps)));
    mailbox_maps = open_maps(PN_P(virtual_mailbox_maps), pn_config_get(PN_P(virtual_mailbox_maps)));
    relay_rcpt_maps =
        open_maps(PN_P(relay_recipient_maps), pn_config_get(PN_P(relay_recipient_maps)));
    relay_clientcerts = open_maps(PN_P(relay_clientcerts), pn_config_get(PN_P(relay_clientcerts)));
    resolver = pn_resolve_client_new();
    parse_rewrite_clients();
}


int smtpd_local_header_client(const smtpd_session *s)
{
    for (size_t i = 0; i < rewrite_clients.count; i++) {
        const rule *r = &rewrite_clients.rules[i];
        if (r->table) {
            pn_buf value = PN_BUF_INIT;
            int rc = pn_maps_find(r->table, s->addr.data, &value);
            pn_buf_release(&value);
            if (rc > 0)
                return 1;
        } else if (strcmp(r->name, "permit_inet_interfaces") == 0) {
            if (pn_inet_is_local(&s->inet, pn_config_get(PN_P(inet_interfaces))))
                return 1;
        } else if (strcmp(r->name, "permit_mynetworks") == 0) {
            if (smtpd_in_mynetworks(s))
                return 1;
        } else if (strcmp(r->name, "permit_sasl_authenticated") != 0 &&
                   strncmp(r->name, "permit_tls_", 11) != 0) {
            pn_warn("%s: unknown entry \"%s\": ignored", rewrite_clients.param, r->name);
        }
    }
    return 0;
}

/* parse_rewrite_clients: words, "check_address_map type:table", or a bare "type:table"
 * ("static:all" makes every client local). */
static void parse_rewrite_clients(void)
{
    pn_argv *words = pn_argv_split(pn_config_get(rewrite_clients.param), PN_SEPARATORS);
    for (size_t i = 0; i < words->len; i++) {
        const char *word = words->items[i];
        const char *table = NULL;
        if (strcasecmp(word, "check_address_map") == 0 && i + 1 < words->len)
            table = words->items[++i];
        else if (strchr(word, ':'))
            table = word;
        rewrite_clients.rules =
            pn_reallocarray(rewrite_clients.rules, rewrite_clients.count + 1, sizeof(rule));
        rule *r = &rewrite_clients.rules[rewrite_clients.count++];
        memset(r, 0, sizeof(*r));
        r->name = pn_lowercase(pn_strdup(word));
        r->table = table ? open_maps(rewrite_clients.param, table) : NULL;
    }
    pn_argv_free(words);
}

int smtpd_restrict_changed(void)
{
    for (size_t i = 0; i < STAGES; i++)
        for (size_t j = 0; j < lists[i].count; j++)
            if (lists[i].rules[j].table && pn_maps_changed(lists[i].rules[j].table))
                return 1;
    for (size_t j = 0; j < rewrite_clients.count; j++)
        if (rewrite_clients.rules[j].table && pn_maps_changed(rewrite_clients.rules[j].table))
            return 1;
    return pn_maps_changed(local_rcpt_maps) || pn_maps_changed(alias_maps) ||
           pn_maps_changed(mailbox_maps) || pn_maps_changed(relay_rcpt_maps) ||
           pn_maps_changed(relay_clientcerts);
}

int smtpd_in_mynetworks(const smtpd_session *s)
{
    for (size_t i = 0; i < mynetworks_count; i++)
        if (pn_cidr_match(&mynetworks[i], &s->inet))
            return 1;
    return 0;
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

static int resolve_class(const char *rcpt)
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

static int valid_hostname(const char *name)
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

/* What the actions DEFER_IF_PERMIT and DEFER_IF_REJECT (and the restrictions of those
 * names) hold back until the check is over, and what warn_if_reject arms; reset for each
 * check (check_stages). */
static struct {
    pn_buf if_permit, if_reject; /* the replies they would give */
    int warn_next;               /* warn_if_reject: the next restriction's REJECT is a warning */
    const char *command;         /* "RCPT", "ETRN": for the log */
    int permit_logged;           /* the permit being returned was logged where it was decided */
    const char *rcpt;
} held;

/* tempfail: a DNS failure (reject_tempfail_action: defer_if_permit): the reply is held back
 * for the end of the check, where a rejection still wins over it. */
static enum verdict tempfail(pn_buf *text)
{
    if (held.if_permit.len == 0)
        pn_buf_set(&held.if_permit, text->data);
    pn_buf_reset(text);
    return DUNNO;
}

/* unknown_domain: reject_unknown_sender_domain and reject_unknown_recipient_domain. A domain
 * this system is the final destination for is known; any other needs an MX record (not a
 * null MX) or an address record. A DNS failure defers (450), never rejects. */
static enum verdict unknown_domain(const char *addr, int recipient, pn_buf *reply)
{
    pn_buf domain = PN_BUF_INIT, why = PN_BUF_INIT;
    enum verdict v = DUNNO;
    pn_addr_domain(addr, &domain);
    if (*addr == 0 || domain.len == 0 || domain.data[0] == '[')
        goto out;
    int flags = resolve_class(addr);
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
        v = rc == PN_DNS_RETRY ? tempfail(reply) : REFUSE;
    }
out:
    pn_buf_release(&domain);
    pn_buf_release(&why);
    return v;
}

/* code_reply: "NNN X.detail " with the reply code a parameter sets (access_map_reject_code,
 * unknown_local_recipient_reject_code, ...) and the enhanced code of the same class. */
static void code_reply(pn_buf *reply, const char *param, const char *detail)
{
    long code = pn_config_get_int(param);
    pn_buf_printf(reply, "%ld %c.%s ", code, code >= 500 ? '5' : '4', detail);
}

/* soften: soft_bounce turns a permanent refusal into a temporary one (5xx and 5.x.x become
 * 4xx and 4.x.x), so that nothing is rejected for good while a configuration is tried. */
void smtpd_soften(pn_buf *reply)
{
    if (reply->len < 6 || reply->data[0] != '5' || !pn_config_get_bool(PN_P(soft_bounce)))
        return;
    reply->data[0] = '4';
    if (reply->data[4] == '5' && reply->data[5] == '.')
        reply->data[4] = '4';
}


static enum verdict evaluate(smtpd_session *s, const struct rule *r, const char *rcpt, int stage,
                             pn_buf *reply);
static int unlisted(const char *addr, int sender, pn_buf *reply);
static enum verdict run_list(smtpd_session *s, const rule_list *list, const char *rcpt, int stage,
                             pn_buf *reply);

/* smtpd_log_access_permit_actions: which permits are logged ("static:all": every one) */

static int permit_logged(const char *action)
{
    if (logged_permits == NULL)
        logged_permits = pn_argv_split(pn_config_get(PN_P(smtpd_log_access_permit_actions)),
                                       PN_SEPARATORS);
    for (size_t i = 0; i < logged_permits->len; i++)
        if (strcasecmp(logged_permits->items[i], "static:all") == 0 ||
            strcasecmp(logged_permits->items[i], action) == 0)
            return 1;
    return 0;
}

/* log_permit: "permit: RCPT from ...: action=permit_mynetworks for Client host=NAME[ADDR] ;
 * from=<...> ...", as the reference logs a permit it was asked to (table: " from TABLE"). */
static void log_permit(smtpd_session *s, const char *action, const char *what,
                       const char *subject, const char *table)
{
    if (!permit_logged(action))
        return;
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "action=%s for %s=%s %s%s", action, what, subject, table ? "from " : "",
                  table ? table : "");
    smtpd_log_action(s, "permit", held.command, text.data, held.rcpt);
    pn_buf_release(&text);
    held.permit_logged = 1;
}

/* access_action: an access-map or policy-server result as a verdict (the reference's
 * actions); subject and what name it in a reply ("<a@b>: Recipient address rejected: ..."). */
static enum verdict access_action(smtpd_session *s, const char *value, const char *subject,
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
        code_reply(reply, IS("REJECT") ? PN_P(access_map_reject_code) : PN_P(access_map_defer_code),
                   "7.1");
        pn_buf_printf(reply, "<%s>: %s rejected: %s", subject, what,
                      *rest ? rest : "Access denied");
        v = REFUSE;
    } else if (IS("DEFER_IF_PERMIT") || IS("DEFER_IF_REJECT")) {
        pn_buf *slot = IS("DEFER_IF_PERMIT") ? &held.if_permit : &held.if_reject;
        if (slot->len == 0) {
            code_reply(slot, PN_P(access_map_defer_code), "7.1");
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
                          *rest ? rest : hold ? "triggers HOLD action" : "triggers DISCARD action");
            smtpd_log_action(s, hold ? "hold" : "discard", held.command, line.data, held.rcpt);
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
            smtpd_log_action(s, pn_lowercase(verb), held.command, line.data, held.rcpt);
            pn_buf_printf(&record, "%s=%s",
                          IS("FILTER") ? "content_filter" : IS("BCC") ? "bcc" : "redirect", rest);
            pn_argv_add(s->actions, record.data);
            pn_buf_release(&line);
            pn_buf_release(&record);
        }
    } else if (IS("WARN") || IS("INFO")) {
        smtpd_log_action(s, IS("WARN") ? "warn" : "info", held.command, rest, held.rcpt);
    } else if (IS("DUNNO")) {
        v = DUNNO;
    } else if (word == strlen(text) && pn_restriction_implemented(text)) {
        rule r; /* a restriction (or class) named as the action */
        compile(&r, text);
        v = evaluate(s, &r, held.rcpt, stage, reply);
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

/* has_address: an A, AAAA or MX record for the name; PN_DNS_* */
static int has_address(const char *name)
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

static const char *const what[STAGES] = {"Client host",       "Helo command",
                                         "Sender address",    "Recipient address",
                                         "Recipient address", "Etrn command",
                                         "Data command",      "End-of-data"};

/* check_access: a check_*_access table's answer for the session as the action it names */
static enum verdict check_access(smtpd_session *s, const rule *r, const char *rcpt, int stage,
                           pn_buf *reply)
{
    const char *helo = s->helo.len ? s->helo.data : NULL;
    pn_buf value = PN_BUF_INIT;
    const char *subject = NULL, *whom = what[stage];
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
        v = access_action(s, value.data, subject, whom, stage, reply);
        if (v == PERMIT && !held.permit_logged) {
            char action[32];
            snprintf(action, sizeof(action), "%.*s", (int)strcspn(value.data, " \t"), value.data);
            log_permit(s, action, whom, subject, r->table_name);
        }
    }
    pn_buf_release(&value);
    return v;
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
static enum verdict mx_backup(smtpd_session *s, const char *rcpt, int stage)
{
    int flags = resolve_class(rcpt);
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
    if (rc == PN_DNS_RETRY && held.if_permit.len == 0) { /* maybe later */
        pn_buf_printf(&held.if_permit, "450 4.4.4 <%s>: %s rejected: Unable to look up mail "
                      "exchanger information", rcpt, what[stage]);
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
static enum verdict server_access(smtpd_session *s, const rule *r, const char *rcpt,
                                  int stage, pn_buf *reply)
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
            v = access_action(s, value.data, subject, whom, stage, reply);
    }
    pn_argv_free(hosts);
    pn_buf_release(&value);
    pn_buf_release(&domain);
    return v;
}

static enum verdict evaluate(smtpd_session *s, const rule *r, const char *rcpt, int stage,
                             pn_buf *reply)
{
    const char *name = r->name;
    const char *helo = s->helo.len ? s->helo.data : NULL;
    /* what a reply names: the subject of the list being evaluated */
    const char *subject = stage == STAGE_DATA  ? "DATA"
                          : stage == STAGE_EOD ? "END-OF-MESSAGE"
                          : stage >= STAGE_RELAY ? rcpt
                          : stage == STAGE_SENDER ? s->sender.data
                          : stage == STAGE_HELO && helo ? helo
                                                        : s->namaddr.data;
    switch (r->op) {
    case PN_RX_PERMIT:
        return PERMIT;
    case PN_RX_REJECT:
    case PN_RX_DEFER:
        code_reply(reply, r->op == PN_RX_DEFER ? PN_P(defer_code) : PN_P(reject_code), "7.1");
        pn_buf_printf(reply, "<%s>: %s rejected: Access denied", subject, what[stage]);
        return REFUSE;
    case PN_RX_WARN_IF_REJECT:
        held.warn_next = 1;
        return DUNNO;
    case PN_RX_DEFER_IF_PERMIT:
    case PN_RX_DEFER_IF_REJECT: {
        pn_buf *slot = r->op == PN_RX_DEFER_IF_PERMIT ? &held.if_permit : &held.if_reject;
        if (slot->len == 0) {
            code_reply(slot, PN_P(defer_code), "7.0");
            pn_buf_printf(slot, "<%s>: %s rejected: %s requested", subject, what[stage], name);
        }
        return DUNNO;
    }
    case PN_RX_PERMIT_MYNETWORKS:
        return smtpd_in_mynetworks(s) ? PERMIT : DUNNO;
    case PN_RX_PERMIT_INET_INTERFACES:
        return pn_inet_is_local(&s->inet, pn_config_get(PN_P(inet_interfaces))) ? PERMIT : DUNNO;
    case PN_RX_PERMIT_SASL_AUTHENTICATED:
        return s->sasl_username.len ? PERMIT : DUNNO;
    case PN_RX_PERMIT_TLS_ALL_CLIENTCERTS:
        return s->ccert == 2 ? PERMIT : DUNNO;
    case PN_RX_PERMIT_TLS_CLIENTCERTS: {
        pn_buf value = PN_BUF_INIT;
        int rc = 0;
        if (s->ccert == 2 && (rc = pn_maps_find(relay_clientcerts, s->ccert_fp.data, &value)) == 0)
            rc = pn_maps_find(relay_clientcerts, s->ccert_pkey_fp.data, &value);
        pn_buf_release(&value);
        if (rc < 0) {
            pn_buf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", s->namaddr.data);
            return REFUSE;
        }
        return rc > 0 ? PERMIT : DUNNO;
    }
    case PN_RX_AUTH_DESTINATION: {
        if (rcpt == NULL || stage == STAGE_ETRN)
            return DUNNO;
        int flags = resolve_class(rcpt);
        if (flags < 0) {
            pn_buf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure", rcpt);
            return REFUSE;
        }
        int authorized = (flags & PN_RESOLVE_CLASS_MASK) != PN_RESOLVE_CLASS_DEFAULT &&
                         !(flags & PN_RESOLVE_ROUTED);
        if (r->variant == 'p')
            return authorized ? PERMIT : DUNNO;
        if (authorized)
            return DUNNO;
        if (r->variant == 'd')
            pn_buf_puts(reply, "454 4.7.1 ");
        else
            code_reply(reply, PN_P(relay_domains_reject_code), "7.1");
        pn_buf_printf(reply, "<%s>: Relay access denied", rcpt);
        return REFUSE;
    }
    case PN_RX_INVALID_HELO:
        if (helo && !valid_hostname(helo)) {
            code_reply(reply, PN_P(invalid_hostname_reject_code), "5.2");
            pn_buf_printf(reply, "<%s>: Helo command rejected: Invalid name", helo);
            return REFUSE;
        }
        return DUNNO;
    case PN_RX_NON_FQDN_HELO:
        if (helo && helo[0] != '[' && strchr(helo, '.') == NULL) {
            code_reply(reply, PN_P(non_fqdn_reject_code), "5.2");
            pn_buf_printf(reply, "<%s>: Helo command rejected: need fully-qualified hostname",
                          helo);
            return REFUSE;
        }
        return DUNNO;
    case PN_RX_UNKNOWN_HELO: {
        /* a HELO name with no address and no MX record; an address literal passes */
        if (helo == NULL || helo[0] == '[' || !valid_hostname(helo))
            return DUNNO;
        int rc = has_address(helo);
        if (rc == PN_DNS_OK)
            return DUNNO;
        long code = rc == PN_DNS_RETRY ? 450 : pn_config_get_int(PN_P(unknown_hostname_reject_code));
        pn_buf_printf(reply, "%ld %c.7.1 <%s>: Helo command rejected: Host not found", code,
                      code >= 500 ? '5' : '4', helo);
        return rc == PN_DNS_RETRY ? tempfail(reply) : REFUSE;
    }
    case PN_RX_UNKNOWN_CLIENT: {
        /* the verified name (PTR and forward agree), or for "reverse" any PTR name at all;
         * a temporary DNS failure is a 450 held back (tempfail) */
        int missing = r->variant ? strcmp(s->reverse_name.data, "unknown") == 0 : s->name_status != 0;
        if (!missing)
            return DUNNO;
        long code = s->name_status == 4 ? 450 : pn_config_get_int(PN_P(unknown_client_reject_code));
        pn_buf_printf(reply, "%ld %c.7.25 Client host rejected: cannot find your %shostname, [%s]",
                      code, code >= 500 ? '5' : '4', r->variant ? "reverse " : "", s->addr.data);
        return s->name_status == 4 ? tempfail(reply) : REFUSE;
    }
    case PN_RX_NON_FQDN_ADDRESS: {
        const char *addr = r->variant == 'r' ? rcpt : (s->in_mail ? s->sender.data : NULL);
        if (addr == NULL || *addr == 0)
            return DUNNO;
        const char *at = pn_addr_at(addr);
        if (at == NULL || strchr(at, '.') == NULL) {
            code_reply(reply, PN_P(non_fqdn_reject_code), "5.2");
            pn_buf_printf(reply, "<%s>: %s rejected: need fully-qualified address", addr,
                          r->variant == 'r' ? "Recipient address" : "Sender address");
            return REFUSE;
        }
        return DUNNO;
    }
    case PN_RX_UNKNOWN_DOMAIN:
        if (r->variant == 'r')
            return rcpt && stage != STAGE_ETRN ? unknown_domain(rcpt, 1, reply) : DUNNO;
        return s->in_mail ? unknown_domain(s->sender.data, 0, reply) : DUNNO;
    case PN_RX_UNLISTED:
        if (r->variant == 'r')
            return rcpt && stage != STAGE_ETRN && unlisted(rcpt, 0, reply) ? REFUSE : DUNNO;
        return s->in_mail && s->sender.len && unlisted(s->sender.data, 1, reply) ? REFUSE : DUNNO;
    case PN_RX_MULTI_RECIPIENT_BOUNCE:
        /* a null sender with more than one recipient: no real bounce has that (at RCPT, the
         * recipients accepted before this one count) */
        if (!s->in_mail || s->sender.len > 0 ||
            s->rcpts->len < (stage == STAGE_DATA || stage == STAGE_EOD ? 2u : 1u))
            return DUNNO;
        code_reply(reply, PN_P(multi_recipient_bounce_reject_code), "5.3");
        pn_buf_printf(reply, "<%s>: %s rejected: Multi-recipient bounce", *subject ? subject : "",
                      what[stage]);
        return REFUSE;
    case PN_RX_UNAUTH_PIPELINING:
        /* the session pipelined where it must not have (session.c) */
        if (!s->ill_pipelining)
            return DUNNO;
        pn_buf_printf(reply, "503 5.5.0 <%s>: %s rejected: Improper use of SMTP command pipelining",
                      subject, what[stage]);
        return REFUSE;
    case PN_RX_LOGIN_MISMATCH:
        if (!s->in_mail)
            return DUNNO;
        return smtpd_check_login(s, r->variant & 1, (r->variant & 2) != 0, (r->variant & 4) != 0,
                                 reply)
                   ? REFUSE
                   : DUNNO;
    case PN_RX_ACCESS:
        if (r->table == NULL) {
            pn_warn("restriction %s requires table argument", name);
            pn_buf_puts(reply, "451 4.3.5 Server configuration error");
            return REFUSE;
        }
        return check_access(s, r, rcpt, stage, reply);
    case PN_RX_MX_BACKUP:
        return rcpt && stage != STAGE_ETRN ? mx_backup(s, rcpt, stage) : DUNNO;
    case PN_RX_SERVER_ACCESS:
        if (r->table == NULL) {
            pn_warn("restriction %s requires table argument", name);
            pn_buf_puts(reply, "451 4.3.5 Server configuration error");
            return REFUSE;
        }
        return server_access(s, r, rcpt, stage, reply);
    case PN_RX_DNSBL: {
        const pn_restriction_def *def = pn_restriction_find(name);
        if (r->arg == NULL) { /* as the reference: a warning, and no decision */
            pn_warn("restriction %s requires %s argument", name, def->argument);
            return DUNNO;
        }
        int listed_subject = r->variant & ~PN_RX_DNSBL_PERMIT;
        if (listed_subject == SMTPD_DNSBL_RHS_SENDER && !s->in_mail)
            return DUNNO;
        pn_buf txt = PN_BUF_INIT, listed_what = PN_BUF_INIT;
        int listed = smtpd_dnsbl_check(s, listed_subject, r->arg,
                                       stage == STAGE_ETRN ? NULL : rcpt, &txt, &listed_what);
        enum verdict v = DUNNO;
        if (listed == 1 && (r->variant & PN_RX_DNSBL_PERMIT))
            v = PERMIT;
        else if (listed == 1) {
            smtpd_dnsbl_reply(s, listed_subject, r->arg, txt.data, listed_what.data, rcpt, reply);
            v = REFUSE;
        }
        pn_buf_release(&txt);
        pn_buf_release(&listed_what);
        return v;
    }
    case PN_RX_POLICY: {
        if (r->arg == NULL) {
            pn_warn("restriction %s requires server name argument", name);
            return DUNNO;
        }
        pn_buf action = PN_BUF_INIT;
        smtpd_policy_query(s, r->arg, held.command ? held.command : "RCPT", rcpt, &action);
        enum verdict v = access_action(s, action.data, subject, what[stage], stage, reply);
        pn_buf_release(&action);
        return v;
    }
    case PN_RX_SLEEP: { /* a pause that impatient bots do not wait out */
        long seconds = r->arg ? strtol(r->arg, NULL, 10) : -1;
        if (seconds < 0 || seconds > 3600)
            pn_warn("restriction sleep requires a number of seconds, not \"%s\"",
                    r->arg ? r->arg : "");
        else if (seconds > 0)
            sleep((unsigned)seconds);
        return DUNNO;
    }
    case PN_RX_PLAINTEXT_SESSION:
        if (s->tls)
            return DUNNO;
        code_reply(reply, PN_P(plaintext_reject_code), "7.1");
        pn_buf_puts(reply, "Session encryption is required");
        return REFUSE;
    case PN_RX_NAKED_IP_ADDRESS: { /* a HELO that is an address without its brackets */
        pn_warn("restriction %s is deprecated. Use permit_mynetworks or "
                "permit_sasl_authenticated instead",
                name);
        pn_inet_addr naked;
        return helo && helo[0] != '[' && pn_inet_parse(helo, &naked) == 0 ? PERMIT : DUNNO;
    }
    case PN_RX_CLASS: {
        static int depth;
        if (depth >= 10) {
            pn_warn("restriction class %s: nested too deep", name);
            pn_buf_puts(reply, "451 4.3.5 Server configuration error");
            return REFUSE;
        }
        depth++;
        enum verdict v = run_list(s, &r->class->list, rcpt, stage, reply);
        depth--;
        return v;
    }
    }
    if (pn_restriction_known(name))
        pn_warn("restriction %s is not implemented by Postern", name);
    else
        pn_warn("unknown smtpd restriction: \"%s\"", name);
    pn_buf_puts(reply, "451 4.3.5 Server configuration error");
    return REFUSE;
}

/* unlisted: the address does not exist in the table its class is checked against; 1 with
 * the reply naming the sender or the recipient. */
static int unlisted(const char *rcpt, int sender, pn_buf *reply)
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
        code_reply(reply, code, sender ? "1.0" : "1.1");
        pn_buf_printf(reply, "<%s>: %s address rejected: User unknown in %s", rcpt,
                      sender ? "Sender" : "Recipient", table);
        return 1;
    }
    return 0;
}

/* check_stages: the lists of the given stages in order, rcpt (or the ETRN site) as the
 * subject; 0 accept, -1 refused with the reply composed. */
/* run_list: a list's rules in order until one decides; warn_if_reject applies inside it. */
static enum verdict run_list(smtpd_session *s, const rule_list *list, const char *rcpt, int stage,
                             pn_buf *reply)
{
    for (size_t i = 0; i < list->count; i++) {
        int warn = held.warn_next;
        held.warn_next = 0;
        held.permit_logged = 0;
        const rule *r = &list->rules[i];
        enum verdict v = evaluate(s, r, rcpt, stage, reply);
        if (v == PERMIT && !held.permit_logged && r->op != PN_RX_CLASS) {
            /* the client permits name the client, the destination ones the recipient */
            int of_rcpt = r->op == PN_RX_AUTH_DESTINATION || r->op == PN_RX_PERMIT;
            log_permit(s, r->name, of_rcpt && rcpt ? what[stage] : "Client host",
                       of_rcpt && rcpt ? rcpt : s->namaddr.data, NULL);
        }
        if (v == REFUSE && warn) { /* warn_if_reject: logged, not done */
            smtpd_log_action(s, "reject_warning", held.command, reply->data, rcpt);
            pn_buf_reset(reply);
            continue;
        }
        if (v != DUNNO)
            return v;
    }
    return DUNNO;
}

static int check_stages(smtpd_session *s, const int *stages, int count, const char *command,
                        const char *rcpt, pn_buf *reply)
{
    pn_buf_reset(&held.if_permit);
    pn_buf_reset(&held.if_reject);
    held.warn_next = 0;
    held.command = command;
    held.rcpt = rcpt;
    int rc = 0;
    for (int k = 0; k < count && rc == 0 && !s->discarded; k++)
        if (run_list(s, &lists[stages[k]], rcpt, stages[k], reply) == REFUSE)
            rc = -1;
    /* what was held back: a permanent refusal becomes DEFER_IF_REJECT's, an acceptance
     * DEFER_IF_PERMIT's */
    if (rc < 0 && reply->data[0] == '5' && held.if_reject.len) {
        pn_buf_set(reply, held.if_reject.data);
    } else if (rc == 0 && held.if_permit.len) {
        pn_buf_set(reply, held.if_permit.data);
        rc = -1;
    }
    return rc;
}

/* delayed: smtpd_delay_reject: the client, helo and sender lists wait for RCPT (and ETRN) */
static int delayed(void)
{
    return pn_config_get_bool(PN_P(smtpd_delay_reject));
}

/* concluded: the check's end: soft_bounce, and a refusal logged as the reference logs it
 * ("NOQUEUE: reject: RCPT from ...: REPLY; from=<...> to=<...> ..."). */
static int concluded(smtpd_session *s, int rc, const char *command, const char *rcpt,
                     pn_buf *reply)
{
    smtpd_soften(reply);
    if (rc < 0)
        smtpd_log_action(s, "reject", command, reply->data, rcpt);
    return rc;
}

/* one_stage: without smtpd_delay_reject, a list at its own command. */
static int one_stage(smtpd_session *s, int stage, const char *command, pn_buf *reply)
{
    if (delayed() || lists[stage].count == 0)
        return 0;
    int rc = check_stages(s, &stage, 1, command, NULL, reply);
    return concluded(s, rc, command, NULL, reply);
}

int smtpd_check_connect(smtpd_session *s, pn_buf *reply)
{
    return one_stage(s, STAGE_CLIENT, "CONNECT", reply);
}

int smtpd_check_helo(smtpd_session *s, const char *command, pn_buf *reply)
{
    return one_stage(s, STAGE_HELO, command, reply);
}

int smtpd_check_mail(smtpd_session *s, pn_buf *reply)
{
    return one_stage(s, STAGE_SENDER, "MAIL", reply);
}

int smtpd_check_etrn(smtpd_session *s, const char *site, pn_buf *reply)
{
    /* with smtpd_delay_reject, the client and helo lists are applied here too */
    static const int stages[] = {STAGE_CLIENT, STAGE_HELO, STAGE_ETRN};
    int rc = delayed() ? check_stages(s, stages, 3, "ETRN", site, reply)
                       : check_stages(s, stages + 2, 1, "ETRN", site, reply);
    return concluded(s, rc, "ETRN", NULL, reply);
}

/* the recipient that the DATA and END-OF-MESSAGE stages name: the only one, or none */
static const char *only_rcpt(const smtpd_session *s)
{
    return s->rcpts->len == 1 ? s->rcpts->items[0] : NULL;
}

int smtpd_check_data(smtpd_session *s, pn_buf *reply)
{
    static const int stages[] = {STAGE_DATA};
    if (lists[STAGE_DATA].count == 0 || s->discarded)
        return 0;
    int rc = check_stages(s, stages, 1, "DATA", only_rcpt(s), reply);
    return concluded(s, rc, "DATA", only_rcpt(s), reply);
}

int smtpd_check_eod(smtpd_session *s, pn_buf *reply)
{
    static const int stages[] = {STAGE_EOD};
    if (lists[STAGE_EOD].count == 0 || s->discarded)
        return 0;
    int rc = check_stages(s, stages, 1, "END-OF-MESSAGE", only_rcpt(s), reply);
    return concluded(s, rc, "END-OF-MESSAGE", only_rcpt(s), reply);
}

int smtpd_check_rcpt(smtpd_session *s, const char *rcpt, pn_buf *reply)
{
    /* client, helo, sender (unless each had its own command), then relay and recipient, or
     * recipient and relay (smtpd_relay_before_recipient_restrictions = no) */
    int stages[5], count = 0;
    if (delayed()) {
        stages[count++] = STAGE_CLIENT;
        stages[count++] = STAGE_HELO;
        stages[count++] = STAGE_SENDER;
    }
    int relay_first = pn_config_get_bool(PN_P(smtpd_relay_before_recipient_restrictions));
    stages[count++] = relay_first ? STAGE_RELAY : STAGE_RECIPIENT;
    stages[count++] = relay_first ? STAGE_RECIPIENT : STAGE_RELAY;
    if (s->discarded) /* DISCARD: whatever comes, accepted and dropped */
        return 0;
    int rc = check_stages(s, stages, count, "RCPT", rcpt, reply);
    if (rc == 0 && !s->discarded && pn_config_get_bool(PN_P(smtpd_reject_unlisted_recipient)) &&
        !pn_config_list_has(PN_P(receive_override_options), "no_unknown_recipient_checks") &&
        unlisted(rcpt, 0, reply))
        rc = -1;
    if (rc == 0 && !s->discarded && pn_config_get_bool(PN_P(smtpd_reject_unlisted_sender)) && s->sender.len &&
        !pn_config_list_has(PN_P(receive_override_options), "no_unknown_recipient_checks") &&
        unlisted(s->sender.data, 1, reply))
        rc = -1;
    return concluded(s, rc, "RCPT", rcpt, reply);
}
