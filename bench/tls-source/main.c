/* tls-source: the benchmark's SMTP load generator with STARTTLS (smtp-source has no TLS).
 *
 *   tls-source -s SESSIONS -m MESSAGES -l BYTES -f SENDER -t RCPT -M HELO HOST:PORT
 *
 * SESSIONS processes share MESSAGES; each message is one session: greeting, EHLO, STARTTLS
 * (ECDHE; the process offers the last session it was given, kept in its serialised form as
 * a client's session cache keeps it, so that resumption is what a busy client sees), EHLO, MAIL,
 * RCPT, DATA with BYTES of body, QUIT. Certificates are not verified. Any reply out of place is
 * fatal: exit status 1. At the end it prints how many handshakes resumed a session. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct conn {
    int fd;
    SSL *ssl;
    char in[4096];
    size_t have;
};

/* this process's last session, offered on the next connection: as a cache holds it, for an
 * SSL_SESSION object that has been used once is not offered again */
static unsigned char last_session[8192];
static int last_session_len;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tls-source: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int new_session(SSL *ssl, SSL_SESSION *session)
{
    (void)ssl;
    unsigned char *p = last_session;
    if (i2d_SSL_SESSION(session, NULL) <= (int)sizeof(last_session))
        last_session_len = i2d_SSL_SESSION(session, &p);
    return 0; /* the object stays OpenSSL's */
}

static void put(struct conn *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = c->ssl ? SSL_write(c->ssl, data, (int)len) : write(c->fd, data, len);
        if (n <= 0)
            die("write: %s", c->ssl ? "TLS error" : strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

/* reply: reads one reply (its last line) and checks its code's first digit. */
static void reply(struct conn *c, char want, const char *after)
{
    for (;;) {
        char *nl = memchr(c->in, '\n', c->have);
        if (nl) {
            size_t len = (size_t)(nl - c->in) + 1;
            int last = len >= 4 && c->in[3] != '-';
            char first = c->in[0];
            if (last && first != want)
                die("after %s: %.*s", after, (int)len, c->in);
            memmove(c->in, c->in + len, c->have - len);
            c->have -= len;
            if (last)
                return;
            continue;
        }
        if (c->have == sizeof(c->in))
            die("reply line too long after %s", after);
        ssize_t n = c->ssl ? SSL_read(c->ssl, c->in + c->have, (int)(sizeof(c->in) - c->have))
                           : read(c->fd, c->in + c->have, sizeof(c->in) - c->have);
        if (n <= 0)
            die("connection lost after %s", after);
        c->have += (size_t)n;
    }
}

/* command: one line in one write, as a client with a buffered stream sends it. */
static void command(struct conn *c, const char *line, char want)
{
    char text[1024];
    int len = snprintf(text, sizeof(text), "%s\r\n", line);
    if (len < 0 || len >= (int)sizeof(text))
        die("command too long: %s", line);
    put(c, text, (size_t)len);
    reply(c, want, line);
}

/* one_message: one session; returns 1 when its handshake resumed a session. */
static int one_message(SSL_CTX *ctx, const struct sockaddr_in *to, const char *helo,
                       const char *sender, const char *rcpt, const char *body)
{
    struct conn c = {.fd = socket(AF_INET, SOCK_STREAM, 0)};
    char line[600];
    int one = 1;
    if (c.fd < 0 || connect(c.fd, (const struct sockaddr *)to, sizeof(*to)) < 0)
        die("connect: %s", strerror(errno));
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    reply(&c, '2', "the greeting");
    snprintf(line, sizeof(line), "EHLO %s", helo);
    command(&c, line, '2');
    command(&c, "STARTTLS", '2');
    if (c.have)
        die("bytes after the STARTTLS reply");
    c.ssl = SSL_new(ctx);
    SSL_set_fd(c.ssl, c.fd);
    const unsigned char *der = last_session;
    SSL_SESSION *offer =
        last_session_len > 0 ? d2i_SSL_SESSION(NULL, &der, last_session_len) : NULL;
    if (offer) {
        SSL_set_session(c.ssl, offer);
        SSL_SESSION_free(offer);
    }
    if (SSL_connect(c.ssl) != 1)
        die("TLS handshake failed: %s", ERR_error_string(ERR_get_error(), NULL));
    int resumed = SSL_session_reused(c.ssl);
    command(&c, line, '2');
    snprintf(line, sizeof(line), "MAIL FROM:<%s>", sender);
    command(&c, line, '2');
    snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpt);
    command(&c, line, '2');
    command(&c, "DATA", '3');
    put(&c, body, strlen(body)); /* the body ends with ".\r\n" */
    reply(&c, '2', "end of data");
    command(&c, "QUIT", '2');
    SSL_shutdown(c.ssl);
    SSL_free(c.ssl);
    close(c.fd);
    return resumed;
}

static char *make_body(long size)
{
    char *body = malloc((size_t)size + 128);
    if (body == NULL)
        die("out of memory");
    int n = snprintf(body, 128, "Subject: bench\r\n\r\n");
    while (n < size) {
        memset(body + n, 'x', 78);
        memcpy(body + n + 78, "\r\n", 2);
        n += 80;
    }
    memcpy(body + n, ".\r\n", 4); /* the end of the data, and of the string */
    return body;
}

int main(int argc, char **argv)
{
    long sessions = 1, messages = 1, size = 4096;
    const char *sender = "sender@example.com", *rcpt = "user@example.com", *helo = "localhost";
    int opt;
    while ((opt = getopt(argc, argv, "s:m:l:f:t:M:")) != -1) {
        switch (opt) {
        case 's': sessions = atol(optarg); break;
        case 'm': messages = atol(optarg); break;
        case 'l': size = atol(optarg); break;
        case 'f': sender = optarg; break;
        case 't': rcpt = optarg; break;
        case 'M': helo = optarg; break;
        default: die("usage: tls-source -s N -m N -l N -f from -t to -M helo host:port");
        }
    }
    if (optind + 1 != argc || sessions < 1 || messages < 0 || size < 0)
        die("usage: tls-source -s N -m N -l N -f from -t to -M helo host:port");
    struct sockaddr_in to = {.sin_family = AF_INET};
    char host[64];
    const char *colon = strrchr(argv[optind], ':');
    if (colon == NULL || (size_t)(colon - argv[optind]) >= sizeof(host))
        die("bad address: %s", argv[optind]);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - argv[optind]), argv[optind]);
    to.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1)
        die("bad address: %s", argv[optind]);
    char *body = make_body(size);

    atomic_long *left =
        mmap(NULL, 2 * sizeof(*left), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (left == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    atomic_long *resumed = left + 1;
    atomic_init(left, messages);
    atomic_init(resumed, 0);
    for (long i = 0; i < sessions; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid > 0)
            continue;
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(ctx, new_session);
        while (atomic_fetch_sub(left, 1) > 0)
            atomic_fetch_add(resumed, one_message(ctx, &to, helo, sender, rcpt, body));
        _exit(0);
    }
    int failed = 0, status;
    while (wait(&status) > 0)
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    free(body);
    printf("tls-source: %ld of %ld handshakes resumed a session\n", atomic_load(resumed), messages);
    return failed;
}
