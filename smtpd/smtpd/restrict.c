/* restrict.c: smtpd's restriction lists (client, helo, sender, relay, recipient, etrn, data,
 * end-of-data, and the restriction classes), compiled into rules once at start, and their
 * evaluation: at RCPT (or each at its own command without smtpd_delay_reject), then the check
 * that the recipient exists. A restriction this version does not carry out answers
 * 451 4.3.5 (mail is never accepted unchecked). Reply texts and codes are the reference's;
 * doc/abuse.md tells the whole. */
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
#include "mail/addr.h"
#include "mail/maps.h"
#include "mail/resolveclnt.h"
#include "restrict.h"
#include "smtpd.h"

static rule_list lists[STAGES] = {
    {PN_P(smtpd_client_restrictions), NULL, 0},    {PN_P(smtpd_helo_restrictions), NULL, 0},
    {PN_P(smtpd_sender_restrictions), NULL, 0},    {PN_P(smtpd_relay_restrictions), NULL, 0},
    {PN_P(smtpd_recipient_restrictions), NULL, 0}, {PN_P(smtpd_etrn_restrictions), NULL, 0},
    {PN_P(smtpd_data_restrictions), NULL, 0},      {PN_P(smtpd_end_of_data_restrictions), NULL, 0}};
/* The clients whose headers get the local rewriting (local_header_rewrite_clients). */
static rule_list rewrite_clients = {PN_P(local_header_rewrite_clients), NULL, 0};
static pn_cidr *mynetworks;
static size_t mynetworks_count;
static pn_maps *relay_clientcerts; /* fingerprints of the client certificates trusted to relay */
static void parse_rewrite_clients(void);

pn_maps *rx_open_maps(const char *param, const char *value)
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
void rx_compile(rule *r, const char *name)
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
        rx_compile(r, words->items[i]);
        if (!pn_restriction_takes_argument(r->name) || i + 1 >= words->len)
            continue;
        if (r->op == PN_RX_ACCESS || r->op == PN_RX_SERVER_ACCESS) {
            r->table_name = pn_strdup(words->items[++i]);
            r->table = rx_open_maps(list->param, r->table_name);
        } else
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
    rx_access_free();
    rx_addr_free();
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
    pn_maps_free(relay_clientcerts);
    relay_clientcerts = NULL;
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

size_t rx_parse_nets(const char *param, pn_cidr **nets)
{
    pn_argv *words = pn_argv_split(pn_config_get(param), PN_SEPARATORS);
    size_t count = 0;
    *nets = pn_calloc(words->len + 1, sizeof(pn_cidr));
    for (size_t i = 0; i < words->len; i++) {
        pn_buf why = PN_BUF_INIT;
        if (pn_cidr_parse(words->items[i], &(*nets)[count], &why) == 0)
            count++;
        else
            pn_warn("%s: %s: ignored", param, why.data);
        pn_buf_release(&why);
    }
    pn_argv_free(words);
    return count;
}

void smtpd_restrict_init(void)
{
    parse_classes();
    for (size_t i = 0; i < STAGES; i++)
        parse_value(&lists[i], pn_config_get(lists[i].param));
    guard_against_open_relay();
    rx_access_init();
    rx_addr_init();
    mynetworks_count = rx_parse_nets(PN_P(mynetworks), &mynetworks);
    relay_clientcerts =
        rx_open_maps(PN_P(relay_clientcerts), pn_config_get(PN_P(relay_clientcerts)));
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
        r->table = table ? rx_open_maps(rewrite_clients.param, table) : NULL;
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
    return rx_addr_changed() || pn_maps_changed(relay_clientcerts);
}

int smtpd_in_mynetworks(const smtpd_session *s)
{
    for (size_t i = 0; i < mynetworks_count; i++)
        if (pn_cidr_match(&mynetworks[i], &s->inet))
            return 1;
    return 0;
}

struct rx_held rx_held;

/* tempfail: a DNS failure (reject_tempfail_action: defer_if_permit): the reply is held back
 * for the end of the check, where a rejection still wins over it. */
enum verdict rx_tempfail(pn_buf *text)
{
    if (rx_held.if_permit.len == 0)
        pn_buf_set(&rx_held.if_permit, text->data);
    pn_buf_reset(text);
    return DUNNO;
}

/* code_reply: "NNN X.detail " with the reply code a parameter sets (access_map_reject_code,
 * unknown_local_recipient_reject_code, ...) and the enhanced code of the same class. */
void rx_code_reply(pn_buf *reply, const char *param, const char *detail)
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

static enum verdict run_list(smtpd_session *s, const rule_list *list, const char *rcpt, int stage,
                             pn_buf *reply);

/* smtpd_log_access_permit_actions: which permits are logged ("static:all": every one) */

const char *const rx_what[STAGES] = {"Client host",       "Helo command",      "Sender address",
                                     "Recipient address", "Recipient address", "Etrn command",
                                     "Data command",      "End-of-data"};

enum verdict rx_evaluate(smtpd_session *s, const rule *r, const char *rcpt, int stage,
                         pn_buf *reply)
{
    const char *name = r->name;
    const char *helo = s->helo.len ? s->helo.data : NULL;
    /* what a reply names: the subject of the list being evaluated */
    const char *subject = stage == STAGE_DATA           ? "DATA"
                          : stage == STAGE_EOD          ? "END-OF-MESSAGE"
                          : stage >= STAGE_RELAY        ? rcpt
                          : stage == STAGE_SENDER       ? s->sender.data
                          : stage == STAGE_HELO && helo ? helo
                                                        : s->namaddr.data;
    switch (r->op) {
    case PN_RX_PERMIT: return PERMIT;
    case PN_RX_REJECT:
    case PN_RX_DEFER:
        rx_code_reply(reply, r->op == PN_RX_DEFER ? PN_P(defer_code) : PN_P(reject_code), "7.1");
        pn_buf_printf(reply, "<%s>: %s rejected: Access denied", subject, rx_what[stage]);
        return REFUSE;
    case PN_RX_WARN_IF_REJECT: rx_held.warn_next = 1; return DUNNO;
    case PN_RX_DEFER_IF_PERMIT:
    case PN_RX_DEFER_IF_REJECT: {
        pn_buf *slot = r->op == PN_RX_DEFER_IF_PERMIT ? &rx_held.if_permit : &rx_held.if_reject;
        if (slot->len == 0) {
            rx_code_reply(slot, PN_P(defer_code), "7.0");
            pn_buf_printf(slot, "<%s>: %s rejected: %s requested", subject, rx_what[stage], name);
        }
        return DUNNO;
    }
    case PN_RX_PERMIT_MYNETWORKS: return smtpd_in_mynetworks(s) ? PERMIT : DUNNO;
    case PN_RX_PERMIT_INET_INTERFACES:
        return pn_inet_is_local(&s->inet, pn_config_get(PN_P(inet_interfaces))) ? PERMIT : DUNNO;
    case PN_RX_PERMIT_SASL_AUTHENTICATED: return s->sasl_username.len ? PERMIT : DUNNO;
    case PN_RX_PERMIT_TLS_ALL_CLIENTCERTS: return s->ccert == 2 ? PERMIT : DUNNO;
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
        int flags = rx_resolve_class(rcpt);
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
            rx_code_reply(reply, PN_P(relay_domains_reject_code), "7.1");
        pn_buf_printf(reply, "<%s>: Relay access denied", rcpt);
        return REFUSE;
    }
    case PN_RX_INVALID_HELO:
        if (helo && !rx_valid_hostname(helo)) {
            rx_code_reply(reply, PN_P(invalid_hostname_reject_code), "5.2");
            pn_buf_printf(reply, "<%s>: Helo command rejected: Invalid name", helo);
            return REFUSE;
        }
        return DUNNO;
    case PN_RX_NON_FQDN_HELO:
        if (helo && helo[0] != '[' && strchr(helo, '.') == NULL) {
            rx_code_reply(reply, PN_P(non_fqdn_reject_code), "5.2");
            pn_buf_printf(reply, "<%s>: Helo command rejected: need fully-qualified hostname",
                          helo);
            return REFUSE;
        }
        return DUNNO;
    case PN_RX_UNKNOWN_HELO: {
        /* a HELO name with no address and no MX record; an address literal passes */
        if (helo == NULL || helo[0] == '[' || !rx_valid_hostname(helo))
            return DUNNO;
        int rc = rx_has_address(helo);
        if (rc == PN_DNS_OK)
            return DUNNO;
        long code =
            rc == PN_DNS_RETRY ? 450 : pn_config_get_int(PN_P(unknown_hostname_reject_code));
        pn_buf_printf(reply, "%ld %c.7.1 <%s>: Helo command rejected: Host not found", code,
                      code >= 500 ? '5' : '4', helo);
        return rc == PN_DNS_RETRY ? rx_tempfail(reply) : REFUSE;
    }
    case PN_RX_UNKNOWN_CLIENT: {
        /* the verified name (PTR and forward agree), or for "reverse" any PTR name at all;
         * a temporary DNS failure is a 450 held back (tempfail) */
        int missing =
            r->variant ? strcmp(s->reverse_name.data, "unknown") == 0 : s->name_status != 0;
        if (!missing)
            return DUNNO;
        long code = s->name_status == 4 ? 450 : pn_config_get_int(PN_P(unknown_client_reject_code));
        pn_buf_printf(reply, "%ld %c.7.25 Client host rejected: cannot find your %shostname, [%s]",
                      code, code >= 500 ? '5' : '4', r->variant ? "reverse " : "", s->addr.data);
        return s->name_status == 4 ? rx_tempfail(reply) : REFUSE;
    }
    case PN_RX_NON_FQDN_ADDRESS: {
        const char *addr = r->variant == 'r' ? rcpt : (s->in_mail ? s->sender.data : NULL);
        if (addr == NULL || *addr == 0)
            return DUNNO;
        const char *at = pn_addr_at(addr);
        if (at == NULL || strchr(at, '.') == NULL) {
            rx_code_reply(reply, PN_P(non_fqdn_reject_code), "5.2");
            pn_buf_printf(reply, "<%s>: %s rejected: need fully-qualified address", addr,
                          r->variant == 'r' ? "Recipient address" : "Sender address");
            return REFUSE;
        }
        return DUNNO;
    }
    case PN_RX_UNKNOWN_DOMAIN:
        if (r->variant == 'r')
            return rcpt && stage != STAGE_ETRN ? rx_unknown_domain(rcpt, 1, reply) : DUNNO;
        return s->in_mail ? rx_unknown_domain(s->sender.data, 0, reply) : DUNNO;
    case PN_RX_UNLISTED:
        if (r->variant == 'r')
            return rcpt && stage != STAGE_ETRN && rx_unlisted(rcpt, 0, reply) ? REFUSE : DUNNO;
        return s->in_mail && s->sender.len && rx_unlisted(s->sender.data, 1, reply) ? REFUSE
                                                                                    : DUNNO;
    case PN_RX_MULTI_RECIPIENT_BOUNCE:
        /* a null sender with more than one recipient: no real bounce has that (at RCPT, the
         * recipients accepted before this one count) */
        if (!s->in_mail || s->sender.len > 0 ||
            s->rcpts->len < (stage == STAGE_DATA || stage == STAGE_EOD ? 2u : 1u))
            return DUNNO;
        rx_code_reply(reply, PN_P(multi_recipient_bounce_reject_code), "5.3");
        pn_buf_printf(reply, "<%s>: %s rejected: Multi-recipient bounce", *subject ? subject : "",
                      rx_what[stage]);
        return REFUSE;
    case PN_RX_UNAUTH_PIPELINING:
        /* the session pipelined where it must not have (session.c) */
        if (!s->ill_pipelining)
            return DUNNO;
        pn_buf_printf(reply, "503 5.5.0 <%s>: %s rejected: Improper use of SMTP command pipelining",
                      subject, rx_what[stage]);
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
        return rx_check_access(s, r, rcpt, stage, reply);
    case PN_RX_MX_BACKUP: return rcpt && stage != STAGE_ETRN ? rx_mx_backup(s, rcpt, stage) : DUNNO;
    case PN_RX_SERVER_ACCESS:
        if (r->table == NULL) {
            pn_warn("restriction %s requires table argument", name);
            pn_buf_puts(reply, "451 4.3.5 Server configuration error");
            return REFUSE;
        }
        return rx_server_access(s, r, rcpt, stage, reply);
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
        int listed = smtpd_dnsbl_check(s, listed_subject, r->arg, stage == STAGE_ETRN ? NULL : rcpt,
                                       &txt, &listed_what);
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
        smtpd_policy_query(s, r->arg, rx_held.command ? rx_held.command : "RCPT", rcpt, &action);
        enum verdict v = rx_access_action(s, action.data, subject, rx_what[stage], stage, reply);
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
        rx_code_reply(reply, PN_P(plaintext_reject_code), "7.1");
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

/* check_stages: the lists of the given stages in order, rcpt (or the ETRN site) as the
 * subject; 0 accept, -1 refused with the reply composed. */
/* run_list: a list's rules in order until one decides; warn_if_reject applies inside it. */
static enum verdict run_list(smtpd_session *s, const rule_list *list, const char *rcpt, int stage,
                             pn_buf *reply)
{
    for (size_t i = 0; i < list->count; i++) {
        int warn = rx_held.warn_next;
        rx_held.warn_next = 0;
        rx_held.permit_logged = 0;
        const rule *r = &list->rules[i];
        enum verdict v = rx_evaluate(s, r, rcpt, stage, reply);
        /* a permit restriction's own permit (tables, policy servers and classes log theirs,
         * or not, where they decide) */
        if (v == PERMIT && !rx_held.permit_logged && r->op != PN_RX_CLASS &&
            r->op != PN_RX_ACCESS && r->op != PN_RX_SERVER_ACCESS && r->op != PN_RX_POLICY) {
            /* the client permits name the client, the destination ones the recipient */
            int of_rcpt = r->op == PN_RX_AUTH_DESTINATION || r->op == PN_RX_PERMIT;
            rx_log_permit(s, r->name, of_rcpt && rcpt ? rx_what[stage] : "Client host",
                          of_rcpt && rcpt ? rcpt : s->namaddr.data, NULL);
        }
        if (v == REFUSE && warn) { /* warn_if_reject: logged, not done */
            smtpd_log_action(s, "reject_warning", rx_held.command, reply->data, rcpt);
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
    pn_buf_reset(&rx_held.if_permit);
    pn_buf_reset(&rx_held.if_reject);
    rx_held.warn_next = 0;
    rx_held.command = command;
    rx_held.rcpt = rcpt;
    int rc = 0;
    for (int k = 0; k < count && rc == 0 && !s->discarded; k++)
        if (run_list(s, &lists[stages[k]], rcpt, stages[k], reply) == REFUSE)
            rc = -1;
    /* what was held back: a permanent refusal becomes DEFER_IF_REJECT's, an acceptance
     * DEFER_IF_PERMIT's */
    if (rc < 0 && reply->data[0] == '5' && rx_held.if_reject.len) {
        pn_buf_set(reply, rx_held.if_reject.data);
    } else if (rc == 0 && rx_held.if_permit.len) {
        pn_buf_set(reply, rx_held.if_permit.data);
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
static int concluded(smtpd_session *s, int rc, const char *command, const char *rcpt, pn_buf *reply)
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
        rx_unlisted(rcpt, 0, reply))
        rc = -1;
    if (rc == 0 && !s->discarded && pn_config_get_bool(PN_P(smtpd_reject_unlisted_sender)) &&
        s->sender.len &&
        !pn_config_list_has(PN_P(receive_override_options), "no_unknown_recipient_checks") &&
        rx_unlisted(s->sender.data, 1, reply))
        rc = -1;
    return concluded(s, rc, "RCPT", rcpt, reply);
}
