/* main.c: posttls-finger, the sysadmin's probe of a server's TLS: connect, EHLO, STARTTLS (or
 * TLS at once with -w, as for port 465), the certificate's names and fingerprints, the
 * connection's trust as the smtp client would judge it at the given level, then EHLO and
 * QUIT. Output on standard error, as the reference's:
 *   posttls-finger [-cw] [-l level] [-F CAfile] [-P CApath] [-p protocols] [-g grade]
 *                  [-d mdalg] [-s servername] [-H helo] [-t timeout] destination [match ...]
 * (the configuration directory is $MAIL_CONFIG's, else the default)
 * destination: "[host]:port" or "[address]" (no MX lookup), or "domain[:port]" (its best MX
 * host, or the domain itself). Levels: none, may, encrypt, verify, secure (the default; match
 * names, else "nexthop" and ".nexthop" of the destination). What the level asks is reported,
 * and the conversation goes on either way, as the reference's does; the exit status is 1
 * only when it could not be had (no connection, a broken conversation or handshake). */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/sock.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "mail/dns.h"
#include "mail/tls.h"

static int chat_log = 1;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("posttls-finger: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(void)
{
    say("usage: posttls-finger [-cw] [-l level] [-F CAfile] [-P CApath] [-p protocols] "
        "[-g grade] [-d mdalg] [-s servername] [-H helo] [-t timeout] destination [match ...]");
    exit(1);
}

/* reply: one whole reply, logged line by line; its code, or -1. */
static int reply(pn_stream *s, unsigned *features)
{
    pn_buf line = PN_BUF_INIT;
    int code = -1;
    for (int lines = 0; lines < 1000; lines++) {
        int rc = pn_stream_get_line(s, &line, 4096);
        if (rc != PN_LINE_OK && rc != PN_LINE_LAST)
            break;
        if (line.len && line.data[line.len - 1] == '\r')
            pn_buf_truncate(&line, line.len - 1);
        if (chat_log)
            say("< %s", line.data);
        if (features && line.len > 4 && strncasecmp(line.data + 4, "STARTTLS", 8) == 0)
            *features |= 1;
        if (line.len < 4 || line.data[3] != '-') {
            code = atoi(line.data);
            break;
        }
    }
    pn_buf_release(&line);
    return code;
}

static int command(pn_stream *s, unsigned *features, const char *text)
{
    if (chat_log)
        say("> %s", text);
    if (pn_stream_printf(s, "%s\r\n", text) < 0 || pn_stream_flush(s) < 0)
        return -1;
    return reply(s, features);
}

/* target: the host to connect to, and the port; 0, or -1. */
static int target(const char *dest, char *host, size_t host_len, char *port, size_t port_len,
                  char *nexthop, size_t nexthop_len)
{
    snprintf(port, port_len, "25");
    if (dest[0] == '[') {
        const char *end = strchr(dest, ']');
        if (end == NULL)
            return -1;
        snprintf(host, host_len, "%.*s", (int)(end - dest - 1), dest + 1);
        if (end[1] == ':')
            snprintf(port, port_len, "%s", end + 2);
        snprintf(nexthop, nexthop_len, "%s", host);
        return 0;
    }
    snprintf(nexthop, nexthop_len, "%.*s", (int)strcspn(dest, ":"), dest);
    if (strchr(dest, ':'))
        snprintf(port, port_len, "%s", strchr(dest, ':') + 1);
    snprintf(host, host_len, "%s", nexthop);
    pn_buf why = PN_BUF_INIT;
    pn_mx *mx = NULL;
    int count = 0, null_mx = 0;
    if (pn_dns_init(&why) == 0 && pn_dns_mx(nexthop, &mx, &count, &null_mx, NULL, &why) == PN_DNS_OK &&
        count > 0)
        snprintf(host, host_len, "%s", mx[0].host);
    free(mx);
    pn_buf_release(&why);
    return 0;
}

/* connect_to: the first address of host that answers; the descriptor, or -1 (said). */
static int connect_to(const char *host, const char *port, int timeout, char *addr, size_t len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        say("Destination address lookup failed: %s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        pn_sock_send_timeout(fd, timeout * 1000);
        getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            say("connect to %s[%s]:%s: %m", host, addr, port);
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

int main(int argc, char **argv)
{
    const char *level = "secure", *cafile = "", *capath = "", *protocols = ">=TLSv1";
    const char *grade = "medium", *mdalg = NULL, *servername = NULL, *helo = NULL;
    int ch, wrapper = 0, timeout = 30;
    pn_log_init("posttls-finger", PN_LOG_STDERR);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "cd:F:g:H:l:p:P:s:t:w")) != -1) {
        switch (ch) {
        case 'c': chat_log = 0; break;
        case 'd': mdalg = optarg; break;
        case 'F': cafile = optarg; break;
        case 'g': grade = optarg; break;
        case 'H': helo = optarg; break;
        case 'l': level = optarg; break;
        case 'p': protocols = optarg; break;
        case 'P': capath = optarg; break;
        case 's': servername = optarg; break;
        case 't': timeout = atoi(optarg) > 0 ? atoi(optarg) : 30; break;
        case 'w': wrapper = 1; break;
        default: usage();
        }
    }
    if (optind >= argc)
        usage();
    pn_config_load();
    if (mdalg == NULL)
        mdalg = "sha256"; /* the reference's default since compatibility level 3.6 */
    if (helo == NULL)
        helo = pn_config_get_hostname(PN_P(myhostname));
    static const char *const levels[] = {"none", "may", "encrypt", "verify", "secure"};
    int lvl = -1;
    for (int i = 0; i < 5; i++)
        if (strcasecmp(level, levels[i]) == 0)
            lvl = i;
    if (lvl < 0) {
        say("unsupported TLS security level: %s", level);
        return 1;
    }
    char host[256], port[32], nexthop[256], addr[64] = "";
    if (target(argv[optind], host, sizeof(host), port, sizeof(port), nexthop, sizeof(nexthop)) < 0)
        usage();
    pn_tls_client *client = lvl ? pn_tls_client_prepare(cafile, capath, "", "", "") : NULL;
    int fd = connect_to(host, port, timeout, addr, sizeof(addr));
    if (fd < 0)
        return 1;
    char relay[400];
    snprintf(relay, sizeof(relay), "%s[%s]:%s", host, addr, port);
    if (chat_log)
        say("Connected to %s", relay);
    pn_stream *s = pn_stream_fdopen(fd);
    pn_stream_set_timeout(s, timeout * 1000);
    pn_tls_session *tls = NULL;
    unsigned features = 0;
    pn_buf ehlo = PN_BUF_INIT, why = PN_BUF_INIT, text = PN_BUF_INIT;
    pn_buf_printf(&ehlo, "EHLO %s", helo);
    int ok = 1, code;
    int mandatory = lvl >= 2;
    if (!wrapper) {
        if (reply(s, NULL) != 220 || command(s, &features, ehlo.data) != 250) {
            ok = 0;
            goto quit;
        }
        if (lvl == 0 || (!(features & 1) && !mandatory))
            goto quit;
        if (!(features & 1)) {
            say("TLS is required, but was not offered by host %s[%s]", host, addr);
            ok = 0;
            goto quit;
        }
        if ((code = command(s, NULL, "STARTTLS")) != 220) {
            ok = !mandatory;
            goto quit;
        }
    }
    const char *sni = servername ? servername : lvl >= 3 ? nexthop : NULL;
    tls = pn_tls_connect(client, fd, protocols, grade, "", sni, NULL, NULL, timeout * 1000, &why);
    if (tls == NULL) {
        say("SSL_connect error to %s: %s", relay, why.data);
        ok = 0;
        goto out;
    }
    pn_tls_attach(tls, s);
    pn_buf reason = PN_BUF_INIT;
    int trusted = pn_tls_peer_trusted(tls, &reason), matched = 0;
    if (lvl >= 3 && !trusted)
        say("certificate verification failed for %s: %s", relay, reason.data);
    pn_buf_release(&reason);
    if (lvl >= 3 && trusted) {
        pn_argv *names = pn_argv_new();
        for (int i = optind + 1; i < argc; i++)
            pn_argv_add(names, argv[i]);
        if (names->len == 0) {
            pn_argv_add(names, lvl == 3 ? host : nexthop);
            if (lvl == 4) {
                pn_buf dot = PN_BUF_INIT;
                pn_buf_printf(&dot, ".%s", nexthop);
                pn_argv_add(names, dot.data);
                pn_buf_release(&dot);
            }
        }
        for (size_t i = 0; i < names->len && !matched; i++)
            matched = pn_tls_peer_matches(tls, names->items[i]);
        if (!matched)
            say("server certificate verification failed for %s: num=62:hostname mismatch", relay);
        pn_argv_free(names);
    }
    pn_tls_peer_summary(tls, mdalg, &text);
    say("%s: %s", relay, text.data);
    pn_buf_reset(&text);
    pn_tls_describe(tls, 0, &text);
    const char *kind =
        lvl >= 3 ? (matched ? "Verified" : "Untrusted") : (trusted ? "Trusted" : "Untrusted");
    say("%s TLS connection established to %s: %s", kind, relay, text.data);
    if (wrapper && reply(s, NULL) != 220) {
        ok = 0;
        goto out;
    }
    if (command(s, NULL, ehlo.data) != 250)
        ok = 0;
quit:
    command(s, NULL, "QUIT");
out:
    pn_stream_flush(s);
    pn_stream_set_io(s, NULL, NULL);
    pn_tls_close(tls);
    pn_stream_close(s);
    pn_buf_release(&ehlo);
    pn_buf_release(&why);
    pn_buf_release(&text);
    return ok ? 0 : 1;
}
