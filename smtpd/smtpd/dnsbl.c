/* dnsbl.c: DNS lists in the restrictions. reject_rbl_client and permit_dnswl_client look up
 * the client address (IPv4 octets, IPv6 nibbles, reversed) below a zone; reject_rhsbl_client,
 * _reverse_client, _sender, _helo and permit_rhswl_client look up a name there. "zone=filter"
 * lists only for the answers the filter takes: four octets, each a number or "[a..b;c]".
 * A listed subject's TXT record is the reason. Answers, negative ones too, are kept for the
 * life of the process (up to CACHE_LIMIT of them); a lookup that fails is not a listing (warned).
 * The reply comes from rbl_reply_maps (by zone) or default_rbl_reply, with the reference's $rbl_*
 * macros; its texts (TXT records joined with " / ", the sender named whole) are the reference's. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/htable.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfexpand.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/dns.h"
#include "mail/maps.h"
#include "smtpd.h"

#define MAX_ANSWERS 16
#define CACHE_LIMIT 1000 /* answers kept; then the cache starts afresh */
#define TXT_LIMIT 500    /* of the reason, as the reference cuts it */

struct answer {
    int status; /* PN_DNS_* */
    int count;
    unsigned char addrs[MAX_ANSWERS][4];
    char *txt; /* NULL until asked for */
};

static pn_htable *cache; /* query name -> struct answer */
static pn_maps *reply_maps;
static int reply_maps_open;

/* query_name: the name to look up below zone for the subject; 0 when there is no subject
 * (an unknown client name, no HELO, the null sender). */
static int query_name(const smtpd_session *s, int subject, const char *zone, const char *rcpt,
                      pn_buf *out, pn_buf *what)
{
    const char *name = NULL;
    pn_buf domain = PN_BUF_INIT;
    switch (subject) {
    case SMTPD_DNSBL_CLIENT:
        if (s->inet.family == AF_INET) {
            const unsigned char *b = s->inet.bytes;
            pn_buf_printf(out, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0], zone);
        } else {
            for (int i = 15; i >= 0; i--)
                pn_buf_printf(out, "%x.%x.", s->inet.bytes[i] & 0xf, s->inet.bytes[i] >> 4);
            pn_buf_puts(out, zone);
        }
        pn_buf_set(what, s->addr.data);
        return 1;
    case SMTPD_DNSBL_RHS_CLIENT: name = s->name.data; break;
    case SMTPD_DNSBL_RHS_REVERSE: name = s->reverse_name.data; break;
    case SMTPD_DNSBL_RHS_HELO: name = s->helo.len ? s->helo.data : NULL; break;
    case SMTPD_DNSBL_RHS_SENDER:
    case SMTPD_DNSBL_RHS_RECIPIENT: {
        const char *addr = subject == SMTPD_DNSBL_RHS_SENDER ? s->sender.data : rcpt;
        if (addr && *addr)
            pn_addr_domain(addr, &domain);
        name = domain.len ? domain.data : NULL;
        break;
    }
    }
    int ok = name && *name && strcmp(name, "unknown") != 0 && name[0] != '[';
    if (ok) {
        size_t len = strlen(name);
        pn_buf_printf(out, "%.*s.%s", (int)(len && name[len - 1] == '.' ? len - 1 : len), name,
                      zone);
        /* the sender is named whole, as the reference names it */
        pn_buf_set(what, subject == SMTPD_DNSBL_RHS_SENDER      ? s->sender.data
                         : subject == SMTPD_DNSBL_RHS_RECIPIENT ? rcpt
                                                                : name);
    }
    pn_buf_release(&domain);
    return ok;
}

/* octet_matches: one octet of a filter ("2", "[2..11]", "[2;4;10..12]"). */
static int octet_matches(const char *pat, size_t len, unsigned value)
{
    if (len == 0)
        return 0;
    if (pat[0] != '[')
        return (size_t)strspn(pat, "0123456789") == len && strtoul(pat, NULL, 10) == value;
    if (pat[len - 1] != ']')
        return 0;
    char *list = pn_strndup(pat + 1, len - 2), *save = NULL;
    int hit = 0;
    for (char *item = strtok_r(list, ";", &save); item && !hit; item = strtok_r(NULL, ";", &save)) {
        char *dots = strstr(item, "..");
        unsigned lo = (unsigned)strtoul(item, NULL, 10);
        unsigned hi = dots ? (unsigned)strtoul(dots + 2, NULL, 10) : lo;
        hit = value >= lo && value <= hi;
    }
    free(list);
    return hit;
}

static int filter_matches(const char *filter, const unsigned char *addr)
{
    const char *p = filter;
    for (int i = 0; i < 4; i++) {
        size_t len = strcspn(p, ".");
        if (p[0] == '[') /* a bracketed list may hold ".." */
            len = strcspn(p, "]") + 1;
        if (!octet_matches(p, len, addr[i]))
            return 0;
        p += len;
        if (i < 3) {
            if (*p != '.')
                return 0;
            p++;
        }
    }
    return *p == 0;
}

static void free_answer(void *ptr)
{
    struct answer *a = ptr;
    free(a->txt);
    free(a);
}

static struct answer *lookup(const char *name)
{
    if (cache && pn_htable_count(cache) >= CACHE_LIMIT) { /* a client asking for many names */
        pn_htable_free(cache, free_answer);
        cache = NULL;
    }
    if (cache == NULL)
        cache = pn_htable_new(64);
    struct answer *a = pn_htable_get(cache, name);
    if (a)
        return a;
    a = pn_calloc(1, sizeof(*a));
    pn_buf why = PN_BUF_INIT;
    a->status = pn_dns_a(name, a->addrs, MAX_ANSWERS, &a->count, &why);
    if (a->status == PN_DNS_RETRY)
        pn_warn("%s: RBL lookup error: %s", name, why.data);
    pn_buf_release(&why);
    pn_htable_put(cache, name, a);
    return a;
}

int smtpd_dnsbl_check(smtpd_session *s, int subject, const char *spec, const char *rcpt,
                      pn_buf *txt, pn_buf *what)
{
    char *zone = pn_strdup(spec), *filter = strchr(zone, '=');
    if (filter)
        *filter++ = 0;
    pn_buf name = PN_BUF_INIT;
    int listed = 0;
    if (query_name(s, subject, zone, rcpt, &name, what)) {
        struct answer *a = lookup(name.data);
        for (int i = 0; a->status == PN_DNS_OK && i < a->count && !listed; i++)
            listed = filter == NULL || filter_matches(filter, a->addrs[i]);
        if (a->status == PN_DNS_RETRY)
            listed = -1;
        if (listed == 1 && txt) {
            if (a->txt == NULL) {
                pn_buf text = PN_BUF_INIT, why = PN_BUF_INIT;
                pn_dns_txt(name.data, &text, &why);
                if (text.len > TXT_LIMIT)
                    pn_buf_truncate(&text, TXT_LIMIT);
                a->txt = pn_strdup(pn_buf_str(&text));
                pn_buf_release(&text);
                pn_buf_release(&why);
            }
            pn_buf_set(txt, a->txt);
        }
    }
    pn_buf_release(&name);
    free(zone);
    return listed;
}

/* The macros of a reply template. */
struct macros {
    const smtpd_session *s;
    const char *code, *domain, *reason, *class, *what, *rcpt;
};

static const char *macro(const char *name, void *ctx)
{
    const struct macros *m = ctx;
    if (strcmp(name, "rbl_code") == 0)
        return m->code;
    if (strcmp(name, "rbl_domain") == 0)
        return m->domain;
    if (strcmp(name, "rbl_reason") == 0 || strcmp(name, "rbl_txt") == 0)
        return *m->reason ? m->reason : NULL;
    if (strcmp(name, "rbl_class") == 0)
        return m->class;
    if (strcmp(name, "rbl_what") == 0)
        return m->what;
    if (strcmp(name, "client_address") == 0)
        return m->s->addr.data;
    if (strcmp(name, "client_name") == 0)
        return m->s->name.data;
    if (strcmp(name, "reverse_client_name") == 0)
        return m->s->reverse_name.data;
    if (strcmp(name, "client") == 0)
        return m->s->namaddr.data;
    if (strcmp(name, "helo_name") == 0)
        return m->s->helo.data;
    if (strcmp(name, "sender") == 0)
        return m->s->sender.data;
    if (strcmp(name, "recipient") == 0)
        return m->rcpt;
    return NULL;
}

void smtpd_dnsbl_reply(smtpd_session *s, int subject, const char *spec, const char *txt,
                       const char *what, const char *rcpt, pn_buf *reply)
{
    char *zone = pn_strdup(spec);
    zone[strcspn(zone, "=")] = 0;
    if (!reply_maps_open) {
        reply_maps_open = 1;
        pn_buf err = PN_BUF_INIT;
        const char *maps = pn_config_get(PN_P(rbl_reply_maps));
        if (*maps && (reply_maps = pn_maps_open(PN_P(rbl_reply_maps), maps, PN_DICT_DEFAULT_FLAGS,
                                                &err)) == NULL)
            pn_warn("%s", err.data);
        pn_buf_release(&err);
    }
    pn_buf template = PN_BUF_INIT, text = PN_BUF_INIT, err = PN_BUF_INIT;
    if (reply_maps == NULL || pn_maps_find(reply_maps, zone, &template) <= 0)
        pn_buf_set(&template, pn_config_raw(PN_P(default_rbl_reply))); /* $rbl_* are ours */
    char code[16];
    snprintf(code, sizeof(code), "%ld", pn_config_get_int(PN_P(maps_rbl_reject_code)));
    struct macros m = {s,
                       code,
                       zone,
                       txt ? txt : "",
                       subject == SMTPD_DNSBL_RHS_SENDER      ? "Sender address"
                       : subject == SMTPD_DNSBL_RHS_RECIPIENT ? "Recipient address"
                       : subject == SMTPD_DNSBL_RHS_HELO    ? "Helo command"
                       : subject == SMTPD_DNSBL_RHS_REVERSE ? "Unverified Client host"
                                                            : "Client host",
                       what,
                       rcpt ? rcpt : ""};
    pn_expand_ctx ec = {.lookup = macro, .ctx = &m};
    if (pn_expand(&ec, template.data, &text, &err) < 0 || text.len < 4 ||
        strspn(text.data, "0123456789") != 3 || (text.data[0] != '4' && text.data[0] != '5')) {
        pn_warn("RBL reply error: %s", err.len ? err.data : text.data);
        pn_buf_set(reply, "451 4.3.5 Server configuration error");
    } else {
        /* "554 text" gets the enhanced code of its class: "554 5.7.1 text" */
        const char *rest = text.data + 3 + strspn(text.data + 3, " ");
        int has_dsn = (rest[0] == '2' || rest[0] == '4' || rest[0] == '5') && rest[1] == '.';
        if (has_dsn) /* its class follows the reply code's */
            pn_buf_printf(reply, "%.3s %c%s", text.data, text.data[0], rest + 1);
        else
            pn_buf_printf(reply, "%.3s %c.7.1 %s", text.data, text.data[0], rest);
    }
    pn_buf_release(&template);
    pn_buf_release(&text);
    pn_buf_release(&err);
    free(zone);
}
