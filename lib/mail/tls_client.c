/* tls_client.c: the client side of TLS for the smtp and lmtp agents. The CA file is read
 * before the chroot into one certificate store; a context is made per protocol and cipher
 * choice on first use and kept. Verification never stops a handshake (SSL_VERIFY_NONE): the
 * agent asks afterwards whether the chain was trusted and the name matched, because what
 * that means depends on the security level of the destination. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/mem.h"
#include "mail/tls_internal.h"

#define CONTEXTS 4 /* protocol and cipher choices kept: opportunistic and mandatory */

struct pn_tls_client {
    X509_STORE *store;
    pn_buf keys_and_certs; /* PEM: our own certificate, when configured */
    pn_buf key_only;
    struct {
        char *key; /* "protocols|grade|exclude" */
        SSL_CTX *ctx;
    } contexts[CONTEXTS];
};

pn_tls_client *pn_tls_client_prepare(const char *cafile, const char *capath,
                                     const char *chain_files, const char *cert, const char *key)
{
    pn_tls_client *c = pn_calloc(1, sizeof(*c));
    pn_buf_init(&c->keys_and_certs);
    pn_buf_init(&c->key_only);
    pn_tls_read_keys(chain_files, cert, key, "no client certificate", &c->keys_and_certs,
                     &c->key_only);
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
    c->store = X509_STORE_new();
    /* the file's certificates are read now, into the store (before the chroot) */
    if (*cafile && X509_STORE_load_file(c->store, cafile) != 1) {
        pn_warn("cannot load Certification Authority data, CAfile=\"%s\": disabling TLS support",
                cafile);
        ERR_clear_error();
    }
    if (*capath && X509_STORE_load_path(c->store, capath) != 1) {
        pn_warn("cannot load Certification Authority data, CApath=\"%s\"", capath);
        ERR_clear_error();
    }
    return c;
}

/* context: the one for these protocols and ciphers, made on first use; NULL (logged) when the
 * choice is unusable. */
static SSL_CTX *context(pn_tls_client *c, const char *protocols, const char *grade,
                        const char *exclude, pn_buf *why)
{
    pn_buf key = PN_BUF_INIT, ciphers = PN_BUF_INIT;
    pn_buf_printf(&key, "%s|%s|%s", protocols, grade, exclude);
    SSL_CTX *ctx = NULL;
    size_t free_slot = CONTEXTS;
    for (size_t i = 0; i < CONTEXTS && ctx == NULL; i++) {
        if (c->contexts[i].key && strcmp(c->contexts[i].key, key.data) == 0)
            ctx = c->contexts[i].ctx;
        else if (c->contexts[i].key == NULL && free_slot == CONTEXTS)
            free_slot = i;
    }
    if (ctx)
        goto out;
    int min = 0, max = 0;
    const char *bad = NULL;
    if (pn_tls_protocol_bounds(protocols, &min, &max, &bad) < 0 || min == 0) {
        pn_buf_printf(why, "bad or empty protocol list \"%s\"", protocols);
        goto out;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    pn_tls_cipher_list(grade, exclude, &ciphers);
    if (ctx == NULL || SSL_CTX_set_cipher_list(ctx, ciphers.data) != 1) {
        pn_tls_log_errors();
        pn_buf_printf(why, "invalid cipher list \"%s\"", ciphers.data);
        SSL_CTX_free(ctx);
        ctx = NULL;
        goto out;
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (c->keys_and_certs.len && !pn_tls_load_pem(ctx, &c->keys_and_certs, &c->key_only)) {
        pn_tls_log_errors();
        pn_warn("cannot load the client certificate and private key: none is sent");
    }
    pn_tls_cache_client_enable(ctx);
    SSL_CTX_set1_cert_store(ctx, c->store);
    if (free_slot < CONTEXTS) {
        c->contexts[free_slot].key = pn_strdup(key.data);
        c->contexts[free_slot].ctx = ctx;
    }
out:
    pn_buf_release(&key);
    pn_buf_release(&ciphers);
    return ctx;
}

/* use_dane: the TLSA records as the trust anchors of this connection; -1 when OpenSSL took
 * none of them. DANE-EE certificates are not checked for names (RFC 7672 3.1.1). */
static int use_dane(SSL_CTX *ctx, SSL *ssl, const pn_tls_dane *dane)
{
    if (SSL_CTX_dane_enable(ctx) <= 0 || SSL_dane_enable(ssl, dane->base) <= 0)
        return -1;
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    if (dane->nexthop && *dane->nexthop && strcasecmp(dane->nexthop, dane->base) != 0)
        SSL_add1_host(ssl, dane->nexthop);
    int usable = 0;
    for (int i = 0; i < dane->count; i++) {
        const pn_tlsa *r = &dane->records[i];
        if (SSL_dane_tlsa_add(ssl, r->usage, r->selector, r->mtype, r->data, r->len) > 0)
            usable++;
    }
    return usable ? 0 : -1;
}

pn_tls_session *pn_tls_connect(pn_tls_client *c, int fd, const char *protocols, const char *grade,
                               const char *exclude, const char *sni, const char *cache_id,
                               const pn_tls_dane *dane, int timeout_ms, pn_buf *why)
{
    SSL_CTX *ctx = context(c, protocols, grade, exclude, why);
    if (ctx == NULL)
        return NULL;
    pn_tls_session *t = pn_tls_session_new(ctx, fd);
    if (t == NULL || (sni && *sni && SSL_set_tlsext_host_name(t->ssl, sni) != 1)) {
        pn_buf_set(why, "cannot start a TLS session");
    } else if (dane && use_dane(ctx, t->ssl, dane) < 0) {
        pn_buf_set(why, "error enabling DANE-based certificate validation");
    } else {
        pn_tls_cache_client_use(t->ssl, cache_id);
        SSL_set_connect_state(t->ssl);
        if (pn_tls_handshake(t, timeout_ms, why) == 0)
            return t;
    }
    ERR_clear_error();
    pn_tls_session_free(t);
    return NULL;
}

int pn_tls_resumed(const pn_tls_session *t)
{
    return SSL_session_reused(t->ssl);
}
