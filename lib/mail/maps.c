/* maps.c: searching lists of tables in the reference's orders. A table error stops the
 * search with -1 rather than falling through to a later, more permissive answer. */
#include "mail/maps.h"

#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "mail/addr.h"

pn_maps *pn_maps_open(const char *title, const char *spec, int dict_flags, pn_buf *err)
{
    const char *why = NULL;
    pn_argv *items = pn_argv_split_grouped(spec, PN_SEPARATORS, &why);
    if (items == NULL) {
        pn_buf_printf(err, "%s: %s", title, why);
        return NULL;
    }
    pn_maps *maps = pn_calloc(1, sizeof(*maps));
    maps->title = pn_strdup(title);
    maps->dicts = pn_calloc(items->len + 1, sizeof(pn_dict *));
    for (size_t i = 0; i < items->len; i++) {
        pn_dict *dict = pn_dict_open(items->items[i], dict_flags, err);
        if (dict == NULL) {
            pn_argv_free(items);
            pn_maps_free(maps);
            return NULL;
        }
        maps->dicts[maps->count++] = dict;
    }
    pn_argv_free(items);
    return maps;
}

void pn_maps_free(pn_maps *maps)
{
    if (maps == NULL)
        return;
    for (size_t i = 0; i < maps->count; i++)
        pn_dict_close(maps->dicts[i], NULL);
    free(maps->dicts);
    free(maps->title);
    free(maps);
}

/* find: key in every table, or (fixed_only) only in fixed-string tables. */
static int find(pn_maps *maps, const char *key, int fixed_only, pn_buf *value)
{
    for (size_t i = 0; i < maps->count; i++) {
        pn_dict *dict = maps->dicts[i];
        if (fixed_only && (dict->flags & PN_DICT_PATTERN))
            continue;
        int rc = pn_dict_lookup(dict, key, value);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int pn_maps_find(pn_maps *maps, const char *key, pn_buf *value)
{
    return find(maps, key, 0, value);
}

int pn_maps_find_fixed(pn_maps *maps, const char *key, pn_buf *value)
{
    return find(maps, key, 1, value);
}

int pn_maps_find_addr(pn_maps *maps, const char *addr, const char *delims, int flags, pn_buf *value)
{
    return pn_maps_find_addr_ext(maps, addr, delims, flags, value, NULL);
}

int pn_maps_find_addr_ext(pn_maps *maps, const char *addr, const char *delims, int flags,
                          pn_buf *value, pn_buf *unmatched)
{
    if (unmatched)
        pn_buf_reset(unmatched);
    int rc = find(maps, addr, 0, value);
    if (rc != 0)
        return rc;
    const char *at = strrchr(addr, '@');
    size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
    const char *domain = at ? at : "";
    size_t base_len = pn_addr_extension_at(addr, delims);
    int with_extension = 0; /* the key that matched held the extension */
    pn_buf key = PN_BUF_INIT;
    pn_buf_init(&key);
    if (base_len < local_len) {
        pn_buf_append(&key, addr, base_len);
        pn_buf_puts(&key, domain);
        rc = find(maps, key.data, 1, value);
    }
    if (rc == 0 && (flags & PN_MAPS_LOCALPART) && at) {
        pn_buf_reset(&key);
        pn_buf_append(&key, addr, local_len);
        rc = find(maps, key.data, 1, value);
        with_extension = rc > 0;
        if (rc == 0 && base_len < local_len) {
            pn_buf_reset(&key);
            pn_buf_append(&key, addr, base_len);
            rc = find(maps, key.data, 1, value);
        }
    }
    if (rc == 0 && at)
        rc = find(maps, at, 1, value);
    pn_buf_release(&key);
    if (rc > 0 && unmatched && !with_extension && base_len < local_len)
        pn_buf_append(unmatched, addr + base_len, local_len - base_len);
    return rc;
}

void pn_maps_propagate_extension(const char *result, const char *extension, pn_buf *out)
{
    const char *at = strrchr(result, '@');
    size_t local_len = at ? (size_t)(at - result) : strlen(result);
    pn_buf_reset(out);
    pn_buf_append(out, result, local_len);
    if (local_len > 0) /* "@domain" results keep the local part the caller puts there */
        pn_buf_puts(out, extension);
    pn_buf_puts(out, result + local_len);
}

int pn_maps_find_domain(pn_maps *maps, const char *domain, int flags, pn_buf *value)
{
    int rc = find(maps, domain, 0, value);
    pn_buf key = PN_BUF_INIT;
    pn_buf_init(&key);
    for (const char *dot = strchr(domain, '.'); rc == 0 && dot; dot = strchr(dot + 1, '.')) {
        if (flags & PN_MAPS_PARENT_DOT) {
            rc = find(maps, dot, 1, value);
            if (rc != 0)
                break;
        }
        if ((flags & PN_MAPS_PARENT_PLAIN) && dot[1])
            rc = find(maps, dot + 1, 1, value);
    }
    pn_buf_release(&key);
    return rc;
}

int pn_maps_changed(const pn_maps *maps)
{
    for (size_t i = 0; i < maps->count; i++)
        if (pn_dict_changed(maps->dicts[i]))
            return 1;
    return 0;
}
