/* tls_peer.c: what the other side's certificate is: trusted by our CAs, for which names,
 * its subject and issuer, its fingerprints. The smtp client and posttls-finger ask about a
 * server, smtpd about a client that presented a certificate (smtpd_tls_ask_ccert). */
#include <arpa/inet.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "mail/addr.h"
#include "mail/tls_internal.h"

int pn_tls_peer_present(const pn_tls_session *t)
{
    return SSL_get0_peer_certificate(t->ssl) != NULL;
}

int pn_tls_peer_trusted(const pn_tls_session *t, pn_buf *why)
{
    if (SSL_get0_peer_certificate(t->ssl) == NULL) {
        pn_buf_set(why, "no certificate");
        return 0;
    }
    long rc = SSL_get_verify_result(t->ssl);
    if (rc == X509_V_OK)
        return 1;
    pn_buf_set(why, X509_verify_cert_error_string(rc));
    return 0;
}

int pn_tls_dane_verified(const pn_tls_session *t, pn_buf *why)
{
    long rc = SSL_get_verify_result(t->ssl);
    if (rc == X509_V_OK && SSL_get0_dane_authority(t->ssl, NULL, NULL) >= 0)
        return 1;
    pn_buf_reset(why);
    if (rc == X509_V_OK)
        pn_buf_puts(why, "not trusted by local or TLSA policy");
    else
        pn_buf_printf(why, "num=%ld:%s", rc, X509_verify_cert_error_string(rc));
    return 0;
}

int pn_tls_peer_matches(const pn_tls_session *t, const char *name)
{
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (cert == NULL || *name == 0)
        return 0;
    unsigned char ip[16];
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
        return X509_check_ip_asc(cert, name, 0) == 1;
    return X509_check_host(cert, name, 0, 0, NULL) == 1;
}

/* common_name: the CN of name, or nothing when it holds a NUL or a control character: the
 * peer chose it, and it goes into Received headers, policy requests and logs, where a line
 * end would start something new. */
static void common_name(X509_NAME *name, pn_buf *out)
{
    char cn[256] = "";
    int len = name ? X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn)) : -1;
    if (len < 0)
        return;
    if (pn_addr_has_control(cn, (size_t)len)) {
        pn_warn("peer certificate has a malformed CommonName: ignored");
        return;
    }
    pn_buf_puts(out, cn);
}

void pn_tls_peer_names(const pn_tls_session *t, pn_buf *subject_cn, pn_buf *issuer_cn)
{
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (cert == NULL)
        return;
    common_name(X509_get_subject_name(cert), subject_cn);
    common_name(X509_get_issuer_name(cert), issuer_cn);
}

static void hex_colons(const unsigned char *md, unsigned len, pn_buf *out)
{
    for (unsigned i = 0; i < len; i++)
        pn_buf_printf(out, "%s%02X", i ? ":" : "", md[i]);
}

void pn_tls_peer_fingerprints(const pn_tls_session *t, const char *mdalg, pn_buf *cert_fp,
                              pn_buf *pkey_fp)
{
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    const EVP_MD *md = EVP_get_digestbyname(mdalg);
    if (cert == NULL || md == NULL)
        return;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (X509_digest(cert, md, digest, &len) == 1)
        hex_colons(digest, len, cert_fp);
    unsigned char *spki = NULL; /* the public key: the DER SubjectPublicKeyInfo */
    int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
    if (spki_len > 0 && EVP_Digest(spki, (size_t)spki_len, digest, &len, md, NULL) == 1)
        hex_colons(digest, len, pkey_fp);
    OPENSSL_free(spki);
}

void pn_tls_peer_summary(const pn_tls_session *t, const char *mdalg, pn_buf *out)
{
    if (SSL_get0_peer_certificate(t->ssl) == NULL)
        return;
    pn_buf cn = PN_BUF_INIT, issuer = PN_BUF_INIT, fp = PN_BUF_INIT, pkey = PN_BUF_INIT;
    pn_tls_peer_names(t, &cn, &issuer);
    pn_tls_peer_fingerprints(t, mdalg, &fp, &pkey);
    pn_buf_printf(out, "subject_CN=%s, issuer_CN=%s, fingerprint=%s, pkey_fingerprint=%s",
                  pn_buf_str(&cn), pn_buf_str(&issuer), pn_buf_str(&fp), pn_buf_str(&pkey));
    pn_buf_release(&cn);
    pn_buf_release(&issuer);
    pn_buf_release(&fp);
    pn_buf_release(&pkey);
}
