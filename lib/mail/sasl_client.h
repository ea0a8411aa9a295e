/* sasl_client.h: SMTP AUTH for the smtp and lmtp client, with libsasl2 (doc/sasl.md).
 * Challenges and responses are base64, as on the wire. */
#ifndef PN_MAIL_SASL_CLIENT_H
#define PN_MAIL_SASL_CLIENT_H
#include "base/buf.h"

typedef struct pn_sasl_client pn_sasl_client;

/* pn_sasl_client_init: before the chroot: the library and its plug-ins. */
int pn_sasl_client_init(pn_buf *why);
/* pn_sasl_client_new: for one server; security: the <prefix>_sasl_*security_options value
 * that applies to this connection. NULL with why. */
pn_sasl_client *pn_sasl_client_new(const char *service, const char *server, const char *user,
                                   const char *password, const char *security, pn_buf *why);
/* pn_sasl_client_start: the mechanism chosen among mechs (space separated) and, when it has
 * one, the initial response; -1 with why ("No worthy mechs found"). */
int pn_sasl_client_start(pn_sasl_client *client, const char *mechs, const char **mech,
                         pn_buf *initial, int *has_initial, pn_buf *why);
/* pn_sasl_client_step: the response to a server challenge. */
int pn_sasl_client_step(pn_sasl_client *client, const char *challenge, pn_buf *response,
                        pn_buf *why);
void pn_sasl_client_free(pn_sasl_client *client);

#endif
