/* tls.h: TLS for the SMTP server and client with OpenSSL 3 (doc/tls.md). The certificate, key and
 * DH files are read before the chroot, into memory; the context is built from them on the first
 * STARTTLS or wrapper-mode connection, so that sessions without TLS never pay for it. A
 * session sits under the connection's stream (pn_stream_set_io), so that the SMTP code reads
 * and writes as it always does. */
#ifndef PN_MAIL_TLS_H
#define PN_MAIL_TLS_H
#include "base/buf.h"
#include "mail/dns.h"
#include "base/stream.h"

typedef struct pn_tls_server pn_tls_server;
typedef struct pn_tls_session pn_tls_session;

/* The TLS security levels of the reference, in order of strength. */
enum pn_tls_level { PN_TLS_NONE, PN_TLS_MAY, PN_TLS_ENCRYPT };

/* pn_tls_server_level: smtpd_tls_security_level, or the older smtpd_use_tls and
 * smtpd_enforce_tls when it is empty. */
enum pn_tls_level pn_tls_server_level(void);

/* pn_tls_server_prepare: as root, before the chroot: the files of smtpd_tls_chain_files, or
 * smtpd_tls_cert_file and smtpd_tls_key_file, and smtpd_tls_dh1024_param_file. A file that
 * cannot be read is logged ("disabling TLS support"); the server then answers STARTTLS with
 * 454. Never NULL. */
pn_tls_server *pn_tls_server_prepare(void);
/* pn_tls_server_usable: the context could be built (it is built here on first use). */
int pn_tls_server_usable(pn_tls_server *server);

/* pn_tls_accept: the server side of a handshake on fd, within timeout_ms. NULL with why
 * ("lost connection", "Connection timed out", an OpenSSL reason) on failure. */
pn_tls_session *pn_tls_accept(pn_tls_server *server, int fd, int timeout_ms, pn_buf *why);
/* pn_tls_attach: the stream reads and writes through the session from now on. */
void pn_tls_attach(pn_tls_session *session, pn_stream *stream);
/* pn_tls_describe: "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange
 * X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256", as the reference logs
 * it (the key exchange part for TLS 1.3); fold puts a line break and a space before
 * "key-exchange", as the Received header has it. */
void pn_tls_describe(const pn_tls_session *session, int fold, pn_buf *out);
/* pn_tls_protocol: "TLSv1.3". */
const char *pn_tls_protocol(const pn_tls_session *session);
/* The client (tls_client.c): the smtp and lmtp agents. */
typedef struct pn_tls_client pn_tls_client;
/* pn_tls_client_prepare: as root, before the chroot: the CA certificates of cafile are read
 * into memory; capath (a hashed directory) is searched when a certificate is verified, so it
 * must be reachable from the chroot. The client's own certificate, when one is configured
 * (chain files, else cert and key files; "" for none), is read too. Never NULL; a file that
 * cannot be read is logged. */
pn_tls_client *pn_tls_client_prepare(const char *cafile, const char *capath,
                                     const char *chain_files, const char *cert, const char *key);
/* pn_tls_dane: DANE (RFC 7672) for one connection: the server's usable TLSA records
 * (DANE-TA or DANE-EE), the TLSA base domain (the server's host name, also sent as SNI), and
 * the next-hop domain: a DANE-TA certificate must be for one of the two names. */
typedef struct pn_tls_dane {
    const char *base, *nexthop;
    const pn_tlsa *records;
    int count;
} pn_tls_dane;
/* pn_tls_connect: the client side of a handshake on fd with the protocols and cipher grade
 * given (and the ciphers to exclude); sni is the server name to send, or NULL; cache_id,
 * when not NULL, names the server in tlsmgr's session cache (a session from there is offered
 * and a new one stored); dane, when not NULL, has the server's certificate checked against
 * its TLSA records (pn_tls_dane_verified tells). NULL with why on failure. */
pn_tls_session *pn_tls_connect(pn_tls_client *client, int fd, const char *protocols,
                               const char *grade, const char *exclude, const char *sni,
                               const char *cache_id, const pn_tls_dane *dane, int timeout_ms,
                               pn_buf *why);
/* pn_tls_dane_verified: with DANE, the server's certificate matched a TLSA record; 0 with
 * OpenSSL's reason when it did not. */
int pn_tls_dane_verified(const pn_tls_session *session, pn_buf *why);
/* pn_tls_peer_present: the other side presented a certificate. */
int pn_tls_peer_present(const pn_tls_session *session);
/* pn_tls_peer_names: the common names of its subject and of its issuer (appended). */
void pn_tls_peer_names(const pn_tls_session *session, pn_buf *subject_cn, pn_buf *issuer_cn);
/* pn_tls_peer_fingerprints: "AB:CD:..." of the certificate and of its public key. */
void pn_tls_peer_fingerprints(const pn_tls_session *session, const char *mdalg, pn_buf *cert_fp,
                              pn_buf *pkey_fp);
/* pn_tls_peer_summary: "subject_CN=..., issuer_CN=..., fingerprint=AB:..,
 * pkey_fingerprint=CD:..", the digests (mdalg: "sha256", "sha1", "md5") of the server's
 * certificate and of its public key, as the reference prints them. */
void pn_tls_peer_summary(const pn_tls_session *session, const char *mdalg, pn_buf *out);
/* pn_tls_resumed: the handshake resumed an earlier session. */
int pn_tls_resumed(const pn_tls_session *session);
/* pn_tls_peer_trusted: the other side's certificate chain ends at one of the CAs; 0 with
 * OpenSSL's reason ("self-signed certificate") when it does not (or there is none). */
int pn_tls_peer_trusted(const pn_tls_session *session, pn_buf *why);
/* pn_tls_peer_matches: the server's certificate is for name (DNS names of subjectAltName,
 * else the common name; an IP address literal against its IP addresses); ".domain" matches
 * any name below domain. */
int pn_tls_peer_matches(const pn_tls_session *session, const char *name);

/* pn_tls_close: a close_notify (without waiting for the peer's), then the session is freed;
 * the stream must be detached or released first. */
void pn_tls_close(pn_tls_session *session);

#endif
