/* auth.c: SMTP AUTH in the smtp and lmtp client (doc/sasl.md), for a relay host that wants a
 * login. <prefix>_sasl_password_maps gives "login:password" for the server's host name, else
 * for the next-hop destination as the transport names it ("[smtp.isp.example]:587").
 * libsasl2 chooses the mechanism among those the server offers, less what the security
 * options exclude (<prefix>_sasl_security_options in clear text, the _tls_ ones inside TLS,
 * the _tls_verified_ ones with a verified certificate) and what the mechanism filter leaves
 * out. A failure defers the mail (soft bounce), in the reference's words. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/maps.h"
#include "mail/sasl_client.h"
#include "smtp.h"

static pn_maps *passwords;

void smtp_sasl_init(void)
{
    if (!pn_config_get_bool(SMTP_PARAM(sasl_auth_enable)))
        return;
    pn_buf why = PN_BUF_INIT;
    if (strcmp(pn_config_get(SMTP_PARAM(sasl_type)), "cyrus") != 0)
        pn_fatal("unsupported SASL client implementation: %s",
                 pn_config_get(SMTP_PARAM(sasl_type)));
    const char *maps = pn_config_get(SMTP_PARAM(sasl_password_maps));
    if (*maps && (passwords = pn_maps_open(SMTP_PARAM(sasl_password_maps), maps,
                                           PN_DICT_DEFAULT_FLAGS, &why)) == NULL)
        pn_fatal("%s", why.data);
    if (pn_sasl_client_init(&why) < 0)
        pn_fatal("%s", why.data);
    pn_buf_release(&why);
}

int smtp_sasl_changed(void)
{
    return passwords && pn_maps_changed(passwords);
}

/* filtered: the server's mechanisms that <prefix>_sasl_mechanism_filter keeps (all when it
 * is empty). */
static void filtered(const char *offered, pn_buf *out)
{
    const char *filter = pn_config_get(SMTP_PARAM(sasl_mechanism_filter));
    pn_argv *mechs = pn_argv_split(offered, " ");
    for (size_t i = 0; i < mechs->len; i++)
        if (*filter == 0 || pn_config_list_has(SMTP_PARAM(sasl_mechanism_filter), mechs->items[i]))
            pn_buf_printf(out, "%s%s", out->len ? " " : "", mechs->items[i]);
    pn_argv_free(mechs);
}

static int fail(struct session *ss, const char *dsn, pn_buf *why, const pn_buf *text)
{
    pn_buf_set(why, text->data);
    snprintf(ss->fail_dsn, sizeof(ss->fail_dsn), "%s", dsn);
    return -1;
}

int smtp_authenticate(struct session *ss, const char *nexthop, pn_buf *why)
{
    if (passwords == NULL || !(ss->features & FEATURE_AUTH))
        return 0;
    pn_buf value = PN_BUF_INIT, text = PN_BUF_INIT, mechs = PN_BUF_INIT, data = PN_BUF_INIT;
    pn_sasl_client *client = NULL;
    int rc = pn_maps_find(passwords, ss->host, &value);
    if (rc == 0)
        rc = pn_maps_find(passwords, nexthop, &value);
    if (rc <= 0) {
        if (rc < 0) {
            pn_buf_printf(&text, "%s lookup error for \"%s\"", SMTP_PARAM(sasl_password_maps),
                          nexthop);
            rc = fail(ss, "4.3.0", why, &text);
        }
        goto out;
    }
    char *password = strchr(value.data, ':');
    if (password)
        *password++ = 0;
    const char *security =
        pn_config_get(ss->tls_verified ? SMTP_PARAM(sasl_tls_verified_security_options)
                      : ss->tls        ? SMTP_PARAM(sasl_tls_security_options)
                                       : SMTP_PARAM(sasl_security_options));
    filtered(ss->auth_mechs, &mechs);
    const char *mech = NULL;
    int has_initial = 0;
    client = pn_sasl_client_new(proto->name, ss->host, value.data, password ? password : "",
                                security, &text);
    if (client == NULL || pn_sasl_client_start(client, mechs.data ? mechs.data : "", &mech, &data,
                                               &has_initial, &text) < 0) {
        pn_warn("SASL authentication failure: %s", text.data);
        pn_buf_reset(&text);
        pn_buf_printf(&text,
                      "SASL authentication failed; cannot authenticate to server %s[%s]: "
                      "no mechanism available",
                      ss->host, ss->addr);
        rc = fail(ss, "4.7.0", why, &text);
        goto out;
    }
    const char *timeout = proto->lmtp ? PN_P(lmtp_lhlo_timeout) : PN_P(smtp_helo_timeout);
    rc = has_initial ? command(ss, timeout, "AUTH %s %s", mech, data.len ? data.data : "=")
                     : command(ss, timeout, "AUTH %s", mech);
    for (int steps = 0; rc == 0 && ss->code == 334 && steps < 16; steps++) {
        pn_buf_reset(&data);
        const char *challenge = ss->reply.len > 4 ? ss->reply.data + 4 : "";
        if (pn_sasl_client_step(client, challenge, &data, &text) < 0) {
            command(ss, timeout, "*"); /* cancelled; the server's 501 is read */
            pn_buf_printf(why,
                          "SASL authentication failed; cannot authenticate to server "
                          "%s[%s]: %s",
                          ss->host, ss->addr, text.data);
            snprintf(ss->fail_dsn, sizeof(ss->fail_dsn), "4.7.0");
            rc = -1;
            goto out;
        }
        rc = command(ss, timeout, "%s", data.data);
    }
    if (rc < 0) {
        broken(ss, "authenticating", why);
        goto out;
    }
    if (ss->code != 235) {
        char status[16];
        status_of(ss, status, sizeof(status));
        if (status[0] == '5' && pn_config_get_bool(SMTP_PARAM(sasl_auth_soft_bounce)))
            status[0] = '4';
        pn_buf_reset(&text);
        pn_buf_printf(&text, "SASL authentication failed; server %s[%s] said: %s", ss->host,
                      ss->addr, ss->reply.data);
        rc = fail(ss, status, why, &text);
    }
out:
    pn_sasl_client_free(client);
    pn_buf_release(&value);
    pn_buf_release(&text);
    pn_buf_release(&mechs);
    pn_buf_release(&data);
    return rc < 0 ? -1 : 0;
}
