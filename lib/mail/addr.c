/* addr.c: address splitting and the local-context rewrite. The rules are the reference's, in
 * its order; each is a parameter (swap_bangpath, allow_percent_hack, append_at_myorigin,
 * append_dot_mydomain). */
#include "mail/addr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"

const char *pn_addr_at(const char *addr)
{
    const char *at = NULL;
    int quoted = 0;
    for (const char *cp = addr; *cp; cp++) {
        if (*cp == '\\' && cp[1]) {
            cp++;
            continue;
        }
        if (*cp == '"')
            quoted = !quoted;
        else if (*cp == '@' && !quoted)
            at = cp;
    }
    return at;
}

void pn_addr_domain(const char *addr, pn_buf *out)
{
    const char *at = pn_addr_at(addr);
    pn_buf_set(out, at ? at + 1 : "");
    pn_lowercase(out->data);
}

void pn_addr_localpart(const char *addr, pn_buf *out)
{
    const char *at = pn_addr_at(addr);
    pn_buf_reset(out);
    pn_buf_append(out, addr, at ? (size_t)(at - addr) : strlen(addr));
}

static int local_needs_quotes(const char *local);

/* normalize_quotes: a quoted local part keeps its quotes only where it needs them
 * ("user"@x -> user@x, "a b"@x stays), as the reference's external form has them. */
static void normalize_quotes(pn_buf *addr)
{
    const char *at = pn_addr_at(addr->data);
    size_t local_len = at ? (size_t)(at - addr->data) : addr->len;
    if (local_len < 2 || addr->data[0] != '"' || addr->data[local_len - 1] != '"')
        return;
    pn_buf content = PN_BUF_INIT, result = PN_BUF_INIT;
    pn_buf_init(&content);
    for (size_t i = 1; i < local_len - 1; i++) {
        if (addr->data[i] == '\\' && i + 1 < local_len - 1)
            i++;
        pn_buf_putc(&content, addr->data[i]);
    }
    if (content.len > 0 && !local_needs_quotes(content.data)) {
        pn_buf_puts(&result, content.data);
        pn_buf_puts(&result, at ? at : "");
        pn_buf_set(addr, result.data);
    }
    pn_buf_release(&content);
    pn_buf_release(&result);
}

void pn_addr_rewrite_local(const char *addr, pn_buf *out)
{
    pn_buf_set(out, addr);
    normalize_quotes(out);
    if (strcmp(out->data, "@") == 0)
        pn_buf_reset(out);
    if (out->len == 0)
        return;
    /* @a,@b:user@dom -> user@dom */
    if (out->data[0] == '@') {
        char *colon = strchr(out->data, ':');
        if (colon) {
            pn_buf rest = PN_BUF_INIT;
            pn_buf_set(&rest, colon + 1);
            pn_buf_set(out, rest.data);
            pn_buf_release(&rest);
        }
    }
    if (pn_addr_at(out->data) == NULL) {
        char *bang = strchr(out->data, '!');
        char *percent = strrchr(out->data, '%');
        if (bang && pn_config_get_bool(PN_P(swap_bangpath))) {
            pn_buf swapped = PN_BUF_INIT;
            pn_buf_printf(&swapped, "%s@%.*s", bang + 1, (int)(bang - out->data), out->data);
            pn_buf_set(out, swapped.data);
            pn_buf_release(&swapped);
        } else if (percent && pn_config_get_bool(PN_P(allow_percent_hack))) {
            *percent = '@';
        } else if (pn_config_get_bool(PN_P(append_at_myorigin))) {
            pn_buf_printf(out, "@%s", pn_config_get_hostname(PN_P(myorigin)));
        }
    }
    const char *at = pn_addr_at(out->data);
    if (at && pn_config_get_bool(PN_P(append_dot_mydomain)) && at[1] && at[1] != '[' &&
        strchr(at + 1, '.') == NULL)
        pn_buf_printf(out, ".%s", pn_config_get(PN_P(mydomain)));
    at = pn_addr_at(out->data);
    if (at && out->len > 2 && out->data[out->len - 1] == '.' && out->data[out->len - 2] != '.' &&
        out->data[out->len - 2] != '@')
        pn_buf_truncate(out, out->len - 1);
}

size_t pn_addr_extension_at(const char *addr, const char *delims)
{
    const char *at = pn_addr_at(addr);
    size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
    if (delims == NULL || *delims == 0)
        return local_len;
    if (strchr(delims, '-') && pn_config_get_bool(PN_P(owner_request_special)) &&
        ((local_len > 6 && strncasecmp(addr, "owner-", 6) == 0) ||
         (local_len > 8 && strncasecmp(addr + local_len - 8, "-request", 8) == 0)))
        return local_len;
    size_t n = strcspn(addr, delims);
    return n == 0 || n >= local_len ? local_len : n;
}

int pn_addr_strip_extension(const char *addr_in, const char *delims, pn_buf *out)
{
    char *addr = pn_strdup(addr_in); /* out may hold addr_in */
    const char *at = pn_addr_at(addr);
    size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
    size_t n = pn_addr_extension_at(addr, delims);
    int rc = n < local_len;
    if (!rc) {
        pn_buf_set(out, addr);
    } else {
        pn_buf_reset(out);
        pn_buf_append(out, addr, n);
        if (at)
            pn_buf_puts(out, at);
    }
    free(addr);
    return rc;
}

static int local_needs_quotes(const char *local)
{
    size_t len = strlen(local);
    if (len > 0 && (local[0] == '.' || local[len - 1] == '.' || strstr(local, "..")))
        return 1;
    for (const unsigned char *cp = (const unsigned char *)local; *cp; cp++)
        if (*cp < 0x21 || *cp == 0x7f || (*cp != '.' && strchr("()<>@,;:\\\".[]", *cp)))
            return 1;
    return 0;
}

void pn_addr_quote_local(const char *local, pn_buf *out)
{
    if (!local_needs_quotes(local)) {
        pn_buf_puts(out, local);
        return;
    }
    pn_buf_putc(out, '"');
    for (const char *cp = local; *cp; cp++) {
        if (*cp == '"' || *cp == '\\')
            pn_buf_putc(out, '\\');
        pn_buf_putc(out, *cp);
    }
    pn_buf_putc(out, '"');
}

int pn_addr_has_control(const char *addr, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)addr[i] < 0x20 || addr[i] == 0x7f)
            return 1;
    return 0;
}
