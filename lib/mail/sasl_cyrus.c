/* sasl_cyrus.c: the "cyrus" SASL back end, libsasl2. smtpd_sasl_path is the application name:
 * its configuration is <name>.conf, looked for in cyrus_sasl_config_path, else in
 * $config_directory/sasl and /etc/postfix/sasl (where Debian's documentation puts it), then
 * the library's own places. Plug-ins are loaded before the chroot; a password database
 * (sasldb_path) is opened when a client authenticates, so inside the chroot when there is one. */
#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfparams.h"
#include "mail/sasl_backend.h"

typedef struct cyrus_session {
    sasl_conn_t *conn;
} cyrus_session;

static char *config_path;

static int cyrus_log(void *context, int level, const char *message)
{
    (void)context;
    if (message == NULL)
        return SASL_OK;
    if (level <= SASL_LOG_ERR)
        pn_warn("SASL authentication problem: %s", message);
    else if (level <= SASL_LOG_NOTE)
        pn_info("SASL authentication info: %s", message);
    return SASL_OK;
}

static int cyrus_conf_path(void *context, const char **path)
{
    (void)context;
    *path = config_path;
    return SASL_OK;
}

/* libsasl2 keeps every callback as int (*)(void); the detour through void (*)(void) says the
 * cast is meant */
#define CYRUS_CALLBACK(fn) ((int (*)(void))(void (*)(void))(fn))

static sasl_callback_t callbacks[] = {{SASL_CB_LOG, CYRUS_CALLBACK(cyrus_log), NULL},
                                      {SASL_CB_GETCONFPATH, CYRUS_CALLBACK(cyrus_conf_path), NULL},
                                      {SASL_CB_LIST_END, NULL, NULL}};

static int cyrus_init(const char *path, pn_buf *why)
{
    const char *configured = pn_config_get(PN_P(cyrus_sasl_config_path));
    pn_buf paths = PN_BUF_INIT;
    if (*configured)
        pn_buf_set(&paths, configured);
    else
        pn_buf_printf(&paths, "%s/sasl:/etc/postfix/sasl:/etc/sasl2:/usr/lib/sasl2",
                      pn_config_get(PN_P(config_directory)));
    config_path = pn_strdup(paths.data);
    pn_buf_release(&paths);
    int rc = sasl_server_init(callbacks, path);
    if (rc != SASL_OK) {
        pn_buf_printf(why, "SASL per-process initialization failed: %s", sasl_errstring(rc, 0, 0));
        return -1;
    }
    return 0;
}

static void *cyrus_open(const pn_sasl_conn *conn, pn_buf *why)
{
    cyrus_session *c = pn_calloc(1, sizeof(*c));
    char local[128], remote[128];
    snprintf(local, sizeof(local), "%s;%s", conn->server_addr, conn->server_port);
    snprintf(remote, sizeof(remote), "%s;%s", conn->client_addr, conn->client_port);
    int rc = sasl_server_new(conn->service, NULL, *conn->realm ? conn->realm : NULL,
                             *conn->server_addr ? local : NULL, *conn->client_addr ? remote : NULL,
                             NULL, 0, &c->conn);
    if (rc != SASL_OK) {
        pn_buf_printf(why, "SASL per-connection server initialization: %s",
                      sasl_errstring(rc, 0, 0));
        free(c);
        return NULL;
    }
    pn_buf ignored = PN_BUF_INIT;
    int bits = pn_sasl_security_parse(conn->security, &ignored);
    pn_buf_release(&ignored);
    sasl_security_properties_t props;
    memset(&props, 0, sizeof(props));
    props.min_ssf = 0;
    props.max_ssf = 0; /* no security layer: TLS is the one there is */
    props.maxbufsize = 0;
    props.security_flags = (bits & PN_SASL_SEC_NOPLAINTEXT ? SASL_SEC_NOPLAINTEXT : 0) |
                           (bits & PN_SASL_SEC_NOACTIVE ? SASL_SEC_NOACTIVE : 0) |
                           (bits & PN_SASL_SEC_NODICTIONARY ? SASL_SEC_NODICTIONARY : 0) |
                           (bits & PN_SASL_SEC_NOANONYMOUS ? SASL_SEC_NOANONYMOUS : 0) |
                           (bits & PN_SASL_SEC_FORWARD_SECRECY ? SASL_SEC_FORWARD_SECRECY : 0) |
                           (bits & PN_SASL_SEC_MUTUAL_AUTH ? SASL_SEC_MUTUAL_AUTH : 0);
    if (sasl_setprop(c->conn, SASL_SEC_PROPS, &props) != SASL_OK) {
        pn_buf_printf(why, "SASL security properties: %s", sasl_errdetail(c->conn));
        sasl_dispose(&c->conn);
        free(c);
        return NULL;
    }
    return c;
}

static int cyrus_mechs(void *impl, pn_buf *mechs, pn_buf *why)
{
    cyrus_session *c = impl;
    const char *list;
    unsigned len;
    int count;
    int rc = sasl_listmech(c->conn, NULL, "", " ", "", &list, &len, &count);
    if (rc != SASL_OK) {
        pn_buf_printf(why, "no SASL authentication mechanisms: %s", sasl_errstring(rc, 0, 0));
        return -1;
    }
    pn_buf_append(mechs, list, len);
    return 0;
}

/* outcome: a libsasl2 result as a status, the challenge or the reason in text. */
static enum pn_sasl_status outcome(cyrus_session *c, int rc, const char *out, unsigned len,
                                   pn_buf *text)
{
    switch (rc) {
    case SASL_OK: return PN_SASL_DONE;
    case SASL_CONTINUE: pn_base64_encode(out, len, text); return PN_SASL_MORE;
    case SASL_TRYAGAIN:
    case SASL_UNAVAIL: pn_buf_set(text, sasl_errstring(rc, 0, 0)); return PN_SASL_TEMP;
    case SASL_NOMECH: pn_buf_set(text, "Invalid authentication mechanism"); return PN_SASL_FAIL;
    default:
        (void)c;
        pn_buf_set(text, sasl_errstring(rc, 0, 0));
        return PN_SASL_FAIL;
    }
}

/* decoded: the client's base64 ("=" is empty), checked by sasl.c already. */
static void decoded(const char *text, pn_buf *out)
{
    if (strcmp(text, "=") != 0)
        pn_base64_decode(text, strlen(text), out);
}

static enum pn_sasl_status cyrus_start(void *impl, const char *mech, const char *initial,
                                       pn_buf *text)
{
    cyrus_session *c = impl;
    pn_buf in = PN_BUF_INIT;
    if (initial)
        decoded(initial, &in);
    const char *out = NULL;
    unsigned len = 0;
    int rc = sasl_server_start(c->conn, mech, initial ? pn_buf_str(&in) : NULL, (unsigned)in.len,
                               &out, &len);
    pn_buf_release(&in);
    return outcome(c, rc, out, len, text);
}

static enum pn_sasl_status cyrus_next(void *impl, const char *response, pn_buf *text)
{
    cyrus_session *c = impl;
    pn_buf in = PN_BUF_INIT;
    decoded(response, &in);
    const char *out = NULL;
    unsigned len = 0;
    int rc = sasl_server_step(c->conn, pn_buf_str(&in), (unsigned)in.len, &out, &len);
    pn_buf_release(&in);
    return outcome(c, rc, out, len, text);
}

static const char *cyrus_username(const void *impl)
{
    const cyrus_session *c = impl;
    const void *name = NULL;
    if (sasl_getprop(c->conn, SASL_USERNAME, &name) != SASL_OK)
        return NULL;
    return name;
}

static void cyrus_close(void *impl)
{
    cyrus_session *c = impl;
    sasl_dispose(&c->conn);
    free(c);
}

const pn_sasl_backend pn_sasl_cyrus = {"cyrus",     cyrus_init, cyrus_open,     cyrus_mechs,
                                       cyrus_start, cyrus_next, cyrus_username, cyrus_close};
