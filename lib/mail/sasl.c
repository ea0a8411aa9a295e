/* sasl.c: the server SASL interface over its back ends: picks the back end by
 * smtpd_sasl_type, refuses malformed base64 before a back end sees it (with the reference's
 * reasons), and parses the security options. */
#include "mail/sasl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/codec.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "mail/sasl_backend.h"

struct pn_sasl_server {
    void *impl;
};

static const pn_sasl_backend *backend;

int pn_sasl_server_init(const char *type, const char *path, pn_buf *why)
{
    static const pn_sasl_backend *const known[] = {&pn_sasl_cyrus, &pn_sasl_dovecot};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(type, known[i]->type) == 0)
            backend = known[i];
    if (backend == NULL) {
        pn_buf_printf(why, "unsupported SASL server implementation: %s", type);
        return -1;
    }
    return backend->init(path, why);
}

pn_sasl_server *pn_sasl_server_new(const pn_sasl_conn *conn, pn_buf *why)
{
    void *impl = backend->open(conn, why);
    if (impl == NULL)
        return NULL;
    pn_sasl_server *server = pn_calloc(1, sizeof(*server));
    server->impl = impl;
    return server;
}

int pn_sasl_server_mechs(pn_sasl_server *server, pn_buf *mechs, pn_buf *why)
{
    return backend->mechs(server->impl, mechs, why);
}

/* is_base64: what the client sent decodes ("=" is the empty response). */
static int is_base64(const char *text)
{
    if (strcmp(text, "=") == 0)
        return 1;
    pn_buf out = PN_BUF_INIT;
    int ok = pn_base64_decode(text, strlen(text), &out) == 0;
    pn_buf_release(&out);
    return ok;
}

enum pn_sasl_status pn_sasl_server_start(pn_sasl_server *server, const char *mech,
                                         const char *initial, pn_buf *text)
{
    pn_buf_reset(text);
    if (initial && !is_base64(initial)) {
        pn_buf_set(text, "Invalid base64 data in initial response");
        return PN_SASL_FAIL;
    }
    return backend->start(server->impl, mech, initial, text);
}

enum pn_sasl_status pn_sasl_server_next(pn_sasl_server *server, const char *response, pn_buf *text)
{
    pn_buf_reset(text);
    if (!is_base64(response)) {
        pn_buf_set(text, "Invalid base64 data in continued response");
        return PN_SASL_FAIL;
    }
    return backend->next(server->impl, response, text);
}

const char *pn_sasl_server_username(const pn_sasl_server *server)
{
    return backend->username(server->impl);
}

void pn_sasl_server_free(pn_sasl_server *server)
{
    if (server == NULL)
        return;
    backend->close(server->impl);
    free(server);
}

int pn_sasl_security_parse(const char *options, pn_buf *why)
{
    static const struct {
        const char *name;
        int bit;
    } words[] = {
        {"noplaintext", PN_SASL_SEC_NOPLAINTEXT},         {"noactive", PN_SASL_SEC_NOACTIVE},
        {"nodictionary", PN_SASL_SEC_NODICTIONARY},       {"noanonymous", PN_SASL_SEC_NOANONYMOUS},
        {"forward_secrecy", PN_SASL_SEC_FORWARD_SECRECY}, {"mutual_auth", PN_SASL_SEC_MUTUAL_AUTH}};
    pn_argv *list = pn_argv_split(options, PN_SEPARATORS);
    int bits = 0;
    for (size_t i = 0; i < list->len && bits >= 0; i++) {
        size_t k = 0;
        while (k < sizeof(words) / sizeof(words[0]) && strcasecmp(list->items[i], words[k].name))
            k++;
        if (k == sizeof(words) / sizeof(words[0])) {
            pn_buf_printf(why, "unknown SASL security option: \"%s\"", list->items[i]);
            bits = -1;
        } else {
            bits |= words[k].bit;
        }
    }
    pn_argv_free(list);
    return bits;
}
