/* generic.c: smtp_generic_maps (lmtp_generic_maps): addresses rewritten on the way out, in
 * MAIL FROM, RCPT TO and the sender and recipient header fields, typically a locally valid
 * address made globally valid. The lookup order is canonical mapping's: user@domain, then
 * user for a local domain, then @domain; "@domain" as a result keeps the local part. The
 * queue file and the log keep the addresses as they were. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/domlist.h"
#include "mail/hdraddr.h"
#include "mail/maps.h"
#include "smtp.h"

static pn_maps *generic;
static pn_domlist *local_domains;

void smtp_generic_init(void)
{
    pn_buf err = PN_BUF_INIT;
    const char *spec = pn_config_get(SMTP_PARAM(generic_maps));
    if (*spec == 0)
        return;
    generic = pn_maps_open(SMTP_PARAM(generic_maps), spec, PN_DICT_DEFAULT_FLAGS, &err);
    if (generic == NULL)
        pn_fatal("%s", err.data);
    local_domains = pn_domlist_open(PN_P(mydestination), pn_config_get(PN_P(mydestination)), &err);
    if (local_domains == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
}

int smtp_generic_changed(void)
{
    return generic && pn_maps_changed(generic);
}

/* map: 1 with the mapped address in out; 0 when the tables do not know addr. */
static int map(const char *addr, pn_buf *out, void *ctx)
{
    (void)ctx;
    if (generic == NULL || *addr == 0)
        return 0;
    pn_buf value = PN_BUF_INIT, domain = PN_BUF_INIT;
    pn_addr_domain(addr, &domain);
    int local = strcasecmp(domain.data, pn_config_get(PN_P(myorigin))) == 0 ||
                pn_domlist_match(local_domains, domain.data) > 0;
    int rc = pn_maps_find_addr(generic, addr, pn_config_get(PN_P(recipient_delimiter)),
                               local ? PN_MAPS_LOCALPART : 0, &value);
    if (rc > 0) {
        char *result = pn_trim(value.data);
        pn_buf_reset(out);
        if (result[0] == '@') {
            pn_addr_localpart(addr, out);
            pn_buf_puts(out, result);
        } else {
            pn_buf_puts(out, result);
        }
    } else if (rc < 0) {
        pn_warn("%s: lookup of %s failed: address sent as it is", generic->title, addr);
    }
    pn_buf_release(&value);
    pn_buf_release(&domain);
    return rc > 0;
}

const char *smtp_generic_addr(const char *addr, pn_buf *scratch)
{
    return map(addr, scratch, NULL) ? scratch->data : addr;
}

void smtp_generic_content(pn_buf *content)
{
    if (generic == NULL)
        return;
    pn_argv *fields = pn_argv_new();
    pn_buf body = PN_BUF_INIT, fresh = PN_BUF_INIT;
    smtp_content_split(content, fields, &body);
    for (size_t i = 0; i < fields->len; i++) {
        if (pn_hdraddr_kind(fields->items[i]) != PN_HDRADDR_NONE &&
            pn_hdraddr_rewrite(fields->items[i], map, NULL, &fresh)) {
            free(fields->items[i]);
            fields->items[i] = pn_buf_steal(&fresh);
        }
    }
    smtp_content_join(fields, &body, content);
    pn_argv_free(fields);
    pn_buf_release(&body);
    pn_buf_release(&fresh);
}
