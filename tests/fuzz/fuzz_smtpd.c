/* fuzz_smtpd.c: a whole SMTP session of smtpd (smtpd/smtpd: the command parser, ESMTP
 * parameters and xtext, the address parser, the restriction engine, DATA and BDAT with their
 * line-end and chunk arithmetic, the pipelining checks) with the input as everything the
 * client sends. The session runs in this process on a socket pair, its addresses resolved
 * here; a stand-in for cleanup on public/cleanup takes every message and queues nothing. The
 * first byte of the input chooses the client (inside or outside mynetworks) and the
 * smtpd_forbid_bare_newline and smtpd_forbid_unauth_pipelining settings. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../../smtpd/smtpd/smtpd.h"
#include "base/codec.h"
#include "base/inet.h"
#include "base/sock.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "fuzz.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "mail/dns.h"
#include "mail/resolve.h"

/* smtpd's main.c is not linked: what it defines for the other parts (no TLS here) */
pn_tls_server *smtpd_tls;
enum pn_tls_level smtpd_tls_level;

static char top[64];

/* no DNS: every query fails at once */
static int no_answer(const char *name, int type, const unsigned char **abuf, int *alen, void *ctx)
{
    (void)name, (void)type, (void)abuf, (void)alen, (void)ctx;
    return -1;
}

static void reply(pn_stream *stream, int open)
{
    pn_attr_out out;
    pn_attr_begin(&out);
    pn_attr_put_int(&out, PN_ATTR_STATUS, 0);
    if (open)
        pn_attr_put_cstr(&out, PN_ATTR_QUEUE_ID, "4FuzzQ1d");
    pn_attr_write_frame(stream, &out);
    pn_attr_release(&out);
}

/* one_cleanup_client: the service's hello, then open requests, each followed by records up to
 * '.' or '!'. */
static void one_cleanup_client(int fd)
{
    pn_stream *stream = pn_stream_fdopen(fd);
    pn_buf frame = PN_BUF_INIT;
    pn_attr_out hello;
    pn_attr_begin(&hello);
    pn_attr_put_cstr(&hello, PN_ATTR_PROTO, "cleanup");
    pn_attr_put_int(&hello, PN_ATTR_VER, 1);
    pn_attr_put_int(&hello, PN_ATTR_GEN, 1);
    pn_attr_write_frame(stream, &hello);
    pn_attr_release(&hello);
    while (pn_attr_read_frame(stream, &frame) > 0) {
        reply(stream, 1);
        for (;;) {
            unsigned char head[5];
            size_t got = 0;
            while (got < 5) {
                ssize_t n = pn_stream_read(stream, head + got, 5 - got);
                if (n <= 0)
                    goto out;
                got += (size_t)n;
            }
            uint32_t len = pn_get_be32(head + 1);
            char skip[4096];
            while (len > 0) {
                ssize_t n = pn_stream_read(stream, skip, len < sizeof(skip) ? len : sizeof(skip));
                if (n <= 0)
                    goto out;
                len -= (uint32_t)n;
            }
            if (head[0] == '.' || head[0] == '!') {
                reply(stream, 0);
                break;
            }
        }
    }
out:
    pn_buf_release(&frame);
    pn_stream_close(stream);
}

static void *cleanup_service(void *arg)
{
    int listener = *(int *)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd >= 0)
            one_cleanup_client(fd);
    }
    return NULL;
}

struct client {
    int fd;
    const uint8_t *data;
    size_t size;
};

/* the client: sends everything, then reads (and drops) replies until smtpd is done */
static void *client(void *arg)
{
    struct client *c = arg;
    size_t done = 0;
    while (done < c->size) {
        ssize_t n = write(c->fd, c->data + done, c->size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    char sink[4096];
    while (read(c->fd, sink, sizeof(sink)) > 0)
        ;
    return NULL;
}

static void setup(void)
{
    snprintf(top, sizeof(top), "/tmp/pn-fuzz-smtpd-%d", (int)getpid());
    char path[128];
    mkdir(top, 0700);
    snprintf(path, sizeof(path), "%s/public", top);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/main.cf", top);
    FILE *fp = fopen(path, "w");
    fprintf(fp,
            "queue_directory = %s\n"
            "compatibility_level = 3.6\n"
            "myhostname = mx.example.com\nmydomain = example.com\n"
            "mydestination = localhost, $myhostname\nmynetworks = 127.0.0.0/8\n"
            "relay_domains = relay.example\n"
            "smtpd_helo_required = yes\n"
            "smtpd_helo_restrictions = reject_invalid_helo_hostname\n"
            "smtpd_sender_restrictions = reject_non_fqdn_sender\n"
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n"
            "smtpd_error_sleep_time = 0\nsmtpd_soft_error_limit = 10\n"
            "smtpd_hard_error_limit = 20\nsmtpd_timeout = 10s\n"
            "message_size_limit = 100000\n"
            "alias_maps =\nlocal_recipient_maps =\n",
            top);
    fclose(fp);
    pn_config_set_directory(top);
    pn_config_load();
    pn_dns_set_source(no_answer, NULL);
    pn_buf err = PN_BUF_INIT;
    static int listener;
    snprintf(path, sizeof(path), "%s/%s", top, PN_SVC_CLEANUP);
    listener = pn_sock_listen_unix(path, SOCK_STREAM, 16, &err);
    if (listener < 0)
        abort();
    pthread_t thread;
    pthread_create(&thread, NULL, cleanup_service, &listener);
    pthread_detach(thread);
    pn_resolver *resolver = pn_resolver_open(&err);
    if (resolver == NULL)
        abort();
    smtpd_restrict_init();
    smtpd_restrict_resolve_here(resolver);
    smtpd_limits_init();
    smtpd_footer_init();
    smtpd_auth_init();
    pn_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_smtpd");
    if (top[0] == 0)
        setup();
    if (size < 1 || size > 65536)
        return 0;
    static const char *const bare[] = {"no", "normalize", "reject"};
    pn_config_override(PN_P(smtpd_forbid_bare_newline), bare[(data[0] & 3) % 3]);
    pn_config_override(PN_P(smtpd_forbid_unauth_pipelining), data[0] & 4 ? "yes" : "no");
    int inside = (data[0] & 8) != 0;

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return 0;
    struct client c = {pair[1], data + 1, size - 1};
    pthread_t thread;
    pthread_create(&thread, NULL, client, &c);

    smtpd_session s;
    smtpd_session_init(&s);
    s.client = pn_stream_fdopen(pair[0]);
    pn_stream_set_timeout(s.client, 10000);
    const char *addr = inside ? "127.0.0.1" : "192.0.2.1";
    pn_cidr net;
    pn_buf why = PN_BUF_INIT;
    if (pn_cidr_parse(addr, &net, &why) == 0)
        s.inet = net.net;
    pn_buf_set(&s.addr, addr);
    pn_buf_set(&s.port, "25");
    pn_buf_set(&s.name, inside ? "localhost" : "unknown");
    pn_buf_set(&s.reverse_name, s.name.data);
    s.name_status = inside ? 0 : 5;
    s.header_local = -1;
    pn_buf_printf(&s.namaddr, "%s[%s]", s.name.data, addr);
    /* in the queue directory, as smtpd is, for as long as the session lasts: libFuzzer
     * reads its corpus by paths relative to where it was started */
    int back = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (back < 0 || chdir(top) < 0)
        abort();
    smtpd_session_run(&s);
    if (fchdir(back) < 0)
        abort();
    close(back);
    pn_stream_flush(s.client);
    pn_stream_close(s.client); /* the client's reader sees the end */
    pthread_join(thread, NULL);
    close(pair[1]);
    smtpd_session_release(&s);
    pn_buf_release(&why);
    return 0;
}
