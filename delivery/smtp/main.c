/* main.c: smtp, the SMTP client delivery agent (private/smtp, relay). For a request it
 * finds the next hop's addresses, talks SMTP to the first that answers (EHLO, falling back to
 * HELO; SIZE; MAIL, one RCPT per recipient, DATA with CR LF and dot-stuffing, QUIT) and turns
 * each reply into that recipient's fate: 2xx sent, 4xx deferred, 5xx bounced, with the
 * reference's log texts ("host H[A] said: ... (in reply to RCPT TO command)"). A connection
 * failure moves on to the next address, and so do recipients answered with 4xx while there is
 * one (each recipient is logged with the relay that decided it). Next hops: "[host]:port"
 * (no MX lookup) or a domain, resolved through its MX hosts by preference (c-ares, dns.c),
 * with null MX and mail that would loop back to this host bounced. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
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

struct session {
    pn_stream *s;
    char host[256];
    char addr[64];
    int port;
    pn_buf reply; /* the last reply, all lines joined */
    int code;
    int esmtp_size;
    int pipelining; /* RFC 2920: MAIL, RCPT and DATA go out in one write */
};

/* read_reply: a whole (multi-line) reply within the timeout; -1 when the connection broke. */
static int read_reply(struct session *ss, const char *timeout_param)
{
    pn_buf line = PN_BUF_INIT;
    pn_stream_set_timeout(ss->s, (int)(pn_config_get_time(timeout_param) * 1000));
    pn_buf_reset(&ss->reply);
    for (int lines = 0; lines < 1000; lines++) {
        int rc = pn_stream_get_line(ss->s, &line, 4096);
        if (rc != PN_LINE_OK && rc != PN_LINE_LAST) {
            pn_buf_release(&line);
            return -1;
        }
        if (line.len && line.data[line.len - 1] == '\r')
            pn_buf_truncate(&line, line.len - 1);
        if (line.len < 3) {
            pn_buf_release(&line);
            return -1;
        }
        if (ss->reply.len)
            pn_buf_putc(&ss->reply, ' ');
        pn_buf_append(&ss->reply, line.data, line.len);
        if (lines > 0 && line.len > 4) { /* EHLO keywords follow the first line */
            const char *kw = line.data + 4;
            size_t n = strcspn(kw, " ");
            if (n == 4 && strncasecmp(kw, "SIZE", 4) == 0)
                ss->esmtp_size = 1;
            else if (n == 10 && strncasecmp(kw, "PIPELINING", 10) == 0)
                ss->pipelining = 1;
        }
        if (line.len == 3 || line.data[3] != '-') {
            ss->code = atoi(line.data);
            pn_buf_release(&line);
            return 0;
        }
    }
    pn_buf_release(&line);
    return -1;
}

/* queue_command: one command into the output buffer, sent with the next flush. */
static int queue_command(struct session *ss, const char *fmt, va_list ap)
{
    pn_buf text = PN_BUF_INIT;
    pn_buf_vprintf(&text, fmt, ap);
    pn_buf_puts(&text, "\r\n");
    int rc = pn_stream_write(ss->s, text.data, text.len);
    pn_buf_release(&text);
    return rc < 0 ? -1 : 0;
}

/* command: send one command and read its reply. With the session's pipelining flag and
 * timeout_param NULL, the command is only queued (its reply is read later, in order). */
static int command(struct session *ss, const char *timeout_param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int command(struct session *ss, const char *timeout_param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = queue_command(ss, fmt, ap);
    va_end(ap);
    if (rc < 0 || timeout_param == NULL)
        return rc;
    return pn_stream_flush(ss->s) < 0 ? -1 : read_reply(ss, timeout_param);
}

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
    *port = port_text ? pn_inet_port(port_text, pn_config_get("known_tcp_ports")) : 25;
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
        for (int i = 0; i < count; i++) {
            if (strcasecmp(mx[i].host, me) == 0) {
                if (i == 0) {
                    pn_buf_printf(why, "mail for %s loops back to myself", name);
                    *bounce = 1;
                    rc = PN_DNS_NOTFOUND;
                }
                break; /* never the MX hosts from our own preference on */
            }
            if (pn_dns_addrs(mx[i].host, *port, &addrs, why) == PN_DNS_OK) {
                add_targets(t, n, mx[i].host, &addrs);
                pn_addrlist_free(&addrs);
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
            pn_buf_printf(why, "Host or domain name not found. Name service error for "
                               "name=%s type=A: Host not found", name);
            *bounce = 1;
        }
    }
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
    const char *bind_param = addr->ss.ss_family == AF_INET ? "smtp_bind_address"
                                                           : "smtp_bind_address6";
    const char *bind_to = pn_config_get(bind_param);
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
    int n = poll(&pfd, 1, (int)(pn_config_get_time("smtp_connect_timeout") * 1000));
    if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        pn_buf_printf(why, "%s", n == 0 ? "Connection timed out" : strerror(err ? err : errno));
        close(fd);
        return -1;
    }
    pn_sock_nonblock(fd, 0);
    return fd;
}

static void send_content(struct session *ss, const pn_buf *content)
{
    const char *p = content->data, *end = content->data + content->len;
    pn_buf out = PN_BUF_INIT;
    pn_buf_init(&out);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 0 && p[0] == '.')
            pn_buf_putc(&out, '.');
        pn_buf_append(&out, p, n);
        pn_buf_puts(&out, "\r\n");
        p += n + (nl != NULL);
        if (out.len > 65536) {
            pn_stream_write(ss->s, out.data, out.len);
            pn_buf_reset(&out);
        }
    }
    pn_buf_puts(&out, ".\r\n");
    pn_stream_write(ss->s, out.data, out.len);
    pn_stream_flush(ss->s);
    pn_buf_release(&out);
}

static void fate(int outcome, const char *dsn, const char *text, int *o, pn_buf *d, pn_buf *t)
{
    *o = outcome;
    pn_buf_set(d, dsn);
    pn_buf_set(t, text);
}

/* status_of: the enhanced code in a reply, or one made from its class. */
static void status_of(const struct session *ss, char *out, size_t len)
{
    const char *text = ss->reply.len > 4 ? ss->reply.data + 4 : ""; /* "250" alone is legal */
    size_t n = strspn(text, "0123456789.");
    if (n >= 5 && n < len && (text[0] == '2' || text[0] == '4' || text[0] == '5'))
        snprintf(out, len, "%.*s", (int)n, text);
    else
        snprintf(out, len, "%c.0.0", ss->reply.data[0]);
}

/* converse: one SMTP transaction for the recipients marked in todo; -1 when the server could
 * not be used at all. */
static int converse(struct session *ss, const pn_delivreq *req, const pn_qfile *q,
                    const int *todo, int *outcomes, pn_buf *dsns, pn_buf *texts, pn_buf *why)
{
    char status[16];
    pn_buf said = PN_BUF_INIT, content = PN_BUF_INIT;
    int rc = -1;
    if (read_reply(ss, "smtp_helo_timeout") < 0 || ss->code / 100 != 2) {
        pn_buf_printf(why, "host %s[%s] refused to talk to me: %s", ss->host, ss->addr,
                      ss->reply.len ? ss->reply.data : "lost connection");
        goto out;
    }
    const char *helo = pn_config_get("smtp_helo_name");
    if (command(ss, "smtp_helo_timeout", "EHLO %s", helo) < 0 ||
        (ss->code / 100 != 2 &&
         (command(ss, "smtp_helo_timeout", "HELO %s", helo) < 0 || ss->code / 100 != 2))) {
        pn_buf_printf(why, "host %s[%s] said: %s (in reply to HELO command)", ss->host,
                      ss->addr, ss->reply.data);
        goto out;
    }
    if (pn_qfile_read_content(q, &content, why) < 0)
        goto out;
    /* with PIPELINING, MAIL, every RCPT and DATA leave in one write; replies come in order */
    int pipelined = ss->pipelining;
    const char *wait = pipelined ? NULL : "smtp_mail_timeout";
    int mail_ok = ss->esmtp_size
                      ? command(ss, wait, "MAIL FROM:<%s> SIZE=%llu", req->sender.data,
                                (unsigned long long)q->content_len)
                      : command(ss, wait, "MAIL FROM:<%s>", req->sender.data);
    if (pipelined && mail_ok == 0) {
        for (size_t i = 0; i < req->rcpt_count && mail_ok == 0; i++)
            if (todo[i])
                mail_ok = command(ss, NULL, "RCPT TO:<%s>", req->rcpts[i].addr.data);
        if (mail_ok == 0)
            mail_ok = command(ss, NULL, "DATA");
        if (mail_ok == 0)
            mail_ok = pn_stream_flush(ss->s) < 0 ? -1 : read_reply(ss, "smtp_mail_timeout");
    }
    if (mail_ok < 0 || ss->code / 100 != 2) {
        status_of(ss, status, sizeof(status));
        pn_buf_printf(&said, "host %s[%s] said: %s (in reply to MAIL FROM command)", ss->host,
                      ss->addr, ss->reply.len ? ss->reply.data : "lost connection");
        for (size_t i = 0; i < req->rcpt_count; i++)
            if (todo[i])
                fate(ss->code / 100 == 5 ? PN_DELIVER_BOUNCED : PN_DELIVER_DEFERRED, status,
                     said.data, &outcomes[i], &dsns[i], &texts[i]);
        rc = 0;
        goto out;
    }
    int accepted = 0;
    for (size_t i = 0; i < req->rcpt_count; i++) {
        if (!todo[i])
            continue;
        if ((pipelined ? read_reply(ss, "smtp_rcpt_timeout")
                       : command(ss, "smtp_rcpt_timeout", "RCPT TO:<%s>",
                                 req->rcpts[i].addr.data)) < 0) {
            pn_buf_printf(why, "lost connection with %s[%s] while sending RCPT TO", ss->host,
                          ss->addr);
            goto out;
        }
        if (ss->code / 100 == 2) {
            outcomes[i] = -1; /* accepted: decided after DATA */
            accepted++;
            continue;
        }
        status_of(ss, status, sizeof(status));
        pn_buf_reset(&said);
        pn_buf_printf(&said, "host %s[%s] said: %s (in reply to RCPT TO command)", ss->host,
                      ss->addr, ss->reply.data);
        fate(ss->code / 100 == 5 ? PN_DELIVER_BOUNCED : PN_DELIVER_DEFERRED, status, said.data,
             &outcomes[i], &dsns[i], &texts[i]);
    }
    rc = 0;
    if (accepted == 0) {
        /* the pipelined DATA is answered too; a server that says 354 anyway gets "." */
        if (pipelined && read_reply(ss, "smtp_data_init_timeout") == 0 && ss->code == 354)
            command(ss, "smtp_data_done_timeout", ".");
        command(ss, "smtp_quit_timeout", "QUIT");
        goto out;
    }
    pn_buf_reset(&said);
    if ((pipelined ? read_reply(ss, "smtp_data_init_timeout")
                   : command(ss, "smtp_data_init_timeout", "DATA")) < 0 ||
        ss->code != 354) {
        pn_buf_printf(&said, "host %s[%s] said: %s (in reply to DATA command)", ss->host,
                      ss->addr, ss->reply.len ? ss->reply.data : "lost connection");
    } else {
        send_content(ss, &content);
        if (read_reply(ss, "smtp_data_done_timeout") < 0)
            pn_buf_printf(&said, "lost connection with %s[%s] while sending end of data",
                          ss->host, ss->addr);
        else if (ss->code / 100 == 2)
            pn_buf_printf(&said, "%s", ss->reply.data);
        else
            pn_buf_printf(&said, "host %s[%s] said: %s (in reply to end of DATA command)",
                          ss->host, ss->addr, ss->reply.data);
    }
    status_of(ss, status, sizeof(status));
    int outcome = ss->code / 100 == 2 ? PN_DELIVER_SENT
                  : ss->code / 100 == 5 ? PN_DELIVER_BOUNCED : PN_DELIVER_DEFERRED;
    for (size_t i = 0; i < req->rcpt_count; i++)
        if (todo[i] && outcomes[i] == -1)
            fate(outcome, status, said.data, &outcomes[i], &dsns[i], &texts[i]);
    command(ss, "smtp_quit_timeout", "QUIT");
out:
    pn_buf_release(&said);
    pn_buf_release(&content);
    return rc;
}


static void deliver_all(const pn_delivreq *req, const pn_qfile *q, int *outcomes, pn_buf *dsns,
                        pn_buf *texts, pn_buf *relays, void *ctx)
{
    (void)ctx;
    char relay[400];
    pn_buf why = PN_BUF_INIT;
    struct session ss;
    memset(&ss, 0, sizeof(ss));
    pn_buf_init(&ss.reply);
    int done = 0, bounce = 0, count = 0;
    int *todo = pn_calloc(req->rcpt_count + 1, sizeof(int));
    for (size_t i = 0; i < req->rcpt_count; i++) {
        todo[i] = 1;
        outcomes[i] = PN_DELIVER_DEFERRED;
    }
    struct target *t = NULL;
    if (targets(req->nexthop.data, &t, &count, &ss.port, &bounce, &why) == PN_DNS_OK) {
        for (int a = 0; a < count && !done; a++) {
            pn_buf_reset(&why);
            snprintf(ss.host, sizeof(ss.host), "%s", t[a].host);
            pn_buf where = PN_BUF_INIT;
            pn_sockaddr_format(&t[a].addr, &where);
            char *colon = strrchr(where.data, ':');
            *colon = 0;
            snprintf(ss.addr, sizeof(ss.addr), "%s",
                     where.data[0] == '[' ? where.data + 1 : where.data);
            ss.addr[strcspn(ss.addr, "]")] = 0;
            pn_buf_release(&where);
            int fd = connect_to(&t[a].addr, &why);
            if (fd < 0) {
                pn_buf err = PN_BUF_INIT;
                pn_buf_printf(&err, "connect to %s[%s]:%d: %s", ss.host, ss.addr, ss.port,
                              why.data);
                pn_buf_set(&why, err.data);
                pn_buf_release(&err);
                continue;
            }
            snprintf(relay, sizeof(relay), "%s[%s]:%d", ss.host, ss.addr, ss.port);
            ss.s = pn_stream_fdopen(fd);
            ss.esmtp_size = ss.pipelining = 0;
            int used = converse(&ss, req, q, todo, outcomes, dsns, texts, &why) == 0;
            pn_stream_close(ss.s);
            if (!used)
                continue;
            /* a 4xx is final only at the last address: the next one may take the mail */
            done = 1;
            for (size_t i = 0; i < req->rcpt_count; i++) {
                if (todo[i])
                    pn_buf_set(&relays[i], relay);
                todo[i] = todo[i] && outcomes[i] == PN_DELIVER_DEFERRED && a + 1 < count;
                if (todo[i])
                    done = 0;
            }

        }
    }
    free(t);
    if (!done && bounce) {
        for (size_t i = 0; i < req->rcpt_count; i++)
            fate(PN_DELIVER_BOUNCED, strstr(why.data, "loops back") ? "5.4.6" : "5.4.4",
                 why.data, &outcomes[i], &dsns[i], &texts[i]);
        done = 1;
    }
    if (!done) {
        /* no later address answered: a recipient keeps the 4xx it got, if any */
        for (size_t i = 0; i < req->rcpt_count; i++)
            if (todo[i] && (texts[i].len == 0 || outcomes[i] == -1))
                fate(PN_DELIVER_DEFERRED, "4.4.1", why.data, &outcomes[i], &dsns[i],
                     &texts[i]);
    }
    free(todo);
    pn_buf_release(&why);
    pn_buf_release(&ss.reply);
}

static pn_agent agent = {.relay = "none", .needs_content = 1, .deliver_all = deliver_all};

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
    static pn_server server = {.serve = serve, .pre_jail = pre_jail, .max_use = -1,
                               .max_idle = -1, .process_limit = -1};
    return pn_single_server_main(argc, argv, &server);
}
