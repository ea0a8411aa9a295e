/* generic.c: smtp_generic_maps (lmtp_generic_maps): addresses rewritten on the way out, in
 * MAIL FROM, RCPT TO and the sender and recipient header fields, typically a locally valid
 * address made globally valid. The lookup order is canonical mapping's: user@domain, then
 * user for a local domain, then @domain; "@domain" as a result keeps the local part. The
 * queue file and the log keep the addresses as they were. */
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
    pn_buf out = PN_BUF_INIT, field = PN_BUF_INIT, fresh = PN_BUF_INIT;
    size_t pos = 0;
    /* header fields (folded lines joined) up to the blank line; the body as it is */
    while (pos < content->len) {
        const char *line = content->data + pos;
        const char *nl = memchr(line, '\n', content->len - pos);
        size_t len = nl ? (size_t)(nl - line) : content->len - pos;
        size_t end = pos + len + (nl != NULL);
        while (end < content->len && (content->data[end] == ' ' || content->data[end] == '\t')) {
            const char *more = memchr(content->data + end, '\n', content->len - end);
            end = more ? (size_t)(more - content->data) + 1 : content->len;
        }
        if (len == 0 || memchr(line, ':', len) == NULL)
            break;
        pn_buf_reset(&field);
        pn_buf_append(&field, line, end - pos - (content->data[end - 1] == '\n'));
        pn_buf_reset(&fresh);
        if (pn_hdraddr_kind(field.data) != PN_HDRADDR_NONE &&
            pn_hdraddr_rewrite(field.data, map, NULL, &fresh))
            pn_buf_printf(&out, "%s\n", fresh.data);
        else
            pn_buf_append(&out, line, end - pos);
        pos = end;
    }
    pn_buf_append(&out, content->data + pos, content->len - pos);
    pn_buf_release(content);
    *content = out;
    pn_buf_release(&field);
    pn_buf_release(&fresh);
}
