/* dns.c: a blocking-style c-ares client: submit a query, then drive the channel with
 * ares_getsock/poll and ares_process_fd until the callback has run or the deadline passed
 * (poll, never select: a descriptor above FD_SETSIZE is as good as any other).
 * Queries are made here (ares_create_query) and sent with ares_send, so that in DNSSEC mode
 * they ask for validation (AD and the EDNS0 DO bit, RFC 6840 5.7) and the answer's AD bit
 * can be read. The resolver is trusted to have validated only when /etc/resolv.conf says
 * "options trust-ad", as the C library (and so the reference) requires. In "disabled" mode
 * host addresses come from getaddrinfo(). */
#include "mail/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <poll.h>
#include <unistd.h>

#include "base/event.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfparams.h"

static ares_channel channel;
static int ready;
static int mode = PN_DNS_ENABLED;
static int trust_ad;      /* resolv.conf has "options trust-ad" */
static int timeout_s = 5; /* ... "options timeout:N", as the C library reads it */
static int attempts = 2;  /* ... "options attempts:N" */

struct answer {
    int done;
    int status;
    unsigned char *abuf;
    int alen;
};

void pn_dns_set_mode(int m)
{
    mode = m;
}

int pn_dns_mode(void)
{
    return mode;
}

int pn_dns_mode_of(const char *level)
{
    if (strcasecmp(level, "disabled") == 0)
        return PN_DNS_DISABLED;
    if (strcasecmp(level, "dnssec") == 0)
        return PN_DNS_DNSSEC;
    return PN_DNS_ENABLED;
}

/* read_options: the "options" of resolv.conf that this client honours as the C library
 * does (c-ares 1.18 reads neither timeout: nor attempts:, and would wait 75 seconds for a
 * server that never answers): trust-ad, timeout:N (5, at most 30), attempts:N (2, at most
 * 5). */
static void read_options(void)
{
    FILE *fp = fopen("/etc/resolv.conf", "r");
    char line[1024];
    trust_ad = 0;
    while (fp && fgets(line, sizeof(line), fp)) {
        char *save = NULL, *word = strtok_r(line, " \t\r\n", &save);
        if (word == NULL || strcmp(word, "options") != 0)
            continue;
        while ((word = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
            if (strcmp(word, "trust-ad") == 0)
                trust_ad = 1;
            else if (strncmp(word, "timeout:", 8) == 0 && atoi(word + 8) > 0)
                timeout_s = atoi(word + 8) > 30 ? 30 : atoi(word + 8);
            else if (strncmp(word, "attempts:", 9) == 0 && atoi(word + 9) > 0)
                attempts = atoi(word + 9) > 5 ? 5 : atoi(word + 9);
        }
    }
    if (fp)
        fclose(fp);
}

int pn_dns_init(pn_buf *why)
{
    if (ready)
        return 0;
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    read_options();
    struct ares_options opts = {.timeout = timeout_s * 1000, .tries = attempts};
    if (rc == ARES_SUCCESS)
        rc = ares_init_options(&channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        pn_buf_printf(why, "DNS resolver: %s", ares_strerror(rc));
        return -1;
    }
    ready = 1;
    if (mode == PN_DNS_DNSSEC && !trust_ad)
        pn_warn("DNSSEC validation may be unavailable: /etc/resolv.conf has no \"options "
                "trust-ad\", so no answer counts as validated");
    return 0;
}

/* on_answer: the answer kept, its RCODE and answer count read as ares_query would:
 * NXDOMAIN is ENOTFOUND, no records ENODATA. */
static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct answer *a = arg;
    (void)timeouts;
    a->done = 1;
    a->status = status;
    if (status == ARES_SUCCESS && (abuf == NULL || alen < 12))
        a->status = ARES_EBADRESP; /* not even a header */
    if (a->status != ARES_SUCCESS)
        return;
    a->abuf = pn_memdup(abuf, (size_t)alen);
    a->alen = alen;
    int rcode = abuf[3] & 0x0f, ancount = abuf[6] << 8 | abuf[7];
    if (rcode == ns_r_nxdomain)
        a->status = ARES_ENOTFOUND;
    else if (rcode == ns_r_noerror && ancount == 0)
        a->status = ARES_ENODATA;
    else if (rcode != ns_r_noerror)
        a->status = ARES_ESERVFAIL;
}

/* secure: in DNSSEC mode, whether the resolver validated the answer (AD). */
static int secure(const struct answer *a)
{
    return mode == PN_DNS_DNSSEC && trust_ad && a->abuf && (a->abuf[3] & 0x20) != 0;
}

static const char *type_name(int type)
{
    return type == ns_t_mx ? "MX" : type == ns_t_aaaa ? "AAAA" : type == 52 ? "TLSA" : "A";
}

/* drive: the channel's sockets are polled and processed until *done is set, the channel has
 * nothing left to do, or timeout_ms (-1: c-ares's own timeouts only) has passed; a query
 * still open at the deadline is cancelled. */
static void drive(int *done, int timeout_ms)
{
    long long deadline = timeout_ms >= 0 ? pn_event_now_ms() + timeout_ms : -1;
    while (!*done) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        /* the bits as unsigned: c-ares's own macros shift a signed 1 into the sign bit */
        unsigned bits = (unsigned)ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd fds[ARES_GETSOCK_MAXNUM];
        int n = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short events = (short)((bits & (1u << i) ? POLLIN : 0) |
                                   (bits & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0));
            if (events)
                fds[n++] = (struct pollfd){.fd = socks[i], .events = events};
        }
        if (n == 0)
            break;
        struct timeval max, tv, *tvp = NULL;
        if (deadline >= 0) {
            long long left = deadline - pn_event_now_ms();
            if (left <= 0) {
                ares_cancel(channel);
                break;
            }
            max = (struct timeval){.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
            tvp = &max;
        }
        tvp = ares_timeout(channel, tvp, &tv);
        int wait_ms = tvp ? (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000) : -1;
        int ready_count = poll(fds, (nfds_t)n, wait_ms);
        if (ready_count <= 0) { /* a timeout: c-ares retries or fails its queries */
            ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (int i = 0; i < n; i++) {
            ares_socket_t rfd = fds[i].revents & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd
                                                                              : ARES_SOCKET_BAD;
            ares_socket_t wfd = fds[i].revents & (POLLOUT | POLLERR) ? fds[i].fd : ARES_SOCKET_BAD;
            if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD)
                ares_process_fd(channel, rfd, wfd);
        }
    }
}

static int send_query(const char *name, int type, struct answer *a, pn_buf *why);

/* The answers of a source set by pn_dns_set_source, in place of the resolver's. */
static pn_dns_source source;
static void *source_ctx;

void pn_dns_set_source(pn_dns_source fn, void *ctx)
{
    source = fn;
    source_ctx = ctx;
}

static int query(const char *name, int type, struct answer *a, pn_buf *why)
{
    memset(a, 0, sizeof(*a));
    if (source) {
        const unsigned char *abuf;
        int alen;
        int status = source(name, type, &abuf, &alen, source_ctx) == 0 ? ARES_SUCCESS
                                                                        : ARES_ECONNREFUSED;
        on_answer(a, status, 0, (unsigned char *)abuf, alen);
    } else if (!ready && pn_dns_init(why) < 0) {
        return PN_DNS_RETRY;
    } else if (send_query(name, type, a, why) < 0) {
        return PN_DNS_NOTFOUND;
    }
    if (a->status == ARES_SUCCESS)
        return PN_DNS_OK;
    if (a->status == ARES_ENOTFOUND || a->status == ARES_ENODATA)
        return PN_DNS_NOTFOUND;
    pn_buf_printf(why,
                  "Host or domain name not found. Name service error for name=%s type=%s: "
                  "Host not found, try again",
                  name, type_name(type));
    if (pn_verbose)
        pn_info("%s: %s", name, ares_strerror(a->status));
    return PN_DNS_RETRY;
}

/* send_query: the query for name and type sent on the channel, and the channel driven until
 * its answer (or failure) is in a; -1 with why when the name cannot be put in a query. */
static int send_query(const char *name, int type, struct answer *a, pn_buf *why)
{
    unsigned char *qbuf = NULL;
    int qlen = 0, dnssec = mode == PN_DNS_DNSSEC;
    /* ares_send keeps the ID it is given: an unpredictable one, against forged answers */
    unsigned short id = 0;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (unsigned short)(pn_event_now_ms() ^ (long long)getpid());
    /* DNSSEC: an OPT record (1232 bytes over UDP) whose DO bit asks for validation */
    if (ares_create_query(name, ns_c_in, type, id, 1, &qbuf, &qlen, dnssec ? 1232 : 0) !=
        ARES_SUCCESS) {
        pn_buf_printf(why, "bad name in a DNS query: %s", name);
        return -1;
    }
    if (dnssec && qlen > 23) {
        qbuf[3] |= 0x20;        /* AD */
        qbuf[qlen - 4] |= 0x80; /* DO: the high bit of the OPT record's flags */
    }
    ares_send(channel, qbuf, qlen, on_answer, a);
    ares_free_string(qbuf);
    drive(&a->done, -1);
    return 0;
}

static int by_preference(const void *x, const void *y)
{
    const pn_mx *a = x, *b = y;
    return a->preference - b->preference;
}

int pn_dns_mx(const char *domain, pn_mx **list, int *count, int *null_mx, int *is_secure,
              pn_buf *why)
{
    struct answer a;
    *list = NULL;
    *count = 0;
    *null_mx = 0;
    int rc = query(domain, ns_t_mx, &a, why);
    if (is_secure)
        *is_secure = secure(&a);
    if (rc != PN_DNS_OK) {
        free(a.abuf);
        return rc;
    }
    struct ares_mx_reply *mx = NULL;
    int prc = ares_parse_mx_reply(a.abuf, a.alen, &mx);
    free(a.abuf);
    if (prc != ARES_SUCCESS) {
        pn_buf_printf(why, "bad MX answer for %s: %s", domain, ares_strerror(prc));
        return prc == ARES_ENODATA ? PN_DNS_NOTFOUND : PN_DNS_RETRY;
    }
    for (struct ares_mx_reply *m = mx; m; m = m->next) {
        if (m->priority == 0 && (m->host[0] == 0 || strcmp(m->host, ".") == 0)) {
            *null_mx = 1;
            continue;
        }
        *list = pn_reallocarray(*list, (size_t)*count + 1, sizeof(pn_mx));
        snprintf((*list)[*count].host, sizeof((*list)[*count].host), "%s", m->host);
        (*list)[*count].preference = m->priority;
        (*count)++;
    }
    ares_free_data(mx);
    /* equal preferences in random order, as the reference does */
    for (int i = 0; i + 1 < *count; i++) {
        int j = i + rand() % (*count - i);
        pn_mx t = (*list)[i];
        (*list)[i] = (*list)[j];
        (*list)[j] = t;
    }
    if (*count > 1)
        qsort(*list, (size_t)*count, sizeof(pn_mx), by_preference);
    if (*null_mx && *count == 0)
        return PN_DNS_OK;
    return *count ? PN_DNS_OK : PN_DNS_NOTFOUND;
}

static void add(pn_addrlist *out, int family, const void *bytes, int port)
{
    out->addrs = pn_reallocarray(out->addrs, (size_t)out->count + 1, sizeof(pn_sockaddr));
    pn_sockaddr *s = &out->addrs[out->count++];
    memset(s, 0, sizeof(*s));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&s->ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((unsigned short)port);
        memcpy(&sin->sin_addr, bytes, 4);
        s->len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s->ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((unsigned short)port);
        memcpy(&sin6->sin6_addr, bytes, 16);
        s->len = sizeof(*sin6);
    }
}

/* native_addrs: the "disabled" mode: getaddrinfo(), that is the hosts file and whatever
 * nsswitch.conf names. */
static int native_addrs(const char *host, int port, int want4, int want6, pn_addrlist *out,
                        pn_buf *why)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc == EAI_NONAME || rc == EAI_NODATA)
        return PN_DNS_NOTFOUND;
    if (rc != 0) {
        pn_buf_printf(why,
                      "Host or domain name not found. Name service error for name=%s "
                      "type=A: Host not found, try again",
                      host);
        return PN_DNS_RETRY;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET && want4)
            add(out, AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, port);
        else if (ai->ai_family == AF_INET6 && want6)
            add(out, AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, port);
    }
    freeaddrinfo(res);
    return out->count ? PN_DNS_OK : PN_DNS_NOTFOUND;
}

int pn_dns_addrs(const char *host, int port, pn_addrlist *out, int *is_secure, pn_buf *why)
{
    const char *protocols = pn_config_get(PN_P(inet_protocols));
    int want4 = strstr(protocols, "all") || strstr(protocols, "ipv4");
    int want6 = strstr(protocols, "all") || strstr(protocols, "ipv6");
    memset(out, 0, sizeof(*out));
    if (is_secure)
        *is_secure = 0;
    unsigned char literal[16];
    if (inet_pton(AF_INET, host, literal) == 1) {
        add(out, AF_INET, literal, port);
        return PN_DNS_OK;
    }
    if (inet_pton(AF_INET6, host, literal) == 1) {
        add(out, AF_INET6, literal, port);
        return PN_DNS_OK;
    }
    if (mode == PN_DNS_DISABLED)
        return native_addrs(host, port, want4, want6, out, why);
    int rc = PN_DNS_NOTFOUND, all_secure = 1;
    struct answer a;
    if (want4) {
        rc = query(host, ns_t_a, &a, why);
        all_secure = secure(&a);
        struct ares_addrttl ttls[32];
        int n = 32;
        if (rc == PN_DNS_OK && ares_parse_a_reply(a.abuf, a.alen, NULL, ttls, &n) == ARES_SUCCESS)
            for (int i = 0; i < n; i++)
                add(out, AF_INET, &ttls[i].ipaddr, port);
        free(a.abuf);
    }
    if (rc == PN_DNS_RETRY)
        return rc;
    if (want6) {
        int rc6 = query(host, ns_t_aaaa, &a, why);
        all_secure = all_secure && secure(&a);
        struct ares_addr6ttl ttls[32];
        int n = 32;
        if (rc6 == PN_DNS_OK &&
            ares_parse_aaaa_reply(a.abuf, a.alen, NULL, ttls, &n) == ARES_SUCCESS)
            for (int i = 0; i < n; i++)
                add(out, AF_INET6, &ttls[i].ip6addr, port);
        free(a.abuf);
    }
    if (is_secure)
        *is_secure = all_secure && out->count > 0;
    return out->count ? PN_DNS_OK : PN_DNS_NOTFOUND;
}

int pn_dns_a(const char *name, unsigned char (*addrs)[4], int max, int *n, pn_buf *why)
{
    struct answer a;
    *n = 0;
    int rc = query(name, ns_t_a, &a, why);
    struct ares_addrttl ttls[32];
    int got = 32;
    if (rc == PN_DNS_OK && ares_parse_a_reply(a.abuf, a.alen, NULL, ttls, &got) == ARES_SUCCESS)
        for (int i = 0; i < got && *n < max; i++)
            memcpy(addrs[(*n)++], &ttls[i].ipaddr, 4);
    free(a.abuf);
    if (rc == PN_DNS_OK && *n == 0)
        rc = PN_DNS_NOTFOUND;
    return rc;
}

int pn_dns_txt(const char *name, pn_buf *text, pn_buf *why)
{
    struct answer a;
    int rc = query(name, ns_t_txt, &a, why);
    struct ares_txt_ext *txt = NULL;
    if (rc == PN_DNS_OK && ares_parse_txt_reply_ext(a.abuf, a.alen, &txt) == ARES_SUCCESS) {
        for (struct ares_txt_ext *t = txt; t; t = t->next) {
            if (t->record_start && text->len)
                pn_buf_puts(text, " / ");
            pn_buf_append(text, t->txt, t->length);
        }
        ares_free_data(txt);
    }
    free(a.abuf);
    return rc;
}

int pn_dns_ns(const char *domain, pn_argv *hosts, pn_buf *why)
{
    struct answer a;
    int rc = query(domain, ns_t_ns, &a, why);
    struct hostent *he = NULL;
    if (rc == PN_DNS_OK) {
        int prc = ares_parse_ns_reply(a.abuf, a.alen, &he);
        if (prc == ARES_ENODATA)
            rc = PN_DNS_NOTFOUND;
        else if (prc != ARES_SUCCESS) {
            pn_buf_printf(why, "bad NS answer for %s: %s", domain, ares_strerror(prc));
            rc = PN_DNS_RETRY;
        }
    }
    for (int i = 0; he && he->h_aliases && he->h_aliases[i]; i++)
        pn_argv_add(hosts, he->h_aliases[i]);
    if (he)
        ares_free_hostent(he);
    free(a.abuf);
    return rc == PN_DNS_OK && hosts->len == 0 ? PN_DNS_NOTFOUND : rc;
}

/* skip_name: the length of the (compressed) name at p, or -1. */
static long skip_name(const unsigned char *p, const unsigned char *abuf, int alen)
{
    char *name = NULL;
    long enclen = 0;
    if (ares_expand_name(p, abuf, alen, &name, &enclen) != ARES_SUCCESS)
        return -1;
    ares_free_string(name);
    return enclen;
}

/* parse_tlsa: the TLSA records of the answer section; -1 for a malformed answer. */
static int parse_tlsa(const unsigned char *abuf, int alen, pn_tlsa **list, int *count)
{
    const unsigned char *p = abuf + 12, *end = abuf + alen;
    int qdcount = abuf[4] << 8 | abuf[5], ancount = abuf[6] << 8 | abuf[7];
    for (int i = 0; i < qdcount; i++) {
        long len = skip_name(p, abuf, alen);
        if (len < 0 || end - p < len + 4)
            return -1;
        p += len + 4;
    }
    for (int i = 0; i < ancount; i++) {
        long len = skip_name(p, abuf, alen);
        if (len < 0 || end - p < len + 10)
            return -1;
        p += len;
        int type = p[0] << 8 | p[1], rdlen = p[8] << 8 | p[9];
        p += 10;
        if (end - p < rdlen)
            return -1;
        if (type == 52 && rdlen > 3) {
            *list = pn_reallocarray(*list, (size_t)*count + 1, sizeof(pn_tlsa));
            pn_tlsa *t = &(*list)[(*count)++];
            t->usage = p[0];
            t->selector = p[1];
            t->mtype = p[2];
            t->len = (size_t)rdlen - 3;
            t->data = pn_memdup(p + 3, t->len);
        }
        p += rdlen;
    }
    return 0;
}

int pn_dns_tlsa(const char *host, int port, pn_tlsa **list, int *count, int *is_secure, pn_buf *why)
{
    *list = NULL;
    *count = 0;
    char name[300];
    snprintf(name, sizeof(name), "_%d._tcp.%s", port, host);
    struct answer a;
    int rc = query(name, 52, &a, why);
    *is_secure = secure(&a);
    if (rc == PN_DNS_OK && parse_tlsa(a.abuf, a.alen, list, count) < 0) {
        pn_buf_printf(why, "malformed TLSA answer for %s", name);
        rc = PN_DNS_RETRY;
    }
    free(a.abuf);
    if (rc == PN_DNS_OK && *count == 0)
        rc = PN_DNS_NOTFOUND;
    return rc;
}

void pn_dns_tlsa_free(pn_tlsa *list, int count)
{
    for (int i = 0; i < count; i++)
        free(list[i].data);
    free(list);
}

/* Host lookups with a deadline: the channel is driven until the callback ran or the time is
 * up, then the query is cancelled (its callback runs with ARES_ECANCELLED). */
struct host_answer {
    int done;
    int status;
    const pn_inet_addr *want; /* name_has: the address looked for */
    int found;
    int others;
    pn_buf *name;
};


static void on_host(void *arg, int status, int timeouts, struct hostent *host)
{
    struct host_answer *a = arg;
    (void)timeouts;
    a->done = 1;
    a->status = status;
    if (status != ARES_SUCCESS || host == NULL)
        return;
    if (a->name && host->h_name)
        pn_buf_set(a->name, host->h_name);
    if (a->want == NULL)
        return;
    size_t len = a->want->family == AF_INET ? 4 : 16;
    for (char **p = host->h_addr_list; p && *p; p++) {
        if (host->h_addrtype == a->want->family && memcmp(*p, a->want->bytes, len) == 0)
            a->found = 1;
        else
            a->others = 1;
    }
}

static int host_status(const struct host_answer *a)
{
    if (a->status == ARES_SUCCESS)
        return PN_DNS_OK;
    if (a->status == ARES_ENOTFOUND || a->status == ARES_ENODATA || a->status == ARES_ENONAME)
        return PN_DNS_NOTFOUND;
    return PN_DNS_RETRY;
}

int pn_dns_name_of(const pn_inet_addr *addr, pn_buf *name, int timeout_ms)
{
    pn_buf why = PN_BUF_INIT;
    int init = pn_dns_init(&why);
    pn_buf_release(&why);
    if (init < 0)
        return PN_DNS_RETRY;
    struct host_answer a = {.name = name, .status = ARES_ETIMEOUT};
    ares_gethostbyaddr(channel, addr->bytes, addr->family == AF_INET ? 4 : 16, addr->family,
                       on_host, &a);
    drive(&a.done, timeout_ms);
    int rc = host_status(&a);
    if (rc == PN_DNS_OK && name->len == 0)
        rc = PN_DNS_NOTFOUND;
    return rc;
}

int pn_dns_name_has(const char *name, const pn_inet_addr *addr, int timeout_ms, pn_buf *why)
{
    if (pn_dns_init(why) < 0)
        return PN_DNS_RETRY;
    struct host_answer a = {.want = addr, .status = ARES_ETIMEOUT};
    ares_gethostbyname(channel, name, addr->family, on_host, &a);
    drive(&a.done, timeout_ms);
    int rc = host_status(&a);
    char text[INET6_ADDRSTRLEN] = "";
    inet_ntop(addr->family, addr->bytes, text, sizeof(text));
    if (rc == PN_DNS_OK && !a.found) {
        pn_buf_printf(why, "hostname %s does not resolve to address %s", name, text);
        return PN_DNS_NOTFOUND;
    }
    if (rc == PN_DNS_NOTFOUND)
        pn_buf_printf(why, "hostname %s does not resolve to address %s: %s", name, text,
                      "Name or service not known");
    else if (rc == PN_DNS_RETRY)
        pn_buf_printf(why, "hostname %s verification failed: %s", name,
                      "Temporary failure in name resolution");
    return rc;
}
