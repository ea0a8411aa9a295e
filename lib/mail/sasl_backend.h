/* sasl_backend.h: what a SASL server back end provides to sasl.c (dovecot, cyrus). */
#ifndef PN_MAIL_SASL_BACKEND_H
#define PN_MAIL_SASL_BACKEND_H
#include "mail/sasl.h"

typedef struct pn_sasl_backend {
    const char *type;
    int (*init)(const char *path, pn_buf *why);
    void *(*open)(const pn_sasl_conn *conn, pn_buf *why);
    int (*mechs)(void *impl, pn_buf *mechs, pn_buf *why);
    /* initial and response are base64 as the client sent them, already checked */
    enum pn_sasl_status (*start)(void *impl, const char *mech, const char *initial, pn_buf *text);
    enum pn_sasl_status (*next)(void *impl, const char *response, pn_buf *text);
    const char *(*username)(const void *impl);
    void (*close)(void *impl);
} pn_sasl_backend;

extern const pn_sasl_backend pn_sasl_dovecot;
extern const pn_sasl_backend pn_sasl_cyrus;

#endif
