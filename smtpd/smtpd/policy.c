/* policy.c: check_policy_service, the policy delegation protocol that postfwd, policyd-spf
 * and others speak: "name=value" lines about the session and an empty line, answered with
 * "action=..." and an empty line. A connection per server is kept for the next request,
 * closed after smtpd_policy_service_max_idle unused, smtpd_policy_service_max_ttl in all or
 * smtpd_policy_service_request_limit requests; a request that fails is tried again
 * (smtpd_policy_service_try_limit, smtpd_policy_service_retry_delay apart) on a new
 * connection, and when none succeeds the action is smtpd_policy_service_default_action. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "mail/tls.h"
#include "smtpd.h"

#define SERVERS 8 /* kept connections, one per server */
#define REPLY_LINES 100

static struct server {
    char *spec;
    pn_stream *stream;
    time_t born, used;
    long requests;
} servers[SERVERS];

static void drop(struct server *sv)
{
    if (sv->stream)
        pn_stream_close(sv->stream);
    sv->stream = NULL;
}

static struct server *server_of(const char *spec)
{
    struct server *free_slot = NULL;
    for (int i = 0; i < SERVERS; i++) {
        if (servers[i].spec && strcmp(servers[i].spec, spec) == 0)
            return &servers[i];
        if (servers[i].spec == NULL && free_slot == NULL)
            free_slot = &servers[i];
    }
    if (free_slot == NULL) { /* more servers than slots: the first one's slot is reused */
        free_slot = &servers[0];
        drop(free_slot);
        free(free_slot->spec);
    }
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->spec = pn_strdup(spec);
    return free_slot;
}

/* connect_to: inet:host:port, unix:path, or a bare name: private/name of the queue directory,
 * the working directory. */
static int connect_to(const char *spec, int timeout_ms, pn_buf *why)
{
    if (strncmp(spec, "inet:", 5) == 0) {
        const char *hostport = spec + 5;
        const char *colon = strrchr(hostport, ':');
        if (colon == NULL) {
            pn_buf_printf(why, "bad policy server: %s", spec);
            return -1;
        }
        char host[256];
        snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
        if (host[0] == '[') { /* [ipv6]:port */
            memmove(host, host + 1, strlen(host));
            host[strcspn(host, "]")] = 0;
        }
        return pn_sock_connect_inet(host, colon + 1, timeout_ms, why);
    }
    pn_buf path = PN_BUF_INIT;
    if (strncmp(spec, "unix:", 5) == 0)
        pn_buf_puts(&path, spec + 5);
    else
        pn_buf_printf(&path, "private/%s", spec);
    int fd = pn_sock_connect_unix(path.data, why);
    pn_buf_release(&path);
    return fd;
}

static void attr(pn_buf *req, const char *name, const char *value)
{
    /* one attribute a line: a line end (or other control character) in a value the client
     * chose, as its HELO, would start another attribute */
    size_t start = req->len + strlen(name) + 1;
    pn_buf_printf(req, "%s=%s\n", name, value ? value : "");
    for (size_t i = start; i + 1 < req->len; i++)
        if ((unsigned char)req->data[i] < 0x20 || req->data[i] == 0x7f)
            req->data[i] = '?';
}

/* request: the attributes of the session, as the reference sends them. */
static void request(smtpd_session *s, const char *stage, const char *rcpt, pn_buf *req)
{
    if (s->policy_instance.len == 0) {
        static unsigned counter;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        pn_buf_printf(&s->policy_instance, "%lx.%lx.%lx.%x", (unsigned long)getpid(),
                      (unsigned long)now.tv_sec, (unsigned long)(now.tv_nsec / 1000), counter++);
    }
    char server_addr[64] = "", server_port[16] = "";
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(pn_stream_fd(s->client), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &sin->sin_addr, server_addr, sizeof(server_addr));
            snprintf(server_port, sizeof(server_port), "%u", ntohs(sin->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &sin6->sin6_addr, server_addr, sizeof(server_addr));
            snprintf(server_port, sizeof(server_port), "%u", ntohs(sin6->sin6_port));
        }
    }
    char number[32];
    /* the reference's attributes, in its order */
    attr(req, "request", "smtpd_access_policy");
    attr(req, "protocol_state", stage);
    attr(req, "protocol_name", s->esmtp ? "ESMTP" : "SMTP");
    attr(req, "client_address", s->addr.data);
    attr(req, "client_name", s->name.data);
    attr(req, "client_port", s->port.data);
    attr(req, "reverse_client_name", s->reverse_name.data);
    attr(req, "server_address", server_addr);
    attr(req, "server_port", server_port);
    attr(req, "helo_name", s->helo.data);
    attr(req, "sender", s->sender.data);
    attr(req, "recipient", strcmp(stage, "ETRN") == 0 ? "" : rcpt);
    snprintf(number, sizeof(number), "%zu",
             strcmp(stage, "DATA") == 0 || strcmp(stage, "END-OF-MESSAGE") == 0 ? s->rcpts->len
                                                                                : 0);
    attr(req, "recipient_count", number);
    attr(req, "queue_id", s->queue_id.data);
    attr(req, "instance", s->policy_instance.data);
    snprintf(number, sizeof(number), "%ld", s->message_size > 0 ? s->message_size : 0);
    attr(req, "size", number);
    attr(req, "etrn_domain", strcmp(stage, "ETRN") == 0 ? rcpt : "");
    attr(req, "stress", pn_config_get(PN_P(stress)));
    attr(req, "sasl_method", s->sasl_method.data);
    attr(req, "sasl_username", s->sasl_username.data);
    attr(req, "sasl_sender", s->sasl_sender.data);
    attr(req, "ccert_subject", s->ccert ? s->ccert_cn.data : "");
    attr(req, "ccert_issuer", s->ccert ? s->ccert_issuer.data : "");
    attr(req, "ccert_fingerprint", s->ccert ? s->ccert_fp.data : "");
    attr(req, "ccert_pubkey_fingerprint", s->ccert ? s->ccert_pkey_fp.data : "");
    attr(req, "encryption_protocol", s->tls ? pn_tls_protocol(s->tls) : "");
    attr(req, "encryption_cipher", "");
    attr(req, "encryption_keysize", "0");
    attr(req, "policy_context", pn_config_get(PN_P(smtpd_policy_service_policy_context)));
    pn_buf_putc(req, '\n');
}

/* ask: one request on the server's connection (made when there is none); 0 with the action,
 * -1 with why (the connection is dropped). */
static int ask(struct server *sv, const pn_buf *req, pn_buf *action, pn_buf *why)
{
    int timeout_ms = (int)pn_config_get_time(PN_P(smtpd_policy_service_timeout)) * 1000;
    time_t now = time(NULL);
    long limit = pn_config_get_int(PN_P(smtpd_policy_service_request_limit));
    if (sv->stream && (now - sv->used >= pn_config_get_time(PN_P(smtpd_policy_service_max_idle)) ||
                       now - sv->born >= pn_config_get_time(PN_P(smtpd_policy_service_max_ttl)) ||
                       (limit > 0 && sv->requests >= limit)))
        drop(sv);
    if (sv->stream == NULL) {
        int fd = connect_to(sv->spec, timeout_ms, why);
        if (fd < 0) { /* "connect to H:P: reason", then the reason alone */
            pn_warn("%s", why->data);
            const char *reason = strrchr(why->data, ':');
            pn_buf_set(why, reason ? reason + 2 : why->data);
            return -1;
        }
        sv->stream = pn_stream_fdopen(fd);
        sv->born = now;
        sv->requests = 0;
    }
    pn_stream_set_timeout(sv->stream, timeout_ms);
    pn_stream_write(sv->stream, req->data, req->len);
    int rc = pn_stream_flush(sv->stream) < 0 ? -1 : 0;
    pn_buf line = PN_BUF_INIT;
    int found = 0;
    for (int n = 0; rc == 0; n++) {
        int got = pn_stream_get_line(sv->stream, &line, 4096);
        if (got != PN_LINE_OK || n >= REPLY_LINES) {
            pn_buf_set(why, got == PN_LINE_EOF ? "lost connection" : "read error or timeout");
            rc = -1;
            break;
        }
        if (line.len && line.data[line.len - 1] == '\r')
            pn_buf_truncate(&line, line.len - 1);
        if (line.len == 0)
            break;
        if (strncmp(line.data, "action=", 7) == 0 && !found) {
            pn_buf_set(action, line.data + 7);
            found = 1;
        }
    }
    pn_buf_release(&line);
    if (rc == 0 && !found) {
        pn_buf_set(why, "policy server returned no action");
        rc = -1;
    }
    if (rc < 0) {
        drop(sv);
        return -1;
    }
    sv->used = now;
    sv->requests++;
    return 0;
}

void smtpd_policy_query(smtpd_session *s, const char *spec, const char *stage, const char *rcpt,
                        pn_buf *action)
{
    struct server *sv = server_of(spec);
    pn_buf req = PN_BUF_INIT, why = PN_BUF_INIT;
    request(s, stage, rcpt, &req);
    long tries = pn_config_get_int(PN_P(smtpd_policy_service_try_limit));
    int ok = 0;
    for (long t = 0; t < (tries > 0 ? tries : 1) && !ok; t++) {
        if (t > 0)
            sleep((unsigned)pn_config_get_time(PN_P(smtpd_policy_service_retry_delay)));
        pn_buf_reset(&why);
        pn_buf_reset(action);
        ok = ask(sv, &req, action, &why) == 0;
        if (!ok) /* named as the reference names it: "127.0.0.1:10040", "private/policy" */
            pn_warn("problem talking to server %s: %s",
                    strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "unix:", 5) == 0 ? spec + 5
                                                                                     : spec,
                    why.data);
    }
    if (!ok)
        pn_buf_set(action, pn_config_get(PN_P(smtpd_policy_service_default_action)));
    pn_buf_release(&req);
    pn_buf_release(&why);
}
