/* starttls.c: TLS in the smtp and lmtp client (doc/tls.md). The security level of a
 * destination comes from <prefix>_tls_policy_maps (the next-hop destination, then its parent
 * domains as ".domain"), else <prefix>_tls_security_level, else the older _enforce_tls and
 * _use_tls. After EHLO the client sends STARTTLS when the level asks for it, and holds the
 * server to the level: "encrypt" never sends in clear, "verify" and "secure" want a trusted
 * certificate for the expected name. "dane" and "dane-only" (RFC 7672) need
 * <prefix>_dns_support_level = dnssec: the server's TLSA records, when its MX and address
 * answers were validated, authenticate its certificate (dane_policy). "fingerprint" is not
 * implemented and defers the mail.
 * With <prefix>_tls_wrappermode (a relay on port 465) TLS starts before the greeting, at
 * level encrypt at least. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/maps.h"
#include "mail/tls.h"
#include "smtp.h"

/* LEVEL_DANE: as the policy says it, then (after dane_policy) authentication by TLSA
 * records; LEVEL_DANE_ONLY is resolved to it, to LEVEL_ENCRYPT, or to a deferral. */
enum level {
    LEVEL_NONE,
    LEVEL_MAY,
    LEVEL_ENCRYPT,
    LEVEL_VERIFY,
    LEVEL_SECURE,
    LEVEL_DANE,
    LEVEL_DANE_ONLY,
    LEVEL_BAD
};

struct smtp_tls_policy {
    enum level level;
    char match[512]; /* ':' separated; empty: the level's default */
    char protocols[128], ciphers[32], exclude[256];
    pn_tlsa *tlsa; /* LEVEL_DANE: the server's usable TLSA records */
    int tlsa_count;
};

static pn_tls_client *client;
static pn_maps *policy_maps;

static const char *const level_names[] = {"none",   "may",  "encrypt",  "verify",
                                          "secure", "dane", "dane-only"};

static enum level level_of(const char *word)
{
    for (int i = 0; i < LEVEL_BAD; i++)
        if (strcasecmp(word, level_names[i]) == 0)
            return (enum level)i;
    return LEVEL_BAD;
}

static enum level default_level(void)
{
    const char *level = pn_config_get(SMTP_PARAM(tls_security_level));
    if (*level)
        return level_of(level);
    return pn_config_get_bool(SMTP_PARAM(enforce_tls)) ? LEVEL_ENCRYPT
           : pn_config_get_bool(SMTP_PARAM(use_tls))   ? LEVEL_MAY
                                                       : LEVEL_NONE;
}

void smtp_tls_init(void)
{
    const char *maps = pn_config_get(SMTP_PARAM(tls_policy_maps));
    pn_buf why = PN_BUF_INIT;
    if (*maps && (policy_maps = pn_maps_open(SMTP_PARAM(tls_policy_maps), maps,
                                             PN_DICT_DEFAULT_FLAGS, &why)) == NULL)
        pn_fatal("%s", why.data);
    pn_buf_release(&why);
    if (default_level() == LEVEL_BAD)
        pn_warn("%s = %s is not implemented by Postern: mail is deferred",
                SMTP_PARAM(tls_security_level), pn_config_get(SMTP_PARAM(tls_security_level)));
    if (default_level() != LEVEL_NONE || policy_maps ||
        pn_config_get_bool(SMTP_PARAM(tls_wrappermode)))
        client = pn_tls_client_prepare(
            pn_config_get(SMTP_PARAM(tls_CAfile)), pn_config_get(SMTP_PARAM(tls_CApath)),
            pn_config_get(SMTP_PARAM(tls_chain_files)), pn_config_get(SMTP_PARAM(tls_cert_file)),
            pn_config_get(SMTP_PARAM(tls_key_file)));
}

int smtp_tls_changed(void)
{
    return policy_maps && pn_maps_changed(policy_maps);
}

/* nexthop_domain: "[mx.example]:587" -> "mx.example". */
static void nexthop_domain(const char *nexthop, char *out, size_t len)
{
    snprintf(out, len, "%s", nexthop + (nexthop[0] == '['));
    out[strcspn(out, nexthop[0] == '[' ? "]" : ":")] = 0;
}

/* parse_policy: "level attr=value ..."; -1 with the reference's warning logged. */
static int parse_policy(const char *nexthop, const char *value, struct smtp_tls_policy *p)
{
    pn_argv *words = pn_argv_split(value, " \t,");
    int rc = 0;
    for (size_t i = 0; i < words->len && rc == 0; i++) {
        const char *w = words->items[i];
        if (i == 0) {
            p->level = level_of(w);
            if (p->level == LEVEL_BAD) {
                pn_warn("%s, next-hop destination \"%s\": invalid security level \"%s\"",
                        SMTP_PARAM(tls_policy_maps), nexthop, w);
                rc = -1;
            }
        } else if (pn_has_prefix(w, "match=")) {
            snprintf(p->match, sizeof(p->match), "%s", w + 6);
        } else if (pn_has_prefix(w, "protocols=")) {
            snprintf(p->protocols, sizeof(p->protocols), "%s", w + 10);
        } else if (pn_has_prefix(w, "ciphers=")) {
            snprintf(p->ciphers, sizeof(p->ciphers), "%s", w + 8);
        } else if (pn_has_prefix(w, "exclude=")) {
            snprintf(p->exclude, sizeof(p->exclude), "%s", w + 8);
        } else {
            pn_warn("%s, next-hop destination \"%s\": invalid attribute \"%s\"",
                    SMTP_PARAM(tls_policy_maps), nexthop, w);
            rc = -1;
        }
    }
    pn_argv_free(words);
    return rc;
}

/* find_policy: the destination's policy; -1 (logged) for a table or policy in error. */
static int find_policy(const char *nexthop, struct smtp_tls_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->level = default_level();
    if (p->level == LEVEL_BAD)
        return -1;
    if (policy_maps == NULL)
        return 0;
    pn_buf value = PN_BUF_INIT;
    int rc = pn_maps_find(policy_maps, nexthop, &value);
    if (rc == 0 && nexthop[0] != '[') { /* a domain: then ".parent" for its parents */
        char domain[256];
        nexthop_domain(nexthop, domain, sizeof(domain));
        for (const char *dot = strchr(domain, '.'); rc == 0 && dot; dot = strchr(dot + 1, '.'))
            rc = pn_maps_find_fixed(policy_maps, dot, &value);
    }
    if (rc < 0)
        pn_warn("%s: table lookup error for \"%s\"", SMTP_PARAM(tls_policy_maps), nexthop);
    else if (rc > 0)
        rc = parse_policy(nexthop, value.data, p) < 0 ? -1 : 1;
    pn_buf_release(&value);
    return rc < 0 ? -1 : 0;
}

/* fail: the mail waits for this server; a TLS policy matter, with its status. */
static int fail(struct session *ss, const char *dsn, pn_buf *why, const char *fmt, const char *arg)
{
    pn_buf_reset(why);
    pn_buf_printf(why, fmt, arg);
    snprintf(ss->fail_dsn, sizeof(ss->fail_dsn), "%s", dsn);
    return -1;
}

/* verified: a trusted chain, and a certificate for one of the names the match list gives. */
static int verified(struct session *ss, const char *nexthop, const struct smtp_tls_policy *p,
                    int secure)
{
    pn_buf reason = PN_BUF_INIT;
    if (!pn_tls_peer_trusted(ss->tls, &reason)) {
        pn_info("certificate verification failed for %s: %s", ss->relay, reason.data);
        pn_buf_release(&reason);
        return 0;
    }
    pn_buf_release(&reason);
    char domain[256];
    nexthop_domain(nexthop, domain, sizeof(domain));
    const char *match = *p->match ? p->match
                        : secure  ? pn_config_get(SMTP_PARAM(tls_secure_cert_match))
                                  : pn_config_get(SMTP_PARAM(tls_verify_cert_match));
    pn_argv *names = pn_argv_split(match, *p->match ? ":" : ", \t:");
    int ok = 0;
    for (size_t i = 0; i < names->len && !ok; i++) {
        const char *n = names->items[i];
        char name[300];
        if (strcasecmp(n, "hostname") == 0)
            snprintf(name, sizeof(name), "%s", ss->host);
        else if (strcasecmp(n, "nexthop") == 0)
            snprintf(name, sizeof(name), "%s", domain);
        else if (strcasecmp(n, "dot-nexthop") == 0)
            snprintf(name, sizeof(name), ".%s", domain);
        else
            snprintf(name, sizeof(name), "%s", n);
        ok = pn_tls_peer_matches(ss->tls, name);
    }
    pn_argv_free(names);
    if (!ok) {
        int ip = strspn(ss->host, "0123456789.:abcdefABCDEF") == strlen(ss->host) &&
                 strpbrk(ss->host, ".:");
        pn_info("server certificate verification failed for %s: %s", ss->relay,
                ip ? "num=64:IP address mismatch" : "num=62:hostname mismatch");
    }
    return ok;
}

/* usable: a TLSA record an SMTP client can use (RFC 7672 3.1): DANE-TA(2) or DANE-EE(3),
 * of the full certificate or its public key, in full or as SHA2-256 or SHA2-512. */
static int usable(const pn_tlsa *r)
{
    return (r->usage == 2 || r->usage == 3) && r->selector <= 1 && r->mtype <= 2;
}

/* tlsa_text: "3 1 1 ABCD..." of a record, as the reference logs it. */
static void tlsa_text(const pn_tlsa *r, pn_buf *out)
{
    pn_buf_printf(out, "%u %u %u ", r->usage, r->selector, r->mtype);
    for (size_t i = 0; i < r->len; i++)
        pn_buf_printf(out, "%02X", r->data[i]);
}

/* policy_failed: the server gets no mail under this policy; logged as the reference does
 * ("TLS policy lookup for NEXTHOP/HOST: REASON"), deferred with the reason. */
static int policy_failed(struct session *ss, const char *nexthop, pn_buf *why, const char *reason)
{
    pn_warn("TLS policy lookup for %s/%s: %s", nexthop, ss->host, reason);
    return fail(ss, "4.7.5", why, "%s", reason);
}

/* dane_policy: what "dane" and "dane-only" mean for this server, before a connection is
 * made. With DNSSEC-validated MX (or <prefix>_tls_dane_insecure_mx_policy = dane) and address
 * answers, its validated TLSA records decide: usable ones authenticate it, unusable ones
 * still make TLS mandatory. Without them "dane" is "may" and "dane-only" defers; so does a
 * failed TLSA lookup. */
static int dane_policy(struct session *ss, const char *nexthop, struct smtp_tls_policy *p,
                       pn_buf *why)
{
    int only = p->level == LEVEL_DANE_ONLY;
    char relay[600];
    snprintf(relay, sizeof(relay), "%s[%s]:%d", ss->host, ss->addr, ss->port);
    if (proto->lmtp && ss->addr[0] == '/') {
        pn_warn("%s: the \"dane\" security level is invalid for delivery via unix-domain sockets",
                nexthop);
        return fail(ss, "4.7.5", why, "%s", "client TLS configuration problem");
    }
    if (pn_dns_mode() != PN_DNS_DNSSEC) {
        pn_warn("%s: %s configured with dnssec lookups disabled", nexthop, level_names[p->level]);
        return fail(ss, "4.7.5", why, "%s", "client TLS configuration problem");
    }
    int insecure_mx =
        ss->dnssec_mx == 0 &&
        (only || strcasecmp(pn_config_get(PN_P(smtp_tls_dane_insecure_mx_policy)), "dane") != 0);
    pn_buf err = PN_BUF_INIT;
    int secure = 0, rc = PN_DNS_NOTFOUND;
    if (!insecure_mx && ss->dnssec_host) /* TLSA records count only below validated names */
        rc = pn_dns_tlsa(ss->host, ss->port, &p->tlsa, &p->tlsa_count, &secure, &err);
    if (rc == PN_DNS_RETRY) {
        pn_warn("DANE TLSA lookup problem: %s", err.data);
        pn_buf_release(&err);
        char reason[700];
        snprintf(reason, sizeof(reason), "TLSA lookup error for %s:%d", ss->host, ss->port);
        return policy_failed(ss, nexthop, why, reason);
    }
    pn_buf_release(&err);
    if (rc != PN_DNS_OK || !secure) { /* none, or none that DNSSEC vouches for */
        if (!only) {
            p->level = LEVEL_MAY;
            return 0;
        }
        return policy_failed(ss, nexthop, why, "no TLSA records found");
    }
    int kept = 0;
    for (int i = 0; i < p->tlsa_count; i++) {
        pn_buf text = PN_BUF_INIT;
        tlsa_text(&p->tlsa[i], &text);
        if (usable(&p->tlsa[i])) {
            pn_tlsa r = p->tlsa[kept];
            p->tlsa[kept++] = p->tlsa[i];
            p->tlsa[i] = r;
        } else if (p->tlsa[i].usage < 2) {
            pn_warn("_%d._tcp.%s unsupported TLSA certificate usage: %s", ss->port, ss->host,
                    text.data);
        } else {
            pn_warn("%s: unusable TLSA RR: %s", relay, text.data);
        }
        pn_buf_release(&text);
    }
    if (kept == 0) {
        if (only)
            return policy_failed(ss, nexthop, why, "TLSA records unusable");
        pn_warn("%s: all TLSA records unusable, fallback to unauthenticated TLS", relay);
        p->level = LEVEL_ENCRYPT;
        return 0;
    }
    p->level = LEVEL_DANE;
    return 0;
}

/* handshake: TLS on the connection as the policy says, and the server held to its level;
 * 0, or -1 with why (and fail_dsn). */
static int handshake(struct session *ss, const char *nexthop, const struct smtp_tls_policy *p,
                     pn_buf *why)
{
    int mandatory = p->level >= LEVEL_ENCRYPT;
    const char *servername = pn_config_get(SMTP_PARAM(tls_servername));
    char domain[256];
    nexthop_domain(nexthop, domain, sizeof(domain));
    const char *sni = p->level == LEVEL_DANE                    ? ss->host /* the TLSA base */
                      : strcasecmp(servername, "hostname") == 0 ? ss->host
                      : strcasecmp(servername, "nexthop") == 0  ? domain
                                                                : servername;
    pn_buf reason = PN_BUF_INIT;
    const char *protocols = *p->protocols
                                ? p->protocols
                                : pn_config_get(mandatory ? SMTP_PARAM(tls_mandatory_protocols)
                                                          : SMTP_PARAM(tls_protocols));
    const char *grade = *p->ciphers ? p->ciphers
                                    : pn_config_get(mandatory ? SMTP_PARAM(tls_mandatory_ciphers)
                                                              : SMTP_PARAM(tls_ciphers));
    const char *exclude = *p->exclude
                              ? p->exclude
                              : pn_config_get(mandatory ? SMTP_PARAM(tls_mandatory_exclude_ciphers)
                                                        : SMTP_PARAM(tls_exclude_ciphers));
    /* the session cache knows a server by its name, address and port, and what it was
     * asked to speak; DANE checks every certificate afresh */
    pn_buf cache_id = PN_BUF_INIT;
    pn_tls_dane dane = {ss->host, domain, p->tlsa, p->tlsa_count};
    if (*pn_config_get(SMTP_PARAM(tls_session_cache_database)) && p->level != LEVEL_DANE)
        pn_buf_printf(&cache_id, "%s&%s&%s&%s&%s", proto->name, ss->relay, sni, protocols, grade);
    pn_stream_flush(ss->s);
    ss->tls =
        pn_tls_connect(client, pn_stream_fd(ss->s), protocols, grade, exclude, sni,
                       cache_id.len ? cache_id.data : NULL, p->level == LEVEL_DANE ? &dane : NULL,
                       (int)(pn_config_get_time(SMTP_PARAM(starttls_timeout)) * 1000), &reason);
    pn_buf_release(&cache_id);
    if (ss->tls == NULL) {
        pn_info("SSL_connect error to %s: %s", ss->relay, reason.data);
        pn_buf_release(&reason);
        ss->tls_retry_plain = !mandatory; /* may: the same server again, in plain text */
        return fail(ss, "4.7.5", why, "%s", "Cannot start TLS: handshake failure");
    }
    pn_buf_release(&reason);
    pn_tls_attach(ss->tls, ss->s);
    int trusted_enough = 1;
    const char *kind = "Untrusted";
    pn_buf ignored = PN_BUF_INIT;
    if (p->level == LEVEL_DANE) {
        trusted_enough = pn_tls_dane_verified(ss->tls, &ignored);
        if (!trusted_enough)
            pn_info("server certificate verification failed for %s: %s", ss->relay, ignored.data);
        kind = trusted_enough ? "Verified" : "Untrusted";
        ss->tls_verified = trusted_enough;
    } else if (p->level >= LEVEL_VERIFY) {
        trusted_enough = verified(ss, nexthop, p, p->level == LEVEL_SECURE);
        kind = trusted_enough ? "Verified" : "Untrusted";
        ss->tls_verified = trusted_enough;
    } else if (pn_tls_peer_trusted(ss->tls, &ignored)) {
        kind = "Trusted";
    }
    pn_buf_release(&ignored);
    if (pn_config_get_int(SMTP_PARAM(tls_loglevel)) >= 1) {
        pn_buf text = PN_BUF_INIT;
        pn_tls_describe(ss->tls, 0, &text);
        pn_info("%s TLS connection established to %s: %s", kind, ss->relay, text.data);
        pn_buf_release(&text);
    }
    if (!trusted_enough)
        return fail(ss, "4.7.5", why, "%s", "Server certificate not verified");
    return 0;
}

int smtp_tls_prepare(struct session *ss, const char *nexthop, pn_buf *why)
{
    smtp_tls_release(ss);
    struct smtp_tls_policy *p = pn_calloc(1, sizeof(*p));
    ss->policy = p;
    if (find_policy(nexthop, p) < 0)
        return fail(ss, "4.7.5", why, "%s", "client TLS configuration problem");
    if (p->level == LEVEL_DANE || p->level == LEVEL_DANE_ONLY)
        return dane_policy(ss, nexthop, p, why);
    return 0;
}

void smtp_tls_release(struct session *ss)
{
    if (ss->policy == NULL)
        return;
    pn_dns_tlsa_free(ss->policy->tlsa, ss->policy->tlsa_count);
    free(ss->policy);
    ss->policy = NULL;
}

int smtp_wrapper_tls(struct session *ss, const char *nexthop, pn_buf *why)
{
    ss->tls_verified = 0;
    if (!pn_config_get_bool(SMTP_PARAM(tls_wrappermode)))
        return 0;
    if (ss->policy == NULL && smtp_tls_prepare(ss, nexthop, why) < 0)
        return -1;
    struct smtp_tls_policy p = *ss->policy;
    if (p.level < LEVEL_ENCRYPT) /* TLS from the first byte: nothing less than encrypt */
        p.level = LEVEL_ENCRYPT;
    return handshake(ss, nexthop, &p, why);
}

static int starttls_with(struct session *ss, const char *nexthop, const struct smtp_tls_policy *p,
                         pn_buf *why);

int smtp_starttls(struct session *ss, const char *nexthop, pn_buf *why)
{
    if (ss->tls) /* wrapper mode */
        return 0;
    ss->tls_verified = 0;
    if (ss->policy == NULL && smtp_tls_prepare(ss, nexthop, why) < 0)
        return -1;
    return starttls_with(ss, nexthop, ss->policy, why);
}

static int starttls_with(struct session *ss, const char *nexthop, const struct smtp_tls_policy *pp,
                         pn_buf *why)
{
    const struct smtp_tls_policy p = *pp;
    if (p.level == LEVEL_NONE || (p.level == LEVEL_MAY && ss->tls_off))
        return 0;
    int mandatory = p.level >= LEVEL_ENCRYPT;
    if (!(ss->features & FEATURE_STARTTLS)) {
        if (!mandatory)
            return 0;
        pn_buf text = PN_BUF_INIT;
        pn_buf_printf(&text, "%s[%s]", ss->host, ss->addr);
        fail(ss, "4.7.4", why, "TLS is required, but was not offered by host %s", text.data);
        pn_buf_release(&text);
        return -1;
    }
    const char *timeout = proto->lmtp ? PN_P(lmtp_lhlo_timeout) : PN_P(smtp_helo_timeout);
    if (command(ss, timeout, "STARTTLS") < 0) {
        broken(ss, "sending STARTTLS", why);
        return -1;
    }
    if (ss->code != 220) {
        if (!mandatory)
            return 0; /* may: on in plain text */
        pn_buf text = PN_BUF_INIT;
        pn_buf_printf(&text, "%s[%s] refused to start TLS: %s", ss->host, ss->addr, ss->reply.data);
        fail(ss, "4.7.5", why, "TLS is required, but host %s", text.data);
        pn_buf_release(&text);
        return -1;
    }
    /* whatever came in plain text behind the 220 was not said inside TLS: it is dropped,
     * never read as the answer to what is sent once TLS is on (CVE-2011-0411) */
    pn_stream_drop_input(ss->s);
    if (handshake(ss, nexthop, &p, why) < 0)
        return -1;
    /* RFC 3207: the server's earlier answers count no more; greet it again */
    const char *name = pn_config_get(proto->lmtp ? PN_P(lmtp_lhlo_name) : PN_P(smtp_helo_name));
    ss->features = 0;
    ss->auth_mechs[0] = 0;
    if (command(ss, timeout, "%s %s", proto->hello, name) < 0) {
        broken(ss, proto->lmtp ? "performing the LHLO handshake" : "performing the EHLO handshake",
               why);
        return -1;
    }
    if (ss->code / 100 != 2) {
        pn_buf_reset(why);
        pn_buf_printf(why, "host %s[%s] refused to talk to me: %s", ss->host, ss->addr,
                      ss->reply.data);
        return -1;
    }
    return 0;
}

void smtp_session_close(struct session *ss)
{
    if (ss->s == NULL)
        return;
    if (ss->tls) {
        pn_stream_flush(ss->s);
        pn_stream_set_io(ss->s, NULL, NULL);
        pn_tls_close(ss->tls);
        ss->tls = NULL;
    }
    pn_stream_close(ss->s);
    ss->s = NULL;
}
