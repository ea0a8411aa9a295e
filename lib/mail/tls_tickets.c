/* tls_tickets.c: session tickets (RFC 5077, and TLS 1.3's) with keys shared by every smtpd
 * process: they come from tlsmgr (private/tlsmgr), so a ticket issued by one process is
 * taken by any other, and are rotated there every smtpd_tls_session_cache_timeout. A process
 * asks once per key; when tlsmgr cannot be reached (no tlsmgr line in master.cf) it warns
 * once and uses a key of its own, as before: resumption then works within the process. */
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "mail/tls_internal.h"

#define NAME_LEN 16
#define KEYS 4

struct ticket_key {
    unsigned char name[NAME_LEN], aes[32], hmac[32];
    time_t expires; /* encrypts until then; decrypts for as long again */
};

static struct ticket_key keys[KEYS]; /* keys[0]: the newest from tlsmgr */
static struct ticket_key own;        /* when tlsmgr is not there */

static long lifetime(void)
{
    long t = pn_config_get_time(PN_P(smtpd_tls_session_cache_timeout));
    return t > 0 ? t : 3600;
}

/* ask: tlsmgr's current key (name NULL) or the named one; 0, or -1. */
static int ask(const unsigned char *name, struct ticket_key *out)
{
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_REQ, PN_REQ_TKTKEY);
    if (name)
        pn_attr_put_str(&req, PN_ATTR_KEYNAME, name, NAME_LEN);
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = -1, expires = 0;
    const char *key = NULL;
    size_t len = 0;
    int rc = -1;
    if (pn_tls_mgr_call(&req, &storage, &reply) == 0 &&
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status) == 1 && status == 0 &&
        pn_attr_get_str(&reply, PN_ATTR_KEY, &key, &len) == 1 && len == NAME_LEN + 64 &&
        pn_attr_get_int(&reply, PN_ATTR_EXPIRES, &expires) == 1) {
        memcpy(out->name, key, NAME_LEN);
        memcpy(out->aes, key + NAME_LEN, 32);
        memcpy(out->hmac, key + NAME_LEN + 32, 32);
        out->expires = (time_t)expires;
        rc = 0;
    }
    pn_attr_release(&req);
    pn_buf_release(&storage);
    return rc;
}

static void remember(const struct ticket_key *k)
{
    memmove(&keys[1], &keys[0], sizeof(keys[0]) * (KEYS - 1));
    keys[0] = *k;
}

static const struct ticket_key *own_key(void)
{
    if (own.expires == 0 && (RAND_bytes(own.name, NAME_LEN) != 1 || RAND_bytes(own.aes, 32) != 1 ||
                             RAND_bytes(own.hmac, 32) != 1))
        return NULL;
    own.expires = (time_t)1 << 62; /* lives as long as the process */
    return &own;
}

static const struct ticket_key *for_encryption(void)
{
    time_t now = time(NULL);
    if (keys[0].expires > now)
        return &keys[0];
    struct ticket_key k;
    if (ask(NULL, &k) == 0 && k.expires > now) {
        remember(&k);
        return &keys[0];
    }
    return own_key();
}

static const struct ticket_key *for_decryption(const unsigned char *name)
{
    time_t now = time(NULL);
    for (int i = 0; i < KEYS; i++)
        if (keys[i].expires && memcmp(keys[i].name, name, NAME_LEN) == 0)
            return keys[i].expires + lifetime() > now ? &keys[i] : NULL;
    if (own.expires && memcmp(own.name, name, NAME_LEN) == 0)
        return &own;
    struct ticket_key k;
    if (ask(name, &k) == 0 && memcmp(k.name, name, NAME_LEN) == 0) {
        remember(&k);
        return &keys[0];
    }
    return NULL;
}

static int set_keys(const struct ticket_key *k, EVP_MAC_CTX *hmac)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(hmac, params) == 1 ? 0 : -1;
}

/* AES-256-CBC, fetched once when tickets are enabled: the static EVP_aes_256_cbc() would be
 * looked up by name in the provider tables at every handshake. */
static EVP_CIPHER *ticket_aes;

/* ticket_key_cb: OpenSSL's hook; enc: a new ticket (name and IV out), else one to open. */
static int ticket_key_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cipher,
                         EVP_MAC_CTX *hmac, int enc)
{
    (void)ssl;
    if (enc) {
        const struct ticket_key *k = for_encryption();
        if (k == NULL || ticket_aes == NULL ||
            RAND_bytes(iv, EVP_CIPHER_get_iv_length(ticket_aes)) != 1)
            return -1;
        memcpy(name, k->name, NAME_LEN);
        if (set_keys(k, hmac) < 0 || EVP_EncryptInit_ex(cipher, ticket_aes, NULL, k->aes, iv) != 1)
            return -1;
        return 1;
    }
    const struct ticket_key *k = for_decryption(name);
    if (k == NULL)
        return 0; /* unknown or expired: a full handshake */
    if (ticket_aes == NULL || set_keys(k, hmac) < 0 ||
        EVP_DecryptInit_ex(cipher, ticket_aes, NULL, k->aes, iv) != 1)
        return -1;
    return k->expires > time(NULL) ? 1 : 2; /* 2: accepted, and a new ticket is issued */
}

void pn_tls_tickets_enable(SSL_CTX *ctx)
{
    if (ticket_aes == NULL)
        ticket_aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
}
