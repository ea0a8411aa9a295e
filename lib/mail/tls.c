/* tls.c: the SMTP server's TLS with OpenSSL 3, and the session I/O both sides share. Files
 * are read as root before the chroot; the SSL_CTX is made from memory on first use. A session runs
 * on the connection's descriptor made non-blocking, so that every handshake, read and write keeps
 * the stream's deadline (poll between SSL calls), and a client that stops half-way costs a timeout,
 * never a hang. */
#include "mail/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/argv.h"
#include "base/event.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/tls_internal.h"

struct pn_tls_server {
    pn_buf keys_and_certs; /* PEM: the private key and the certificate chain */
    pn_buf key_only;       /* PEM: smtpd_tls_key_file, when it is another file */
    pn_buf dh;             /* PEM: smtpd_tls_dh1024_param_file */
    int broken;            /* files or context unusable: STARTTLS gets 454 */
    SSL_CTX *ctx;
    /* client certificates (smtpd_tls_ask_ccert): the CAs, read before the chroot */
    X509_STORE *client_cas;
    STACK_OF(X509_NAME) * client_ca_names;
};

/* pn_tls_log_errors: OpenSSL's queue, as the reference words it. */
void pn_tls_log_errors(void)
{
    unsigned long e;
    char text[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, text, sizeof(text));
        pn_warn("TLS library problem: %s", text);
    }
}

/* pn_tls_read_file: a whole (small) file; -1 when it cannot be read. */
int pn_tls_read_file(const char *path, pn_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char data[8192];
    ssize_t n;
    while ((n = read(fd, data, sizeof(data))) > 0)
        pn_buf_append(out, data, (size_t)n);
    close(fd);
    return n < 0 ? -1 : 0;
}

enum pn_tls_level pn_tls_server_level(void)
{
    const char *level = pn_config_get(PN_P(smtpd_tls_security_level));
    if (*level == 0)
        return pn_config_get_bool(PN_P(smtpd_enforce_tls)) ? PN_TLS_ENCRYPT
               : pn_config_get_bool(PN_P(smtpd_use_tls))   ? PN_TLS_MAY
                                                           : PN_TLS_NONE;
    return strcasecmp(level, "encrypt") == 0 ? PN_TLS_ENCRYPT
           : strcasecmp(level, "may") == 0   ? PN_TLS_MAY
                                             : PN_TLS_NONE;
}

int pn_tls_read_keys(const char *chain_files, const char *cert, const char *key,
                     const char *consequence, pn_buf *pem, pn_buf *key_pem)
{
    pn_argv *chain = pn_argv_split(chain_files, PN_SEPARATORS);
    int rc = 0;
    for (size_t i = 0; i < chain->len && rc == 0; i++)
        if ((rc = pn_tls_read_file(chain->items[i], pem)) < 0)
            pn_warn("cannot load certificate chain from file \"%s\": %s", chain->items[i],
                    consequence);
    if (chain->len == 0 && *cert) {
        if ((rc = pn_tls_read_file(cert, pem)) < 0)
            pn_warn("cannot get RSA certificate from file \"%s\": %s", cert, consequence);
        else if (*key && strcmp(key, cert) != 0 && (rc = pn_tls_read_file(key, key_pem)) < 0)
            pn_warn("cannot get RSA private key from file \"%s\": %s", key, consequence);
    }
    pn_argv_free(chain);
    if (rc < 0) {
        pn_buf_reset(pem);
        pn_buf_reset(key_pem);
    }
    return rc;
}

pn_tls_server *pn_tls_server_prepare(void)
{
    pn_tls_server *srv = pn_calloc(1, sizeof(*srv));
    pn_buf_init(&srv->keys_and_certs);
    pn_buf_init(&srv->key_only);
    pn_buf_init(&srv->dh);
    if (pn_tls_server_level() == PN_TLS_NONE && !pn_config_get_bool(PN_P(smtpd_tls_wrappermode)))
        return srv;
    /* OpenSSL's configuration file lies outside the chroot */
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
    const char *chain = pn_config_get(PN_P(smtpd_tls_chain_files));
    const char *cert = pn_config_get(PN_P(smtpd_tls_cert_file));
    if (pn_is_blank(chain) && *cert == 0) {
        pn_warn("no server certificate (smtpd_tls_cert_file or smtpd_tls_chain_files): "
                "disabling TLS support");
        srv->broken = 1;
    } else if (pn_tls_read_keys(chain, cert, pn_config_get(PN_P(smtpd_tls_key_file)),
                                "disabling TLS support", &srv->keys_and_certs,
                                &srv->key_only) < 0) {
        srv->broken = 1;
    }
    if (pn_config_get_bool(PN_P(smtpd_tls_ask_ccert)) ||
        pn_config_get_bool(PN_P(smtpd_tls_req_ccert))) {
        const char *cafile = pn_config_get(PN_P(smtpd_tls_CAfile));
        const char *capath = pn_config_get(PN_P(smtpd_tls_CApath));
        srv->client_cas = X509_STORE_new();
        if (*cafile && (X509_STORE_load_file(srv->client_cas, cafile) != 1 ||
                        (srv->client_ca_names = SSL_load_client_CA_file(cafile)) == NULL))
            pn_warn("cannot load Certification Authority data, CAfile=\"%s\": no client "
                    "certificate will be trusted",
                    cafile);
        if (*capath && X509_STORE_load_path(srv->client_cas, capath) != 1)
            pn_warn("cannot load Certification Authority data, CApath=\"%s\"", capath);
        ERR_clear_error();
    }
    const char *dh = pn_config_get(PN_P(smtpd_tls_dh1024_param_file));
    if (*dh && pn_tls_read_file(dh, &srv->dh) < 0)
        pn_warn("cannot load DH parameters from file \"%s\": using the built-in ones", dh);
    return srv;
}

/* pn_tls_protocol_bounds: the minimum and maximum version of a smtpd_tls_protocols value: the
 * reference's ">=TLSv1.2", "<=TLSv1.3" and the older "!SSLv3, !TLSv1" exclusions. 0, or -1
 * with the word that is not understood. */
static int version_of(const char *name)
{
    static const struct {
        const char *name;
        int version;
    } versions[] = {{"SSLv2", 0x0200},           {"SSLv3", SSL3_VERSION},
                    {"TLSv1", TLS1_VERSION},     {"TLSv1.1", TLS1_1_VERSION},
                    {"TLSv1.2", TLS1_2_VERSION}, {"TLSv1.3", TLS1_3_VERSION}};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
        if (strcasecmp(name, versions[i].name) == 0)
            return versions[i].version;
    return -1;
}

int pn_tls_protocol_bounds(const char *value, int *min, int *max, const char **bad)
{
    static const int order[] = {SSL3_VERSION, TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
                                TLS1_3_VERSION};
    int allowed[5] = {0, 1, 1, 1, 1}; /* SSLv3 never */
    pn_argv *words = pn_argv_split(value, " \t,:");
    int rc = 0;
    for (size_t i = 0; i < words->len && rc == 0; i++) {
        const char *w = words->items[i];
        int neg = w[0] == '!', ge = strncmp(w, ">=", 2) == 0, le = strncmp(w, "<=", 2) == 0;
        int v = version_of(w + (neg ? 1 : ge || le ? 2 : 0));
        if (v < 0) {
            *bad = w;
            rc = -1;
            break;
        }
        for (int k = 0; k < 5; k++) {
            if (neg && order[k] == v)
                allowed[k] = 0;
            if ((ge && order[k] < v) || (le && order[k] > v))
                allowed[k] = 0;
        }
        if (!neg && !ge && !le) /* a bare name: that one is allowed (the others stay) */
            for (int k = 0; k < 5; k++)
                allowed[k] |= order[k] == v && v != SSL3_VERSION;
    }
    *min = *max = 0;
    for (int k = 0; k < 5; k++) {
        if (!allowed[k])
            continue;
        if (*min == 0)
            *min = order[k];
        *max = order[k];
    }
    pn_argv_free(words);
    return rc;
}

/* pn_tls_cipher_list: the OpenSSL list of a grade (medium, high, low, export, null), less the
 * exclusions. */
void pn_tls_cipher_list(const char *grade, const char *exclude, pn_buf *out)
{
    const char *param = strcasecmp(grade, "high") == 0     ? PN_P(tls_high_cipherlist)
                        : strcasecmp(grade, "low") == 0    ? PN_P(tls_low_cipherlist)
                        : strcasecmp(grade, "export") == 0 ? PN_P(tls_export_cipherlist)
                        : strcasecmp(grade, "null") == 0   ? PN_P(tls_null_cipherlist)
                                                           : PN_P(tls_medium_cipherlist);
    pn_buf_set(out, pn_config_get(param));
    pn_argv *words = pn_argv_split(exclude, PN_SEPARATORS);
    for (size_t i = 0; i < words->len; i++)
        pn_buf_printf(out, ":!%s", words->items[i]);
    pn_argv_free(words);
}

int pn_tls_load_pem(SSL_CTX *ctx, const pn_buf *pem, const pn_buf *key_pem)
{
    BIO *bio = BIO_new_mem_buf(key_pem->len ? key_pem->data : pem->data,
                               (int)(key_pem->len ? key_pem->len : pem->len));
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    int ok = key != NULL && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    bio = BIO_new_mem_buf(pem->data, (int)pem->len);
    X509 *cert;
    int certs = 0;
    while (ok && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (certs++ == 0) {
            ok = SSL_CTX_use_certificate(ctx, cert) == 1;
            X509_free(cert);
        } else if (SSL_CTX_add0_chain_cert(ctx, cert) != 1) {
            X509_free(cert);
            ok = 0;
        }
    }
    BIO_free(bio);
    ERR_clear_error(); /* the end of the PEM data */
    return ok && certs > 0 && SSL_CTX_check_private_key(ctx) == 1;
}

/* accept_any: a client certificate never ends the handshake; what it is worth is asked
 * after it (pn_tls_peer_trusted), as the reference decides it per restriction. */
static int accept_any(int ok, X509_STORE_CTX *ctx)
{
    (void)ok, (void)ctx;
    return 1;
}

/* build: the context, once; 0 or -1 (logged, and the server is broken from now on). */
static int build(pn_tls_server *srv)
{
    if (srv->ctx)
        return 0;
    if (srv->broken)
        return -1;
    int encrypt = pn_tls_server_level() == PN_TLS_ENCRYPT;
    const char *protocols =
        pn_config_get(encrypt ? PN_P(smtpd_tls_mandatory_protocols) : PN_P(smtpd_tls_protocols));
    int min = 0, max = 0;
    const char *bad = NULL;
    pn_buf ciphers = PN_BUF_INIT;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto fail;
    if (pn_tls_protocol_bounds(protocols, &min, &max, &bad) < 0 || min == 0) {
        pn_warn("%s: bad or empty protocol list \"%s\"%s%s: disabling TLS support",
                encrypt ? PN_P(smtpd_tls_mandatory_protocols) : PN_P(smtpd_tls_protocols),
                protocols, bad ? " at " : "", bad ? bad : "");
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (pn_config_get_bool(PN_P(tls_preempt_cipherlist)))
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    pn_tls_cipher_list(
        pn_config_get(encrypt ? PN_P(smtpd_tls_mandatory_ciphers) : PN_P(smtpd_tls_ciphers)),
        pn_config_get(encrypt ? PN_P(smtpd_tls_mandatory_exclude_ciphers)
                              : PN_P(smtpd_tls_exclude_ciphers)),
        &ciphers);
    if (SSL_CTX_set_cipher_list(ctx, ciphers.data) != 1) {
        pn_warn("invalid cipher list \"%s\": disabling TLS support", ciphers.data);
        goto fail;
    }
    EVP_PKEY *dh = NULL;
    if (srv->dh.len) {
        BIO *bio = BIO_new_mem_buf(srv->dh.data, (int)srv->dh.len);
        dh = PEM_read_bio_Parameters(bio, NULL);
        BIO_free(bio);
    }
    if (dh == NULL || SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
        EVP_PKEY_free(dh);
        SSL_CTX_set_dh_auto(ctx, 1);
    }
    if (!pn_tls_load_pem(ctx, &srv->keys_and_certs, &srv->key_only)) {
        pn_warn("cannot load the server certificate and private key: disabling TLS support");
        goto fail;
    }
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"smtpd", 5);
    long lifetime = pn_config_get_time(PN_P(smtpd_tls_session_cache_timeout));
    if (lifetime > 0) { /* resumption with tickets that any smtpd process opens */
        SSL_CTX_set_timeout(ctx, lifetime);
        SSL_CTX_set_num_tickets(ctx, 1); /* TLS 1.3: one, as the reference issues (not 2) */
        pn_tls_tickets_enable(ctx);
        if (*pn_config_get(PN_P(smtpd_tls_session_cache_database)))
            pn_tls_cache_server_enable(ctx);
    } else {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1); /* as much as has arrived in one read(), not per record */
    if (srv->client_cas) {          /* ask for a certificate; the session says later what it was */
        SSL_CTX_set1_cert_store(ctx, srv->client_cas);
        if (srv->client_ca_names)
            SSL_CTX_set_client_CA_list(ctx, SSL_dup_CA_list(srv->client_ca_names));
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, accept_any);
        SSL_CTX_set_verify_depth(ctx, (int)pn_config_get_int(PN_P(smtpd_tls_ccert_verifydepth)));
    }
    srv->ctx = ctx;
    pn_buf_release(&ciphers);
    return 0;
fail:
    pn_tls_log_errors();
    SSL_CTX_free(ctx);
    srv->broken = 1;
    pn_buf_release(&ciphers);
    return -1;
}

int pn_tls_server_usable(pn_tls_server *srv)
{
    return build(srv) == 0;
}

/* wait_io: for what SSL wants, until the deadline (0: none); 0, or -1 with errno. */
static int wait_io(int fd, int ssl_error, long long deadline)
{
    struct pollfd pfd = {.fd = fd, .events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};
    for (;;) {
        int left = -1;
        if (deadline) {
            long long ms = deadline - pn_event_now_ms();
            if (ms <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            left = ms > INT_MAX ? INT_MAX : (int)ms;
        }
        int n = poll(&pfd, 1, left);
        if (n > 0)
            return 0;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

static long long deadline_of(int timeout_ms)
{
    return timeout_ms > 0 ? pn_event_now_ms() + timeout_ms : 0;
}

/* send_pending: what OpenSSL wrote into the session's memory BIO, to the peer, within the
 * deadline; 0, or -1 with errno (what was not sent is dropped: the connection is lost). */
static int send_pending(pn_tls_session *t, long long deadline)
{
    char *data;
    long left = BIO_get_mem_data(t->out, &data);
    int rc = 0;
    while (left > 0) {
        ssize_t n = send(t->fd, data, (size_t)left, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            left -= n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_io(t->fd, SSL_ERROR_WANT_WRITE, deadline) < 0) {
                rc = -1;
                break;
            }
        } else {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    (void)BIO_reset(t->out);
    errno = saved;
    return rc;
}

pn_tls_session *pn_tls_session_new(SSL_CTX *ctx, int fd)
{
    pn_tls_session *t = pn_calloc(1, sizeof(*t));
    t->fd = fd;
    t->ssl = SSL_new(ctx);
    BIO *in = BIO_new_socket(fd, BIO_NOCLOSE);
    t->out = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || in == NULL || t->out == NULL) {
        BIO_free(in);
        BIO_free(t->out);
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    BIO_up_ref(t->out); /* one reference is the SSL object's, one ours */
    SSL_set_bio(t->ssl, in, t->out);
    return t;
}

void pn_tls_session_free(pn_tls_session *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    BIO_free(t->out);
    free(t);
}

int pn_tls_handshake(pn_tls_session *t, int timeout_ms, pn_buf *why)
{
    int flags = fcntl(t->fd, F_GETFL);
    if (flags < 0 || fcntl(t->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        pn_buf_set(why, strerror(errno));
        return -1;
    }
    /* Nagle's algorithm would hold a reply back while the peer delays its ACK of the last
     * segment (40 ms); what is sent here is already whole (send_pending). Not TCP (a test's
     * socketpair): nothing to do. */
    int one = 1;
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    long long deadline = deadline_of(timeout_ms);
    for (;;) {
        ERR_clear_error();
        int rc = SSL_do_handshake(t->ssl);
        if (rc == 1)
            return 0; /* what is left to send goes with the first record */
        int err = SSL_get_error(t->ssl, rc);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            if (send_pending(t, deadline) == 0 && wait_io(t->fd, err, deadline) == 0)
                continue;
            pn_buf_set(why, errno == ETIMEDOUT ? "Connection timed out" : strerror(errno));
        } else if ((err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) &&
                   ERR_peek_error() == 0) {
            pn_buf_set(why, "lost connection");
        } else {
            char text[256];
            ERR_error_string_n(ERR_peek_error(), text, sizeof(text));
            pn_buf_set(why, text);
            send_pending(t, pn_event_now_ms()); /* the alert, if the socket takes it now */
        }
        ERR_clear_error();
        return -1;
    }
}

pn_tls_session *pn_tls_accept(pn_tls_server *srv, int fd, int timeout_ms, pn_buf *why)
{
    if (build(srv) < 0) {
        pn_buf_set(why, "TLS not available");
        return NULL;
    }
    pn_tls_session *t = pn_tls_session_new(srv->ctx, fd);
    if (t == NULL) {
        pn_buf_set(why, "cannot start a TLS session");
        return NULL;
    }
    SSL_set_accept_state(t->ssl);
    if (pn_tls_handshake(t, timeout_ms, why) == 0)
        return t;
    ERR_clear_error();
    pn_tls_session_free(t);
    return NULL;
}

static ssize_t tls_read(void *ctx, void *data, size_t len, int timeout_ms)
{
    pn_tls_session *t = ctx;
    long long deadline = deadline_of(timeout_ms);
    /* nothing inside OpenSSL yet: wait for the descriptor first, rather than try a read that
     * would only say EAGAIN (and send what the peer may be waiting for before) */
    if (!SSL_has_pending(t->ssl) &&
        (send_pending(t, deadline) < 0 || wait_io(t->fd, SSL_ERROR_WANT_READ, deadline) < 0))
        return -1;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_read(t->ssl, data, len > INT_MAX ? INT_MAX : (int)len);
        if (n > 0)
            return n;
        int err = SSL_get_error(t->ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN)
            return 0;
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            if (send_pending(t, deadline) < 0 || wait_io(t->fd, err, deadline) < 0)
                return -1;
            continue;
        }
        if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)
            return 0; /* the peer closed without close_notify: the end, as for plain text */
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

static ssize_t tls_write(void *ctx, const void *data, size_t len, int timeout_ms)
{
    pn_tls_session *t = ctx;
    long long deadline = deadline_of(timeout_ms);
    for (;;) {
        ERR_clear_error();
        int n = SSL_write(t->ssl, data, len > INT_MAX ? INT_MAX : (int)len);
        if (n > 0) {
            if (send_pending(t, deadline) < 0)
                return -1;
            return n;
        }
        int err = SSL_get_error(t->ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            if (send_pending(t, deadline) < 0 || wait_io(t->fd, err, deadline) < 0)
                return -1;
            continue;
        }
        ERR_clear_error();
        errno = EPIPE;
        return -1;
    }
}

static size_t tls_pending(void *ctx)
{
    pn_tls_session *t = ctx;
    int n = SSL_pending(t->ssl);
    /* read-ahead keeps records not yet opened: bytes too, that poll() would not report */
    return n > 0 ? (size_t)n : SSL_has_pending(t->ssl) ? 1 : 0;
}

void pn_tls_attach(pn_tls_session *t, pn_stream *stream)
{
    static const pn_stream_io io = {tls_read, tls_write, tls_pending};
    pn_stream_set_io(stream, &io, t);
}

const char *pn_tls_protocol(const pn_tls_session *t)
{
    return SSL_get_version(t->ssl);
}

/* group_name: "X25519", "P-256", as the reference names key exchange groups. */
static const char *group_name(EVP_PKEY *key, char *buf, size_t len)
{
    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, buf, len, NULL) == 1) {
        const char *nist = EC_curve_nid2nist(OBJ_txt2nid(buf));
        return nist ? nist : buf;
    }
    const char *name = EVP_PKEY_get0_type_name(key);
    return name ? name : "unknown";
}

/* signature: " server-signature RSA-PSS (2048 bits) server-digest SHA256" for one side. */
static void signature(pn_buf *out, const char *before, const char *side, EVP_PKEY *key,
                      int have_sig, int sig, int have_digest, int digest)
{
    if (key == NULL || !have_sig)
        return;
    const char *type = sig == NID_rsassaPss              ? "RSA-PSS"
                       : sig == NID_rsaEncryption        ? "RSA"
                       : sig == NID_X9_62_id_ecPublicKey ? "ECDSA"
                                                         : OBJ_nid2sn(sig);
    pn_buf_printf(out, "%s %s-signature %s (%d bits)", before, side, type, EVP_PKEY_get_bits(key));
    if (have_digest && digest != NID_undef)
        pn_buf_printf(out, " %s-digest %s", side, OBJ_nid2sn(digest));
}

void pn_tls_describe(const pn_tls_session *t, int fold, pn_buf *out)
{
    const SSL_CIPHER *cipher = SSL_get_current_cipher(t->ssl);
    int alg_bits = 0, bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
    pn_buf_printf(out, "%s with cipher %s (%d/%d bits)", SSL_get_version(t->ssl),
                  SSL_CIPHER_get_name(cipher), bits, alg_bits);
    if (SSL_version(t->ssl) < TLS1_3_VERSION)
        return;
    EVP_PKEY *kex = NULL;
    char group[64];
    if (SSL_get_tmp_key(t->ssl, &kex) == 1) {
        pn_buf_printf(out, "%skey-exchange %s", fold ? "\n\t " : " ",
                      group_name(kex, group, sizeof(group)));
        EVP_PKEY_free(kex);
    }
    /* the server's signature, then the client's when it had a certificate */
    int server = SSL_is_server(t->ssl);
    X509 *peer = SSL_get0_peer_certificate(t->ssl);
    EVP_PKEY *own = SSL_get_privatekey(t->ssl), *theirs = peer ? X509_get0_pubkey(peer) : NULL;
    int sig = NID_undef, digest = NID_undef;
    int own_sig = SSL_get_signature_type_nid(t->ssl, &sig) == 1;
    int own_digest = SSL_get_signature_nid(t->ssl, &digest) == 1;
    int peer_sig = NID_undef, peer_digest = NID_undef;
    int got_peer_sig = SSL_get_peer_signature_type_nid(t->ssl, &peer_sig) == 1;
    int got_peer_digest = SSL_get_peer_signature_nid(t->ssl, &peer_digest) == 1;
    if (server) {
        signature(out, "", "server", own, own_sig, sig, own_digest, digest);
        signature(out, fold ? "\n\t" : "", "client", theirs, got_peer_sig, peer_sig,
                  got_peer_digest, peer_digest);
    } else {
        signature(out, "", "server", theirs, got_peer_sig, peer_sig, got_peer_digest, peer_digest);
        signature(out, fold ? "\n\t" : "", "client", own, own_sig, sig, own_digest, digest);
    }
}

void pn_tls_close(pn_tls_session *t)
{
    if (t == NULL)
        return;
    ERR_clear_error();
    SSL_shutdown(t->ssl); /* our close_notify; the peer's is not waited for */
    ERR_clear_error();
    send_pending(t, pn_event_now_ms()); /* the close_notify, if the socket takes it now */
    pn_tls_session_free(t);
}
