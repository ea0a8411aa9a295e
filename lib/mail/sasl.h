/* sasl.h: SMTP AUTH for the server side (doc/sasl.md): one interface, two back ends. "dovecot"
 * speaks Dovecot's authentication protocol over a UNIX socket (one connection per process,
 * kept); "cyrus" asks libsasl2. Challenges and responses cross this interface in base64, as
 * they are on the wire. */
#ifndef PN_MAIL_SASL_H
#define PN_MAIL_SASL_H
#include "base/buf.h"

typedef struct pn_sasl_server pn_sasl_server;

/* What the back end is told about the connection (strings may be empty, not NULL). */
typedef struct pn_sasl_conn {
    const char *service;     /* smtpd_sasl_service: "smtp" */
    const char *realm;       /* smtpd_sasl_local_domain */
    const char *server_addr; /* local address and port */
    const char *server_port;
    const char *client_addr;
    const char *client_port;
    const char *security; /* smtpd_sasl_security_options, or the TLS variant under TLS */
    int tls;              /* the connection is encrypted */
} pn_sasl_conn;

enum pn_sasl_status {
    PN_SASL_DONE, /* authenticated */
    PN_SASL_MORE, /* the text is a challenge (base64) for a "334" reply */
    PN_SASL_FAIL, /* the text says why */
    PN_SASL_TEMP  /* a temporary failure (the back end is unreachable): the text says why */
};

/* pn_sasl_server_init: before the chroot: the type's library and configuration (Cyrus reads
 * its config file and plug-ins here, from cyrus_sasl_config_path). 0, or -1 with why for an
 * unknown type or a library that will not start. path is smtpd_sasl_path. */
int pn_sasl_server_init(const char *type, const char *path, pn_buf *why);
/* pn_sasl_server_new: for one SMTP session. NULL with why when the back end is unreachable. */
pn_sasl_server *pn_sasl_server_new(const pn_sasl_conn *conn, pn_buf *why);
/* pn_sasl_server_mechs: the mechanisms offered, space separated ("PLAIN LOGIN"), those that
 * the security options exclude left out; 0, or -1 with why. */
int pn_sasl_server_mechs(pn_sasl_server *server, pn_buf *mechs, pn_buf *why);
/* pn_sasl_server_start: an exchange with a mechanism and the client's initial response (NULL
 * when there is none; "=" is an empty one). */
enum pn_sasl_status pn_sasl_server_start(pn_sasl_server *server, const char *mech,
                                         const char *initial, pn_buf *text);
/* pn_sasl_server_next: the client's answer to a challenge. */
enum pn_sasl_status pn_sasl_server_next(pn_sasl_server *server, const char *response, pn_buf *text);
/* pn_sasl_server_username: after PN_SASL_DONE the authenticated name, before it the name the
 * back end learnt (for the log), or NULL. */
const char *pn_sasl_server_username(const pn_sasl_server *server);
void pn_sasl_server_free(pn_sasl_server *server);

/* The security options, as bits (sasl.c parses them for both back ends). */
enum {
    PN_SASL_SEC_NOPLAINTEXT = 1,
    PN_SASL_SEC_NOACTIVE = 2,
    PN_SASL_SEC_NODICTIONARY = 4,
    PN_SASL_SEC_NOANONYMOUS = 8,
    PN_SASL_SEC_FORWARD_SECRECY = 16,
    PN_SASL_SEC_MUTUAL_AUTH = 32
};
/* pn_sasl_security_parse: "noanonymous, noplaintext" as bits; -1 with why for a word that is
 * not an option. */
int pn_sasl_security_parse(const char *options, pn_buf *why);

#endif
