/* sasl_client.c: SMTP AUTH for the smtp and lmtp client, with libsasl2 (the reference's
 * "cyrus" client). The login and password come from the caller (the password table); the
 * library picks the best mechanism the server offers that the security options allow, and
 * turns challenges into responses. Base64 on the wire is done here. */
#include "mail/sasl_client.h"

#include <sasl/sasl.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/mem.h"
#include "mail/sasl.h"

struct pn_sasl_client {
    sasl_conn_t *conn;
    char *user;
    sasl_secret_t *secret;
    sasl_callback_t callbacks[4];
};

/* detail: libsasl2's "SASL(-4): no mechanism available: No worthy mechs found" as the
 * reference logs it: the last part. */
static void detail(sasl_conn_t *conn, pn_buf *why)
{
    const char *text = sasl_errdetail(conn);
    const char *last = strrchr(text, ':');
    pn_buf_set(why, last && last[1] == ' ' ? last + 2 : text);
}

int pn_sasl_client_init(pn_buf *why)
{
    int rc = sasl_client_init(NULL);
    if (rc != SASL_OK) {
        pn_buf_printf(why, "SASL library initialization: %s", sasl_errstring(rc, 0, 0));
        return -1;
    }
    return 0;
}

static int get_user(void *context, int id, const char **result, unsigned *len)
{
    pn_sasl_client *c = context;
    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
        return SASL_FAIL;
    *result = c->user;
    if (len)
        *len = (unsigned)strlen(c->user);
    return SASL_OK;
}

static int get_secret(sasl_conn_t *conn, void *context, int id, sasl_secret_t **secret)
{
    (void)conn;
    pn_sasl_client *c = context;
    if (id != SASL_CB_PASS)
        return SASL_FAIL;
    *secret = c->secret;
    return SASL_OK;
}

/* libsasl2 keeps every callback as int (*)(void) */
#define CYRUS_CALLBACK(fn) ((int (*)(void))(void (*)(void))(fn))

pn_sasl_client *pn_sasl_client_new(const char *service, const char *server, const char *user,
                                   const char *password, const char *security, pn_buf *why)
{
    pn_sasl_client *c = pn_calloc(1, sizeof(*c));
    c->user = pn_strdup(user);
    size_t len = strlen(password);
    c->secret = pn_calloc(1, sizeof(sasl_secret_t) + len + 1);
    c->secret->len = len;
    memcpy(c->secret->data, password, len);
    c->callbacks[0] = (sasl_callback_t){SASL_CB_USER, CYRUS_CALLBACK(get_user), c};
    c->callbacks[1] = (sasl_callback_t){SASL_CB_AUTHNAME, CYRUS_CALLBACK(get_user), c};
    c->callbacks[2] = (sasl_callback_t){SASL_CB_PASS, CYRUS_CALLBACK(get_secret), c};
    c->callbacks[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    int rc = sasl_client_new(service, server, NULL, NULL, c->callbacks, 0, &c->conn);
    if (rc != SASL_OK) {
        pn_buf_printf(why, "per-session SASL client initialization: %s", sasl_errstring(rc, 0, 0));
        pn_sasl_client_free(c);
        return NULL;
    }
    pn_buf ignored = PN_BUF_INIT;
    int bits = pn_sasl_security_parse(security, &ignored);
    pn_buf_release(&ignored);
    sasl_security_properties_t props;
    memset(&props, 0, sizeof(props));
    props.security_flags = (bits & PN_SASL_SEC_NOPLAINTEXT ? SASL_SEC_NOPLAINTEXT : 0) |
                           (bits & PN_SASL_SEC_NOACTIVE ? SASL_SEC_NOACTIVE : 0) |
                           (bits & PN_SASL_SEC_NODICTIONARY ? SASL_SEC_NODICTIONARY : 0) |
                           (bits & PN_SASL_SEC_NOANONYMOUS ? SASL_SEC_NOANONYMOUS : 0) |
                           (bits & PN_SASL_SEC_FORWARD_SECRECY ? SASL_SEC_FORWARD_SECRECY : 0) |
                           (bits & PN_SASL_SEC_MUTUAL_AUTH ? SASL_SEC_MUTUAL_AUTH : 0);
    sasl_setprop(c->conn, SASL_SEC_PROPS, &props);
    return c;
}

int pn_sasl_client_start(pn_sasl_client *c, const char *mechs, const char **mech, pn_buf *initial,
                         int *has_initial, pn_buf *why)
{
    const char *out = NULL;
    unsigned len = 0;
    sasl_interact_t *interact = NULL;
    int rc = sasl_client_start(c->conn, mechs, &interact, &out, &len, mech);
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        detail(c->conn, why);
        return -1;
    }
    *has_initial = out != NULL;
    if (out)
        pn_base64_encode(out, len, initial);
    return 0;
}

int pn_sasl_client_step(pn_sasl_client *c, const char *challenge, pn_buf *response, pn_buf *why)
{
    pn_buf in = PN_BUF_INIT;
    if (pn_base64_decode(challenge, strlen(challenge), &in) < 0) {
        pn_buf_set(why, "malformed SASL challenge from server");
        pn_buf_release(&in);
        return -1;
    }
    const char *out = NULL;
    unsigned len = 0;
    sasl_interact_t *interact = NULL;
    int rc = sasl_client_step(c->conn, pn_buf_str(&in), (unsigned)in.len, &interact, &out, &len);
    pn_buf_release(&in);
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        detail(c->conn, why);
        return -1;
    }
    pn_base64_encode(out ? out : "", out ? len : 0, response);
    return 0;
}

void pn_sasl_client_free(pn_sasl_client *c)
{
    if (c == NULL)
        return;
    if (c->conn)
        sasl_dispose(&c->conn);
    if (c->secret)
        memset(c->secret->data, 0, c->secret->len);
    free(c->secret);
    free(c->user);
    free(c);
}
