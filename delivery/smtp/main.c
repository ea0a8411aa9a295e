/* main.c: smtp and lmtp, the SMTP/LMTP client delivery agent (private/smtp, relay, lmtp):
 * the next hop's addresses, then a transaction (transaction.c) with the first server that
 * answers. A connection failure moves on to the next address, and so do recipients answered
 * with 4xx while there is one (each recipient is logged with the relay that decided it).
 * Next hops: "[host]:port" (no MX lookup) or a domain, resolved through its MX hosts by
 * preference (c-ares, dns.c), with null MX and mail that would loop back to this host
 * bounced; for lmtp "unix:path" (relative to the queue directory in the chroot) and
 * "inet:host[:port]", never through MX records. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/inet.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/stream.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "ipc/server.h"
#include "mail/agent.h"
#include "mail/delegate.h"
#include "mail/dns.h"
#include "smtp.h"

static const struct proto smtp_proto = {"smtp", "EHLO", "helo", 0};
static const struct proto lmtp_proto = {"lmtp", "LHLO", "lhlo", 1};
const struct proto *proto = &smtp_proto;

struct target {
    char host[256];
    pn_sockaddr addr;
    int mx_secure; /* DNSSEC: the MX answer was validated; -1: no MX lookup */
    int secure;    /* ... the host's address answers were */
};

static void add_targets(struct target **t, int *n, const char *host, const pn_addrlist *addrs,
                        int mx_secure, int secure)
{
    for (int i = 0; i < addrs->count; i++) {
        *t = pn_reallocarray(*t, (size_t)*n + 1, sizeof(struct target));
        snprintf((*t)[*n].host, sizeof((*t)[*n].host), "%s", host);
        (*t)[*n].addr = addrs->addrs[i];
        (*t)[*n].mx_secure = mx_secure;
        (*t)[*n].secure = secure;
        (*n)++;
    }
}

/* is_self: is the address one of this mail system's own (inet_interfaces, and
 * proxy_interfaces when set)? An MX host there would hand the mail back to us. */
static int is_self(const pn_sockaddr *sa)
{
    pn_inet_addr addr;
    memset(&addr, 0, sizeof(addr));
    addr.family = sa->ss.ss_family;
    if (addr.family == AF_INET)
        memcpy(addr.bytes, &((const struct sockaddr_in *)&sa->ss)->sin_addr, 4);
    else if (addr.family == AF_INET6)
        memcpy(addr.bytes, &((const struct sockaddr_in6 *)&sa->ss)->sin6_addr, 16);
    else
        return 0;
    pn_inet_unmap(&addr);
    const char *proxy = pn_config_get(PN_P(proxy_interfaces));
    return pn_inet_is_local(&addr, pn_config_get(PN_P(inet_interfaces))) ||
           (*proxy && pn_inet_is_local(&addr, proxy));
}

/* prefer_family: <prefix>_address_preference = ipv4 or ipv6 puts that family's addresses
 * first within each host's list (a stable reordering: MX order stays), "any" keeps DNS order. */
static void prefer_family(struct target *t, int n)
{
    const char *pref = pn_config_get(SMTP_PARAM(address_preference));
    int family = strcasecmp(pref, "ipv4") == 0   ? AF_INET
                 : strcasecmp(pref, "ipv6") == 0 ? AF_INET6
                                                 : 0;
    for (int start = 0; family && start < n;) {
        int end = start;
        while (end < n && strcmp(t[end].host, t[start].host) == 0)
            end++;
        for (int i = start + 1; i < end; i++) { /* insertion: preferred ones move up */
            struct target x = t[i];
            int j = i;
            while (j > start && x.addr.ss.ss_family == family &&
                   t[j - 1].addr.ss.ss_family != family) {
                t[j] = t[j - 1];
                j--;
            }
            t[j] = x;
        }
        start = end;
    }
}

/* targets: the addresses to try for a next hop: "[host]:port" and "[host]" without an MX
 * lookup; "domain[:port]" through its MX hosts by preference, or its own addresses when it
 * has none. Returns PN_DNS_OK, or a failure with *bounce set for permanent ones. */
static int targets(const char *nexthop, struct target **t, int *n, int *port, int *bounce,
                   int *notfound, int *best_mx, pn_buf *why)
{
    char *copy = pn_strdup(nexthop), *name = copy, *port_text = NULL;
    int no_mx = 0, rc = PN_DNS_OK;
    *t = NULL;
    *n = 0;
    *bounce = 0;
    if (proto->lmtp && strncmp(name, "unix:", 5) == 0) {
        struct target one;
        memset(&one, 0, sizeof(one));
        snprintf(one.host, sizeof(one.host), "%s", pn_config_get_hostname(PN_P(myhostname)));
        struct sockaddr_un *sun = (struct sockaddr_un *)&one.addr.ss;
        sun->sun_family = AF_UNIX;
        if (strlen(name + 5) >= sizeof(sun->sun_path)) {
            pn_buf_printf(why, "bad next hop \"%s\": path too long", nexthop);
            *bounce = 1;
            free(copy);
            return PN_DNS_NOTFOUND;
        }
        snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", name + 5);
        one.addr.len = sizeof(*sun);
        *t = pn_memdup(&one, sizeof(one));
        *n = 1;
        free(copy);
        return PN_DNS_OK;
    }
    if (proto->lmtp) { /* "inet:host:port", "host": addresses, never MX records */
        if (strncmp(name, "inet:", 5) == 0)
            name += 5;
        no_mx = 1;
    }
    if (pn_dns_mode() == PN_DNS_DISABLED)
        no_mx = 1;
    if (*name == '[') {
        char *close = strchr(name, ']');
        if (close == NULL) {
            pn_buf_printf(why, "bad next hop \"%s\"", nexthop);
            *bounce = 1;
            free(copy);
            return PN_DNS_NOTFOUND;
        }
        *close = 0;
        name++;
        no_mx = 1;
        if (close[1] == ':')
            port_text = close + 2;
    } else if ((port_text = strrchr(name, ':')) != NULL) {
        *port_text++ = 0;
    }
    if (strncasecmp(name, "ipv6:", 5) == 0)
        name += 5;
    *port = pn_inet_port(port_text ? port_text : pn_config_get(SMTP_PARAM(tcp_port)),
                         pn_config_get(PN_P(known_tcp_ports)));
    pn_addrlist addrs;
    pn_mx *mx = NULL;
    int count = 0, null_mx = 0, mx_secure = -1, secure = 0;
    if (*port <= 0) {
        pn_buf_printf(why, "bad port in next hop \"%s\"", nexthop);
        *bounce = 1;
        rc = PN_DNS_NOTFOUND;
    } else if (!no_mx &&
               (rc = pn_dns_mx(name, &mx, &count, &null_mx, &mx_secure, why)) == PN_DNS_OK) {
        const char *me = pn_config_get_hostname(PN_P(myhostname));
        if (null_mx && count == 0) {
            pn_buf_printf(why, "Domain %s does not accept mail (nullMX)", name);
            *bounce = 1;
            rc = PN_DNS_NOTFOUND;
        }
        int group_start = 0; /* targets of better preferences than mx[i]'s */
        long enough = pn_config_get_int(SMTP_PARAM(mx_address_limit)); /* 0: none */
        for (int i = 0; i < count; i++) {
            if (i > 0 && mx[i].preference != mx[i - 1].preference)
                group_start = *n;
            /* addresses enough for smtp_mx_address_limit: the worse MX hosts are never looked
             * up (a domain with hundreds of them costs a few lookups, not hundreds); a
             * preference group is finished, so that this host is still seen among its peers */
            if (enough > 0 && *n >= enough && i > 0 && mx[i].preference != mx[i - 1].preference)
                break;
            int self = strcasecmp(mx[i].host, me) == 0, found = 0;
            if (!self &&
                (found = pn_dns_addrs(mx[i].host, *port, &addrs, &secure, why) == PN_DNS_OK))
                for (int k = 0; k < addrs.count && !self; k++)
                    self = is_self(&addrs.addrs[k]);
            if (found && !self)
                add_targets(t, n, mx[i].host, &addrs, mx_secure, secure);
            if (found)
                pn_addrlist_free(&addrs);
            if (self) {
                /* we are an MX host ourselves: only better ones may have the mail; when
                 * there is none, it would come straight back */
                *n = group_start;
                if (*n == 0) {
                    pn_buf_reset(why);
                    pn_buf_printf(why, "mail for %s loops back to myself", name);
                    *bounce = *best_mx = 1;
                    rc = PN_DNS_NOTFOUND;
                }
                break;
            }
        }
        if (rc == PN_DNS_OK && *n == 0) {
            if (why->len == 0)
                pn_buf_printf(why, "no usable address for the MX hosts of %s", name);
            rc = PN_DNS_RETRY;
        }
    } else if (no_mx || rc == PN_DNS_NOTFOUND) {
        /* no MX records: a validated non-existence counts as a secure MX answer */
        pn_buf_reset(why);
        rc = pn_dns_addrs(name, *port, &addrs, &secure, why);
        if (rc == PN_DNS_OK) {
            add_targets(t, n, name, &addrs, no_mx ? -1 : mx_secure, secure);
            pn_addrlist_free(&addrs);
        } else if (rc == PN_DNS_NOTFOUND) {
            pn_buf_printf(why,
                          "Host or domain name not found. Name service error for "
                          "name=%s type=A: Host not found",
                          name);
            *bounce = *notfound = 1;
        }
    }
    prefer_family(*t, *n);
    long limit = pn_config_get_int(SMTP_PARAM(mx_address_limit)); /* 0: none */
    if (limit > 0 && *n > limit)
        *n = (int)limit;
    free(mx);
    free(copy);
    return rc;
}

static int connect_to(const pn_sockaddr *addr, pn_buf *why)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        pn_buf_printf(why, "socket: %s", strerror(errno));
        return -1;
    }
    const char *bind_param =
        addr->ss.ss_family == AF_INET ? SMTP_PARAM(bind_address) : SMTP_PARAM(bind_address6);
    const char *bind_to = addr->ss.ss_family == AF_UNIX ? "" : pn_config_get(bind_param);
    pn_inet_addr local;
    if (*bind_to && (pn_inet_parse(bind_to, &local) < 0 || local.family != addr->ss.ss_family)) {
        pn_warn("%s: %s is not a numeric %s address", bind_param, bind_to,
                addr->ss.ss_family == AF_INET ? "IPv4" : "IPv6");
    } else if (*bind_to) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        socklen_t slen;
        if (local.family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            sin->sin_family = AF_INET;
            memcpy(&sin->sin_addr, local.bytes, 4);
            slen = sizeof(*sin);
        } else {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            sin6->sin6_family = AF_INET6;
            memcpy(&sin6->sin6_addr, local.bytes, 16);
            slen = sizeof(*sin6);
        }
        if (bind(fd, (struct sockaddr *)&ss, slen) < 0)
            pn_warn("%s: bind %s: %s", bind_param, bind_to, strerror(errno));
    }
    if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 && errno != EINPROGRESS) {
        pn_buf_printf(why, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t len = sizeof(err);
    long limit = pn_config_get_time(SMTP_PARAM(connect_timeout)); /* 0: no limit */
    int n = poll(&pfd, 1, limit > 0 ? (int)(limit * 1000) : -1);
    if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        pn_buf_printf(why, "%s", n == 0 ? "Connection timed out" : strerror(err ? err : errno));
        close(fd);
        return -1;
    }
    pn_sock_nonblock(fd, 0);
    return fd;
}

/* One delivery request's state while its next hops are tried. */
struct attempt {
    const pn_delivreq *req;
    const pn_qfile *q;
    int *todo; /* recipients still to try */
    int *outcomes;
    pn_buf *dsns, *texts, *relays;
    struct session ss;
    pn_buf why;
    char relay[600];
    int done;         /* every recipient has its fate */
    int bounce;       /* the next hop itself is undeliverable (null MX, loop, no such name) */
    int notfound;     /* ... because its name does not exist */
    int best_mx;      /* ... because this system is its best MX host */
    int answered;     /* some server answered */
    char fail_dsn[8]; /* a TLS policy failure's status, for the deferral */
    int sessions;
    long session_limit;
};

/* decide_all: the same fate for every recipient still to try, by the current relay. */
static void decide_all(struct attempt *at, int outcome, const char *dsn)
{
    for (size_t i = 0; i < at->req->rcpt_count; i++) {
        if (at->todo[i]) {
            fate(outcome, dsn, at->why.data, &at->outcomes[i], &at->dsns[i], &at->texts[i]);
            pn_buf_set(&at->relays[i], at->relay);
        }
    }
    at->done = at->answered = 1;
}

/* describe: the session's host and address (or socket path) for a target, and the port text
 * of its relay name. */
static void describe(struct attempt *at, const struct target *t, int port, char *port_text,
                     size_t len)
{
    snprintf(at->ss.host, sizeof(at->ss.host), "%s", t->host);
    port_text[0] = 0;
    if (t->addr.ss.ss_family == AF_UNIX) {
        snprintf(at->ss.addr, sizeof(at->ss.addr), "%s",
                 ((const struct sockaddr_un *)&t->addr.ss)->sun_path);
        return;
    }
    pn_buf where = PN_BUF_INIT;
    pn_sockaddr_format(&t->addr, &where);
    *strrchr(where.data, ':') = 0;
    snprintf(at->ss.addr, sizeof(at->ss.addr), "%s",
             where.data[0] == '[' ? where.data + 1 : where.data);
    at->ss.addr[strcspn(at->ss.addr, "]")] = 0;
    pn_buf_release(&where);
    snprintf(port_text, len, ":%d", port);
}

/* try_nexthop: the addresses of one next hop in order, until every recipient has a fate or
 * none is left (a 4xx is final only at the last address: the next one may take the mail). */
static void try_nexthop(struct attempt *at, const char *nexthop)
{
    struct target *t = NULL;
    int count = 0, port = 0;
    at->bounce = at->notfound = at->best_mx = 0;
    if (targets(nexthop, &t, &count, &port, &at->bounce, &at->notfound, &at->best_mx, &at->why) !=
        PN_DNS_OK)
        count = 0;
    for (int a = 0; a < count && !at->done; a++) {
        char port_text[16];
        pn_buf_reset(&at->why);
        describe(at, &t[a], port, port_text, sizeof(port_text));
        at->ss.tls_off = 0;
        at->ss.port = port;
        at->ss.dnssec_mx = t[a].mx_secure;
        at->ss.dnssec_host = t[a].secure;
    again:
        at->ss.fail_dsn[0] = 0;
        if (smtp_tls_prepare(&at->ss, nexthop, &at->why) < 0) {
            /* the TLS policy says no to this server before a word with it; the mail waits
             * (no fallback relay: that would bypass the policy) */
            at->answered = 1;
            snprintf(at->fail_dsn, sizeof(at->fail_dsn), "%s", at->ss.fail_dsn);
            smtp_tls_release(&at->ss);
            continue;
        }
        int fd = connect_to(&t[a].addr, &at->why);
        if (fd < 0) {
            pn_buf err = PN_BUF_INIT;
            pn_buf_printf(&err, "connect to %s[%s]%s: %s", at->ss.host, at->ss.addr, port_text,
                          at->why.data);
            pn_buf_set(&at->why, err.data);
            pn_buf_release(&err);
            smtp_tls_release(&at->ss);
            continue;
        }
        snprintf(at->relay, sizeof(at->relay), "%s[%s]%s", at->ss.host, at->ss.addr, port_text);
        at->ss.s = pn_stream_fdopen(fd);
        at->ss.relay = at->relay;
        at->ss.loop = at->ss.refused = at->ss.tls_retry_plain = 0;
        at->ss.fail_dsn[0] = 0;
        int keep = 1;
        int used = transaction(&at->ss, at->req, at->q, at->todo, at->outcomes, at->dsns, at->texts,
                               &at->why, 0, &keep) == 0;
        smtp_tls_release(&at->ss);
        /* a TLS connection is kept only with <prefix>_tls_connection_reuse */
        if (keep && (at->ss.tls == NULL || pn_config_get_bool(SMTP_PARAM(tls_connection_reuse))))
            cache_put(&at->ss, at->req->nexthop.data, at->relay, 1);
        else
            smtp_session_close(&at->ss);
        at->ss.s = NULL;
        if (!used && at->ss.tls_retry_plain && !at->ss.tls_off) {
            at->ss.tls_off = 1; /* level may: the handshake failed, plain text will do */
            goto again;
        }
        if (!used && at->ss.fail_dsn[0]) { /* the server answered; TLS policy said no */
            at->answered = 1;
            snprintf(at->fail_dsn, sizeof(at->fail_dsn), "%s", at->ss.fail_dsn);
            for (size_t i = 0; i < at->req->rcpt_count; i++)
                if (at->todo[i])
                    pn_buf_set(&at->relays[i], at->relay);
        }
        if (at->ss.loop) {
            /* bounced when the best MX is us, deferred when a lesser one is */
            char name[256];
            snprintf(name, sizeof(name), "%s", nexthop + (nexthop[0] == '['));
            name[strcspn(name, proto->lmtp ? "]" : "]:")] = 0;
            pn_buf_reset(&at->why);
            pn_buf_printf(&at->why, "mail for %s loops back to myself", name);
            decide_all(at, a == 0 ? PN_DELIVER_BOUNCED : PN_DELIVER_DEFERRED,
                       a == 0 ? "5.4.6" : "4.4.6");
            break;
        }
        if (at->ss.refused) {
            char status[16];
            status_of(&at->ss, status, sizeof(status));
            decide_all(at, PN_DELIVER_BOUNCED, status);
            break;
        }
        if (!used)
            continue;
        at->answered = 1;
        at->sessions++;
        at->done = 1;
        for (size_t i = 0; i < at->req->rcpt_count; i++) {
            if (at->todo[i])
                pn_buf_set(&at->relays[i], at->relay);
            at->todo[i] = at->todo[i] && at->outcomes[i] == PN_DELIVER_DEFERRED && a + 1 < count &&
                          (at->session_limit <= 0 || at->sessions < at->session_limit);
            if (at->todo[i])
                at->done = 0;
        }
    }
    free(t);
}

/* best_mx_transport: mail for a destination whose best MX host is this system goes to that
 * transport's agent, which delivers, logs and records it, instead of bouncing as a loop. */
static void best_mx_transport(struct attempt *at)
{
    const char *spec = pn_config_get(PN_P(best_mx_transport));
    pn_buf why = PN_BUF_INIT, text = PN_BUF_INIT;
    for (size_t i = 0; i < at->req->rcpt_count; i++) {
        int deferred = 0;
        pn_buf_reset(&why);
        if (pn_delegate(spec, at->req, &at->req->rcpts[i], &deferred, &why) == 0) {
            at->outcomes[i] =
                (deferred ? PN_DELIVER_DEFERRED : PN_DELIVER_SENT) | PN_DELIVER_DELEGATED;
        } else {
            pn_buf_reset(&text);
            pn_buf_printf(&text, "mail transport unavailable: %s", why.data);
            fate(PN_DELIVER_DEFERRED, "4.3.0", text.data, &at->outcomes[i], &at->dsns[i],
                 &at->texts[i]);
        }
    }
    pn_buf_release(&why);
    pn_buf_release(&text);
}

static void deliver_all(const pn_delivreq *req, const pn_qfile *q, int *outcomes, pn_buf *dsns,
                        pn_buf *texts, pn_buf *relays, void *ctx)
{
    (void)ctx;
    struct attempt at;
    memset(&at, 0, sizeof(at));
    at.req = req;
    at.q = q;
    at.outcomes = outcomes;
    at.dsns = dsns;
    at.texts = texts;
    at.relays = relays;
    pn_buf_init(&at.ss.reply);
    pn_buf_init(&at.why);
    at.session_limit = pn_config_get_int(SMTP_PARAM(mx_session_limit));
    at.todo = pn_calloc(req->rcpt_count + 1, sizeof(int));
    for (size_t i = 0; i < req->rcpt_count; i++) {
        at.todo[i] = 1;
        outcomes[i] = PN_DELIVER_DEFERRED;
    }
    /* a connection kept from the last request to this next hop comes first */
    int uses = 0;
    if (cache_take(req->nexthop.data, &at.ss, at.relay, sizeof(at.relay), &uses)) {
        int keep = 1;
        if (transaction(&at.ss, req, q, at.todo, outcomes, dsns, texts, &at.why, 1, &keep) == 0) {
            at.done = 1;
            for (size_t i = 0; i < req->rcpt_count; i++) {
                pn_buf_reset(&relays[i]);
                pn_buf_printf(&relays[i], "%s, conn_use=%d", at.relay, uses);
            }
        }
        if (keep)
            cache_put(&at.ss, req->nexthop.data, at.relay, uses);
        else
            smtp_session_close(&at.ss);
    }
    if (!at.done)
        try_nexthop(&at, req->nexthop.data);
    /* <prefix>_fallback_relay: for a destination that cannot be found or reached (not for
     * one that said no, nor for a null MX or a loop) */
    if (!at.done && (!at.bounce || at.notfound) && !at.answered) {
        pn_buf first = PN_BUF_INIT;
        pn_buf_set(&first, at.why.data);
        pn_argv *fallback = pn_argv_split(pn_config_get(SMTP_PARAM(fallback_relay)), PN_SEPARATORS);
        for (size_t f = 0; f < fallback->len && !at.done && !at.answered; f++)
            try_nexthop(&at, fallback->items[f]);
        if (fallback->len && !at.done) { /* the destination's own trouble is the reason */
            at.bounce = 0;
            pn_buf_set(&at.why, first.data);
        }
        pn_argv_free(fallback);
        pn_buf_release(&first);
    }
    if (!at.done && at.best_mx && !proto->lmtp && *pn_config_get(PN_P(best_mx_transport))) {
        best_mx_transport(&at);
        at.done = 1;
    }
    if (!at.done && at.bounce) {
        for (size_t i = 0; i < req->rcpt_count; i++)
            fate(PN_DELIVER_BOUNCED,
                 strstr(at.why.data, "loops back") ? "5.4.6"
                 : strstr(at.why.data, "(nullMX)") ? "5.1.10"
                                                   : "5.4.4",
                 at.why.data, &outcomes[i], &dsns[i], &texts[i]);
        at.done = 1;
    }
    if (!at.done && !at.answered)
        pn_agent_destination_dead(at.why.data);
    if (!at.done) {
        /* no later address answered: a recipient keeps the 4xx it got, if any */
        for (size_t i = 0; i < req->rcpt_count; i++)
            if (at.todo[i] && (texts[i].len == 0 || outcomes[i] == -1))
                fate(PN_DELIVER_DEFERRED, at.fail_dsn[0] ? at.fail_dsn : "4.4.1", at.why.data,
                     &outcomes[i], &dsns[i], &texts[i]);
    }
    free(at.todo);
    pn_buf_release(&at.why);
    pn_buf_release(&at.ss.reply);
}

static pn_agent agent = {.relay = "none",
                         .needs_content = 1,
                         .verifies = 1,
                         .deliver_all = deliver_all,
                         .idle_ms = cache_idle_ms,
                         .idle = cache_close};

static void serve(int fd, void *ctx)
{
    (void)ctx;
    pn_agent_serve(fd, &agent);
}

static int must_retire(void *ctx)
{
    (void)ctx;
    return smtp_checks_changed() || smtp_generic_changed() || smtp_tls_changed() ||
           smtp_sasl_changed();
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    smtp_checks_init();
    smtp_generic_init();
    smtp_tls_init();  /* CA files are read now, before the chroot */
    smtp_sasl_init(); /* and libsasl2's plug-ins */
    /* <prefix>_dns_support_level; when empty, disable_dns_lookups = yes means disabled */
    const char *level = pn_config_get(SMTP_PARAM(dns_support_level));
    pn_dns_set_mode(*level                                          ? pn_dns_mode_of(level)
                    : pn_config_get_bool(PN_P(disable_dns_lookups)) ? PN_DNS_DISABLED
                                                                    : PN_DNS_ENABLED);
    pn_buf why = PN_BUF_INIT;
    if (pn_dns_init(&why) < 0)
        pn_fatal("%s", why.data); /* resolv.conf is read here, before the chroot */
    pn_buf_release(&why);
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (strcmp(name, "lmtp") == 0)
        proto = &lmtp_proto;
    static pn_server server = {.serve = serve,
                               .per_request = 1,
                               .pre_jail = pre_jail,
                               .must_retire = must_retire,
                               .max_use = -1,
                               .max_idle = -1,
                               .process_limit = -1};
    return pn_single_server_main(argc, argv, &server);
}
