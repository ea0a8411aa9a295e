/* footer.c: smtpd_reject_footer and smtpd_reject_footer_maps, the text added after every 4XX
 * and 5XX reply: looked up by the whole reply in the maps, else the parameter; $client_address,
 * $client_name, $client_port, $localtime and $server_name expand in it (and parameters set
 * in main.cf; other names to nothing); "\n" in it starts a new reply line and "\c" at its start continues the reply's
 * last line instead. Each new line repeats the reply code and its enhanced status code, as
 * the reference writes them. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "config/cfexpand.h"
#include "config/cfparams.h"
#include "mail/dsn.h"
#include "mail/maps.h"
#include "smtpd.h"

static pn_maps *footer_maps;
static int footer_maps_open;

static const char *macro(const char *name, void *ctx)
{
    const smtpd_session *s = ctx;
    static char stamp[16];
    if (strcmp(name, "client_address") == 0)
        return s->addr.data;
    if (strcmp(name, "client_name") == 0)
        return s->name.data;
    if (strcmp(name, "client_port") == 0)
        return s->port.data;
    if (strcmp(name, "server_name") == 0)
        return pn_config_get_hostname(PN_P(myhostname));
    if (strcmp(name, "localtime") == 0) {
        pn_log_stamp((long)time(NULL), stamp);
        return stamp;
    }
    /* a parameter of main.cf or -o (a footer kept in one, named in the other), expanded with
     * these same names */
    static pn_buf value;
    static int depth;
    const char *raw = pn_config_raw(name);
    if (raw == NULL || depth > 4)
        return "";
    pn_buf text = PN_BUF_INIT, err = PN_BUF_INIT;
    pn_expand_ctx ec = {.lookup = macro, .ctx = ctx};
    depth++;
    int rc = pn_expand(&ec, raw, &text, &err);
    depth--;
    pn_buf_set(&value, rc == 0 ? pn_buf_str(&text) : "");
    pn_buf_release(&text);
    pn_buf_release(&err);
    return value.data;
}

/* template: the footer for this reply, or NULL */
static const char *footer_template(const char *reply, pn_buf *found)
{
    if (!footer_maps_open) {
        footer_maps_open = 1;
        const char *maps = pn_config_get(PN_P(smtpd_reject_footer_maps));
        pn_buf err = PN_BUF_INIT;
        if (*maps && (footer_maps = pn_maps_open(PN_P(smtpd_reject_footer_maps), maps,
                                                 PN_DICT_DEFAULT_FLAGS, &err)) == NULL)
            pn_warn("%s", err.data);
        pn_buf_release(&err);
    }
    if (footer_maps && pn_maps_find(footer_maps, reply, found) > 0)
        return found->data;
    const char *raw = pn_config_raw(PN_P(smtpd_reject_footer)); /* $client_address is ours */
    return raw && *raw ? raw : NULL;
}

void smtpd_footer_init(void)
{
    pn_buf found = PN_BUF_INIT;
    footer_maps_open = 0;
    footer_template("", &found); /* the maps are opened before the chroot */
    pn_buf_release(&found);
}

void smtpd_footer(smtpd_session *s, pn_buf *reply)
{
    pn_buf found = PN_BUF_INIT, text = PN_BUF_INIT, err = PN_BUF_INIT;
    const char *template = footer_template(reply->data, &found);
    pn_expand_ctx ec = {.lookup = macro, .ctx = s};
    if (template == NULL || pn_expand(&ec, template, &text, &err) < 0) {
        if (err.len)
            pn_warn("smtpd_reject_footer: %s", err.data);
        goto out;
    }
    /* "NNN X.Y.Z " of the reply, repeated before every footer line */
    char code[4];
    memcpy(code, reply->data, 3);
    code[3] = 0;
    char dsn[32] = ""; /* copied: the reply grows (and moves) below */
    size_t dsn_len = reply->len > 4 && reply->data[3] == ' ' ? pn_dsn_status_len(reply->data + 4) : 0;
    if (dsn_len && dsn_len < sizeof(dsn) - 1)
        snprintf(dsn, sizeof(dsn), "%.*s ", (int)dsn_len, reply->data + 4);
    const char *cp = text.len ? text.data : NULL;
    for (int first = 1; cp; first = 0) {
        const char *nl = strstr(cp, "\\n");
        size_t end = nl ? (size_t)(nl - cp) : strlen(cp);
        if (first && strncmp(cp, "\\c", 2) == 0) { /* on the reply's own line */
            pn_buf_append(reply, cp + 2, end - 2);
        } else { /* the line so far becomes a continuation line, "NNN-" */
            char *last = strrchr(reply->data, '\n');
            last = last ? last + 1 : reply->data;
            last[3] = '-';
            pn_buf_printf(reply, "\r\n%s %s%.*s", code, dsn, (int)end, cp);
        }
        cp = nl ? nl + 2 : NULL;
    }
out:
    pn_buf_release(&found);
    pn_buf_release(&text);
    pn_buf_release(&err);
}
