/* main.c: smtpd, the SMTP server: one client per process, restarted by master. Tables are
 * opened before the jail; then the process serves sessions until max_use or a table change.
 * The client's address is taken from the socket (IPv4-mapped addresses as IPv4); its name is
 * the PTR name when that name resolves back to the address (smtpd_peername_lookup), looked
 * up before the greeting and bounded in time: a slow DNS makes the name "unknown", never a
 * stalled session. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/event.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfparams.h"
#include "ipc/server.h"
#include "mail/dns.h"
#include "smtpd.h"

/* The most a session waits for DNS before its greeting (PTR and forward check together). */
#define NAME_LOOKUP_MS 10000

pn_tls_server *smtpd_tls;
enum pn_tls_level smtpd_tls_level;

static void lookup_name(smtpd_session *s)
{
    pn_buf found = PN_BUF_INIT, why = PN_BUF_INIT;
    long limit = pn_config_get_time(PN_P(smtpd_timeout)) * 1000;
    long long deadline = pn_event_now_ms() + (limit < NAME_LOOKUP_MS ? limit : NAME_LOOKUP_MS);
    int rc = pn_dns_name_of(&s->inet, &found, (int)(deadline - pn_event_now_ms()));
    if (rc == PN_DNS_RETRY) {
        s->name_status = 4;
    } else if (rc == PN_DNS_OK) {
        pn_buf_set(&s->reverse_name, found.data);
        long long left = deadline - pn_event_now_ms();
        rc = left > 0 ? pn_dns_name_has(found.data, &s->inet, (int)left, &why) : PN_DNS_RETRY;
        if (rc == PN_DNS_OK) {
            pn_buf_set(&s->name, found.data);
            s->name_status = 0;
        } else {
            s->name_status = rc == PN_DNS_RETRY ? 4 : 5;
            if (why.len == 0)
                pn_buf_printf(&why, "hostname %s verification failed: %s", found.data,
                              "Temporary failure in name resolution");
            pn_warn("%s", why.data);
        }
    }
    pn_buf_release(&found);
    pn_buf_release(&why);
}

static void peer(int fd, smtpd_session *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char text[INET6_ADDRSTRLEN] = "unknown";
    int port = 0;
    memset(&s->inet, 0, sizeof(s->inet));
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            s->inet.family = AF_INET;
            memcpy(s->inet.bytes, &sin->sin_addr, 4);
            port = ntohs(sin->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            s->inet.family = AF_INET6;
            memcpy(s->inet.bytes, &sin6->sin6_addr, 16);
            port = ntohs(sin6->sin6_port);
            pn_inet_unmap(&s->inet);
        }
        if (s->inet.family)
            inet_ntop(s->inet.family, s->inet.bytes, text, sizeof(text));
    }
    pn_buf_set(&s->addr, text);
    pn_buf_reset(&s->port);
    pn_buf_printf(&s->port, "%d", port);
    pn_buf_set(&s->name, "unknown");
    pn_buf_set(&s->reverse_name, "unknown");
    s->name_status = 5;
    s->header_local = -1;
    if (s->inet.family && pn_config_get_bool(PN_P(smtpd_peername_lookup)))
        lookup_name(s);
    pn_buf_reset(&s->namaddr);
    pn_buf_printf(&s->namaddr, "%s[%s]", s->name.data, s->addr.data);
    if (pn_config_get_bool(PN_P(smtpd_client_port_logging)))
        pn_buf_printf(&s->namaddr, ":%d", port);
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    smtpd_session s;
    smtpd_session_init(&s);
    s.client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(s.client, (int)(pn_config_get_time(PN_P(smtpd_timeout)) * 1000));
    peer(fd, &s);
    smtpd_session_run(&s);
    pn_stream_flush(s.client);
    pn_stream_set_io(s.client, NULL, NULL);
    pn_tls_close(s.tls);
    pn_stream_release(s.client);
    smtpd_session_release(&s);
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    smtpd_restrict_init();
    smtpd_limits_init();
    smtpd_footer_init();
    smtpd_auth_init();                       /* Cyrus reads its configuration and plug-ins now */
    smtpd_tls = pn_tls_server_prepare();     /* key files may be root's */
    smtpd_tls_level = pn_tls_server_level(); /* asked for every command: looked up once */
    pn_buf why = PN_BUF_INIT;
    /* the resolver reads resolv.conf now, before the jail (client names, domain checks) */
    if (pn_dns_init(&why) < 0)
        pn_warn("%s: client names and domains will be unknown", why.data);
    pn_buf_release(&why);
}

static int must_retire(void *ctx)
{
    (void)ctx;
    return smtpd_restrict_changed() || smtpd_auth_changed();
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .pre_jail = pre_jail,
                               .must_retire = must_retire,
                               .max_use = -1,
                               .max_idle = -1,
                               .process_limit = -1};
    return pn_single_server_main(argc, argv, &server);
}
