/* tls_internal.h: what the server (tls.c) and the client (tls_client.c) halves of the TLS
 * code share: the session, the handshake loop, and the reading of the configuration. */
#ifndef PN_MAIL_TLS_INTERNAL_H
#define PN_MAIL_TLS_INTERNAL_H
#include <openssl/ssl.h>

#include "base/buf.h"
#include "ipc/attr.h"
#include "mail/tls.h"

/* A session reads from its descriptor and writes into `out`, a memory BIO: what OpenSSL
 * writes (handshake flights, session tickets, records) goes to the peer in one send when
 * the stream flushes, before the session waits for the peer, and at the close. So the
 * tickets after a handshake share a segment with the first reply, and the client's Finished
 * with its EHLO. */
struct pn_tls_session {
    SSL *ssl;
    int fd;
    BIO *out;
};

/* pn_tls_session_new: a session on fd, its side not yet set; NULL when OpenSSL has no
 * memory. */
pn_tls_session *pn_tls_session_new(SSL_CTX *ctx, int fd);
/* pn_tls_session_free: the SSL object and the session, nothing sent. */
void pn_tls_session_free(pn_tls_session *t);

/* pn_tls_log_errors: OpenSSL's error queue as warnings, emptied. */
void pn_tls_log_errors(void);
/* pn_tls_read_file: a whole (small) file appended to out; -1 when it cannot be read. */
int pn_tls_read_file(const char *path, pn_buf *out);
/* pn_tls_read_keys: chain_files (each a key and its certificates), else the cert file and
 * the key file (when it is another one), appended to pem and key_pem; -1 with a warning that
 * ends in consequence ("disabling TLS support") when one cannot be read. */
int pn_tls_read_keys(const char *chain_files, const char *cert, const char *key,
                     const char *consequence, pn_buf *pem, pn_buf *key_pem);
/* pn_tls_protocol_bounds: the lowest and highest version a protocols value (">=TLSv1.2",
 * "!SSLv3, !TLSv1") allows; -1 with the word not understood in bad. */
int pn_tls_protocol_bounds(const char *value, int *min, int *max, const char **bad);
/* pn_tls_cipher_list: the OpenSSL cipher list of a grade, less the exclusions. */
void pn_tls_cipher_list(const char *grade, const char *exclude, pn_buf *out);
/* pn_tls_load_pem: the private key (from key_pem when it is not empty, else from pem) and
 * the certificates of pem (leaf first, then its chain) into ctx; 1, or 0 when they do not
 * load or do not match. */
int pn_tls_load_pem(SSL_CTX *ctx, const pn_buf *pem, const pn_buf *key_pem);
/* pn_tls_handshake: the handshake of a session whose side is set, on its descriptor made
 * non-blocking, within timeout_ms; 0, or -1 with why. */
int pn_tls_handshake(pn_tls_session *t, int timeout_ms, pn_buf *why);
/* pn_tls_tickets_enable: session tickets under keys shared through tlsmgr
 * (tls_tickets.c). */
void pn_tls_tickets_enable(SSL_CTX *ctx);

/* tls_cache.c */
/* pn_tls_mgr_call: a request to tlsmgr on the process's one connection; 0, or -1 (warned
 * once; tlsmgr is not asked again for a minute). */
int pn_tls_mgr_call(pn_attr_out *req, pn_buf *storage, pn_attrs *reply);
/* pn_tls_cache_server_enable: smtpd's sessions by session ID in tlsmgr's "smtpd" cache. */
void pn_tls_cache_server_enable(SSL_CTX *ctx);
/* pn_tls_cache_client_enable: the client context stores new sessions in the "smtp" cache
 * under the id pn_tls_cache_client_use gave the connection. */
void pn_tls_cache_client_enable(SSL_CTX *ctx);
/* pn_tls_cache_client_use: the cached session for id (the server) is offered. */
void pn_tls_cache_client_use(SSL *ssl, const char *id);

#endif
