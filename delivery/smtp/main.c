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

#include "base/inet.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/stream.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "ipc/server.h"
#include "mail/agent.h"
#include "mail/dns.h"
#include "smtp.h"

static const struct proto smtp_proto = {"smtp", "EHLO", "helo", 0};
static const struct proto lmtp_proto = {"lmtp", "LHLO", "lhlo", 1};
const struct proto *proto = &smtp_proto;

struct target {
    char host[256];
    pn_sockaddr addr;
};

static void add_targets(struct target **t, int *n, const char *host, const pn_addrlist *addrs)
{
    for (int i = 0; i < addrs->count; i++) {
        *t = pn_reallocarray(*t, (size_t)*n + 1, sizeof(struct target));
        snprintf((*t)[*n].host, sizeof((*t)[*n].host), "%s", host);
        (*t)[*n].addr = addrs->addrs[i];
        (*n)++;
    }
}

/* prefer_family: <prefix>_address_preference = ipv4 or ipv6 puts that family's addresses
 * first within each host's list (a stable reordering: MX order stays), "any" keeps DNS order. */
static void prefer_family(struct target *t, int n)
{
    const char *pref = pn_config_get(param("address_preference"));
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
                   pn_buf *why)
{
    char *copy = pn_strdup(nexthop), *name = copy, *port_text = NULL;
    int no_mx = 0, rc = PN_DNS_OK;
    *t = NULL;
    *n = 0;
    *bounce = 0;
    if (proto->lmtp && strncmp(name, "unix:", 5) == 0) {
        struct target one;
        memset(&one, 0, sizeof(one));
        snprintf(one.host, sizeof(one.host), "%s", pn_config_get_hostname("myhostname"));
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
    *port = pn_inet_port(port_text ? port_text : pn_config_get(param("tcp_port")),
                         pn_config_get("known_tcp_ports"));
    pn_addrlist addrs;
    pn_mx *mx = NULL;
    int count = 0, null_mx = 0;
    if (*port <= 0) {
        pn_buf_printf(why, "bad port in next hop \"%s\"", nexthop);
        *bounce = 1;
        rc = PN_DNS_NOTFOUND;
    } else if (!no_mx && (rc = pn_dns_mx(name, &mx, &count, &null_mx, why)) == PN_DNS_OK) {
        const char *me = pn_config_get_hostname("myhostname");
        if (null_mx && count == 0) {
            pn_buf_printf(why, "Domain %s does not accept mail (nullMX)", name);
            *bounce = 1;
            rc = PN_DNS_NOTFOUND;
        }
        int group_start = 0; /* targets of better preferences than mx[i]'s */
        for (int i = 0; i < count; i++) {
            if (i > 0 && mx[i].preference != mx[i - 1].preference)
                group_start = *n;
            int self = strcasecmp(mx[i].host, me) == 0, found = 0;
            if (!self && (found = pn_dns_addrs(mx[i].host, *port, &addrs, why) == PN_DNS_OK))
                for (int k = 0; k < addrs.count && !self; k++)
                    self = is_self(&addrs.addrs[k]);
            if (found && !self)
                add_targets(t, n, mx[i].host, &addrs);
            if (found)
                pn_addrlist_free(&addrs);
            if (self) {
                /* we are an MX host ourselves: only better ones may have the mail; when
                 * there is none, it would come straight back */
                *n = group_start;
                if (*n == 0) {
                    pn_buf_reset(why);
                    pn_buf_printf(why, "mail for %s loops back to myself", name);
                    *bounce = 1;
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
        pn_buf_reset(why);
        rc = pn_dns_addrs(name, *port, &addrs, why);
        if (rc == PN_DNS_OK) {
            add_targets(t, n, name, &addrs);
            pn_addrlist_free(&addrs);
        } else if (rc == PN_DNS_NOTFOUND) {
            pn_buf_printf(why,
                          "Host or domain name not found. Name service error for "
                          "name=%s type=A: Host not found",
                          name);
            *bounce = 1;
        }
    }
    prefer_family(*t, *n);
    long limit = pn_config_get_int(param("mx_address_limit")); /* 0: none */
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
    char bind_param[64];
    snprintf(bind_param, sizeof(bind_param), "%s",
             param(addr->ss.ss_family == AF_INET ? "bind_address" : "bind_address6"));
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
    long limit = pn_config_get_time(param("connect_timeout")); /* 0: no limit */
    int n = poll(&pfd, 1, limit > 0 ? (int)(limit * 1000) : -1);
    if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        pn_buf_printf(why, "%s", n == 0 ? "Connection timed out" : strerror(err ? err : errno));
        close(fd);
        return -1;
    }
    pn_sock_nonblock(fd, 0);
    return fd;
}

static void deliver_all(const pn_delivreq *req, const pn_qfile *q, int *outcomes, pn_buf *dsns,
                        pn_buf *texts, pn_buf *relays, void *ctx)
{
    (void)ctx;
    char relay[600];
    pn_buf why = PN_BUF_INIT;
    struct session ss;
    memset(&ss, 0, sizeof(ss));
    pn_buf_init(&ss.reply);
    int done = 0, bounce = 0, count = 0, answered = 0, sessions = 0;
    long session_limit = pn_config_get_int(param("mx_session_limit"));
    int *todo = pn_calloc(req->rcpt_count + 1, sizeof(int));
    for (size_t i = 0; i < req->rcpt_count; i++) {
        todo[i] = 1;
        outcomes[i] = PN_DELIVER_DEFERRED;
    }
    /* a connection kept from the last request to this next hop comes first */
    int uses = 0;
    if (cache_take(req->nexthop.data, &ss, relay, sizeof(relay), &uses)) {
        int keep = 1;
        if (transaction(&ss, req, q, todo, outcomes, dsns, texts, &why, 1, &keep) == 0) {
            done = 1;
            for (size_t i = 0; i < req->rcpt_count; i++) {
                pn_buf_reset(&relays[i]);
                pn_buf_printf(&relays[i], "%s, conn_use=%d", relay, uses);
            }
        }
        if (keep)
            cache_put(&ss, req->nexthop.data, relay, uses);
        else
            pn_stream_close(ss.s);
    }
    struct target *t = NULL;
    int port = 0;
    if (!done && targets(req->nexthop.data, &t, &count, &port, &bounce, &why) == PN_DNS_OK) {
        for (int a = 0; a < count && !done; a++) {
            pn_buf_reset(&why);
            snprintf(ss.host, sizeof(ss.host), "%s", t[a].host);
            char port_text[16] = "";
            if (t[a].addr.ss.ss_family == AF_UNIX) {
                snprintf(ss.addr, sizeof(ss.addr), "%s",
                         ((const struct sockaddr_un *)&t[a].addr.ss)->sun_path);
            } else {
                pn_buf where = PN_BUF_INIT;
                pn_sockaddr_format(&t[a].addr, &where);
                char *colon = strrchr(where.data, ':');
                *colon = 0;
                snprintf(ss.addr, sizeof(ss.addr), "%s",
                         where.data[0] == '[' ? where.data + 1 : where.data);
                ss.addr[strcspn(ss.addr, "]")] = 0;
                pn_buf_release(&where);
                snprintf(port_text, sizeof(port_text), ":%d", port);
            }
            int fd = connect_to(&t[a].addr, &why);
            if (fd < 0) {
                pn_buf err = PN_BUF_INIT;
                pn_buf_printf(&err, "connect to %s[%s]%s: %s", ss.host, ss.addr, port_text,
                              why.data);
                pn_buf_set(&why, err.data);
                pn_buf_release(&err);
                continue;
            }
            snprintf(relay, sizeof(relay), "%s[%s]%s", ss.host, ss.addr, port_text);
            ss.s = pn_stream_fdopen(fd);
            int keep = 1;
            ss.loop = ss.refused = 0;
            int used = transaction(&ss, req, q, todo, outcomes, dsns, texts, &why, 0, &keep) == 0;
            if (keep)
                cache_put(&ss, req->nexthop.data, relay, 1);
            else
                pn_stream_close(ss.s);
            ss.s = NULL;
            if (ss.loop) {
                /* bounced when the best MX is us, deferred when a lesser one is */
                pn_buf_reset(&why);
                char name[256];
                snprintf(name, sizeof(name), "%s",
                         req->nexthop.data + (req->nexthop.data[0] == '['));
                name[strcspn(name, proto->lmtp ? "]" : "]:")] = 0;
                pn_buf_printf(&why, "mail for %s loops back to myself", name);
                for (size_t i = 0; i < req->rcpt_count; i++) {
                    if (todo[i]) {
                        fate(a == 0 ? PN_DELIVER_BOUNCED : PN_DELIVER_DEFERRED,
                             a == 0 ? "5.4.6" : "4.4.6", why.data, &outcomes[i], &dsns[i],
                             &texts[i]);
                        pn_buf_set(&relays[i], relay);
                    }
                }
                done = answered = 1;
                break;
            }
            if (ss.refused) {
                char status[16];
                status_of(&ss, status, sizeof(status));
                for (size_t i = 0; i < req->rcpt_count; i++) {
                    if (todo[i]) {
                        fate(PN_DELIVER_BOUNCED, status, why.data, &outcomes[i], &dsns[i],
                             &texts[i]);
                        pn_buf_set(&relays[i], relay);
                    }
                }
                done = answered = 1;
                break;
            }
            if (!used)
                continue;
            answered = 1;
            sessions++;
            /* a 4xx is final only at the last address: the next one may take the mail */
            done = 1;
            for (size_t i = 0; i < req->rcpt_count; i++) {
                if (todo[i])
                    pn_buf_set(&relays[i], relay);
                todo[i] = todo[i] && outcomes[i] == PN_DELIVER_DEFERRED && a + 1 < count &&
                          (session_limit <= 0 || sessions < session_limit);
                if (todo[i])
                    done = 0;
            }
        }
    }
    free(t);
    if (!done && bounce) {
        for (size_t i = 0; i < req->rcpt_count; i++)
            fate(PN_DELIVER_BOUNCED,
                 strstr(why.data, "loops back") ? "5.4.6"
                 : strstr(why.data, "(nullMX)") ? "5.1.10"
                                                : "5.4.4",
                 why.data, &outcomes[i], &dsns[i], &texts[i]);
        done = 1;
    }
    if (!done && !answered)
        pn_agent_destination_dead(why.data);
    if (!done) {
        /* no later address answered: a recipient keeps the 4xx it got, if any */
        for (size_t i = 0; i < req->rcpt_count; i++)
            if (todo[i] && (texts[i].len == 0 || outcomes[i] == -1))
                fate(PN_DELIVER_DEFERRED, "4.4.1", why.data, &outcomes[i], &dsns[i], &texts[i]);
    }
    free(todo);
    pn_buf_release(&why);
    pn_buf_release(&ss.reply);
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

static void pre_jail(void *ctx)
{
    (void)ctx;
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
    static pn_server server = {
        .serve = serve, .pre_jail = pre_jail, .max_use = -1, .max_idle = -1, .process_limit = -1};
    return pn_single_server_main(argc, argv, &server);
}
