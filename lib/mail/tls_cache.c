/* tls_cache.c: the TLS session caches kept by tlsmgr (smtpd_tls_session_cache_database,
 * smtp_tls_session_cache_database), and the one connection to tlsmgr a process has (the
 * ticket keys of tls_tickets.c come over it too). A server session is found by its session
 * ID, for clients that resume without tickets; a client session by the server it was made
 * with, so that the smtp client resumes with any smtp process. When tlsmgr cannot be reached
 * a process warns once, and asks again a minute later; nothing fails for it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "base/log.h"
#include "base/mem.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"
#include "mail/tls_internal.h"

#define RETRY_SECONDS 60 /* after tlsmgr failed to answer */
#define SESSION_LIMIT 8192

static pn_ipc_client *tlsmgr;
static time_t tlsmgr_down_until;

int pn_tls_mgr_call(pn_attr_out *req, pn_buf *storage, pn_attrs *reply)
{
    time_t now = time(NULL);
    if (now < tlsmgr_down_until)
        return -1;
    if (tlsmgr == NULL)
        tlsmgr = pn_ipc_client_new(PN_SVC_TLSMGR, PN_PROTO_TLSMGR);
    pn_buf why = PN_BUF_INIT;
    int rc = pn_ipc_call(tlsmgr, req, storage, reply, &why);
    if (rc < 0) {
        static int warned;
        if (!warned++)
            pn_warn("%s: %s: TLS sessions are resumed within this process only", PN_SVC_TLSMGR,
                    why.data);
        tlsmgr_down_until = now + RETRY_SECONDS;
    }
    pn_buf_release(&why);
    return rc;
}

static SSL_SESSION *lookup(const char *cache, const unsigned char *id, size_t len)
{
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_REQ, PN_REQ_LOOKUP);
    pn_attr_put_cstr(&req, PN_ATTR_CACHE, cache);
    pn_attr_put_str(&req, PN_ATTR_ID, id, len);
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = -1;
    const char *der = NULL;
    size_t der_len = 0;
    SSL_SESSION *session = NULL;
    if (pn_tls_mgr_call(&req, &storage, &reply) == 0 &&
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status) == 1 && status == 0 &&
        pn_attr_get_str(&reply, PN_ATTR_SESSION, &der, &der_len) == 1) {
        const unsigned char *p = (const unsigned char *)der;
        session = d2i_SSL_SESSION(NULL, &p, (long)der_len);
    }
    pn_attr_release(&req);
    pn_buf_release(&storage);
    return session;
}

static void store(const char *cache, const unsigned char *id, size_t len, SSL_SESSION *session)
{
    int der_len = i2d_SSL_SESSION(session, NULL);
    if (der_len <= 0 || der_len > SESSION_LIMIT)
        return;
    unsigned char *der = pn_malloc((size_t)der_len), *p = der;
    i2d_SSL_SESSION(session, &p);
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_REQ, PN_REQ_UPDATE);
    pn_attr_put_cstr(&req, PN_ATTR_CACHE, cache);
    pn_attr_put_str(&req, PN_ATTR_ID, id, len);
    pn_attr_put_str(&req, PN_ATTR_SESSION, der, (size_t)der_len);
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    pn_tls_mgr_call(&req, &storage, &reply);
    pn_attr_release(&req);
    pn_buf_release(&storage);
    free(der);
}

static int server_new(SSL *ssl, SSL_SESSION *session)
{
    (void)ssl;
    unsigned len = 0;
    const unsigned char *id = SSL_SESSION_get_id(session, &len);
    if (len)
        store("smtpd", id, len, session);
    return 0; /* OpenSSL keeps its reference */
}

static SSL_SESSION *server_get(SSL *ssl, const unsigned char *id, int len, int *copy)
{
    (void)ssl;
    *copy = 0;
    return len > 0 ? lookup("smtpd", id, (size_t)len) : NULL;
}

void pn_tls_cache_server_enable(SSL_CTX *ctx)
{
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_new_cb(ctx, server_new);
    SSL_CTX_sess_set_get_cb(ctx, server_get);
}

/* The client: the cache key is kept with the SSL object (a copy, freed with it). */
static int client_index = -1;

static void free_id(void *parent, void *id, CRYPTO_EX_DATA *data, int index, long argl, void *argp)
{
    (void)parent, (void)data, (void)index, (void)argl, (void)argp;
    free(id);
}

/* client_cache: the lmtp client's sessions have a cache of their own ("lmtp&..." ids) */
static const char *client_cache(const char *id)
{
    return strncmp(id, "lmtp&", 5) == 0 ? "lmtp" : "smtp";
}

static int client_new(SSL *ssl, SSL_SESSION *session)
{
    const char *id = SSL_get_ex_data(ssl, client_index);
    if (id && SSL_SESSION_is_resumable(session))
        store(client_cache(id), (const unsigned char *)id, strlen(id), session);
    return 0;
}

void pn_tls_cache_client_enable(SSL_CTX *ctx)
{
    if (client_index < 0)
        client_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_id);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, client_new);
}

void pn_tls_cache_client_use(SSL *ssl, const char *id)
{
    if (id == NULL || client_index < 0)
        return;
    SSL_set_ex_data(ssl, client_index, pn_strdup(id));
    SSL_SESSION *session = lookup(client_cache(id), (const unsigned char *)id, strlen(id));
    if (session) {
        SSL_set_session(ssl, session);
        SSL_SESSION_free(session);
    }
}
