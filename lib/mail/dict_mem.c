/* dict_mem.c: in-memory tables: texthash: (a postmap source file read whole at open, no .db
 * needed) and inline:{ key=value, { key = value with blanks } }. Both fold keys like the
 * other fixed-string tables. */
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/htable.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "mail/dict.h"
#include "mail/tabsrc.h"

typedef struct dict_mem {
    pn_dict dict;
    pn_htable *table;
    const char **keys; /* for sequence */
    size_t next;
} dict_mem;

static int mem_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    const char *found = pn_htable_get(((dict_mem *)dict)->table, key);
    if (found == NULL)
        return 0;
    pn_buf_set(value, found);
    return 1;
}

static int mem_sequence(pn_dict *dict, int first, pn_buf *key, pn_buf *value)
{
    dict_mem *m = (dict_mem *)dict;
    if (first || m->keys == NULL) {
        free(m->keys);
        m->keys = pn_htable_keys(m->table);
        m->next = 0;
    }
    if (m->keys[m->next] == NULL)
        return 0;
    pn_buf_set(key, m->keys[m->next]);
    pn_buf_set(value, pn_htable_get(m->table, m->keys[m->next]));
    m->next++;
    return 1;
}

static void mem_free(pn_dict *dict)
{
    dict_mem *m = (dict_mem *)dict;
    free(m->keys);
    pn_htable_free(m->table, free);
}

static dict_mem *mem_new(const char *type, const char *name, int flags)
{
    dict_mem *m = (dict_mem *)pn_dict_alloc(type, name, flags, sizeof(dict_mem));
    m->table = pn_htable_new(64);
    m->dict.lookup = mem_lookup;
    m->dict.sequence = mem_sequence;
    m->dict.free_backend = mem_free;
    return m;
}

/* store: first entry wins, as in postmap without -r; keys folded unless told otherwise. */
static void store(dict_mem *m, const char *key, const char *value, const char *where)
{
    char *folded = pn_strdup(key);
    if ((m->dict.flags & PN_DICT_FOLD_KEYS) && !(m->dict.flags & PN_DICT_NO_FOLD))
        pn_lowercase(folded);
    if (pn_htable_has(m->table, folded))
        pn_warn("%s: duplicate entry: \"%s\"", where, folded);
    else
        pn_htable_put(m->table, folded, pn_strdup(value));
    free(folded);
}

pn_dict *pn_dict_text_open(const char *type, const char *name, int flags, pn_buf *err)
{
    pn_tabsrc *src = pn_tabsrc_open(name, PN_TABSRC_MAP, err);
    if (src == NULL)
        return NULL;
    dict_mem *m = mem_new(type, name, flags);
    pn_buf key = PN_BUF_INIT, value = PN_BUF_INIT, where = PN_BUF_INIT;
    int line, rc;
    while ((rc = pn_tabsrc_next(src, &key, &value, &line, err)) > 0) {
        pn_buf_reset(&where);
        pn_buf_printf(&where, "%s, line %d", name, line);
        store(m, key.data, value.data, where.data);
    }
    pn_tabsrc_close(src);
    pn_buf_release(&key);
    pn_buf_release(&value);
    pn_buf_release(&where);
    if (rc < 0) {
        pn_dict_abort(&m->dict);
        return NULL;
    }
    pn_dict_watch_file(&m->dict, name);
    return &m->dict;
}

pn_dict *pn_dict_inline_open(const char *type, const char *name, int flags, pn_buf *err)
{
    size_t len = strlen(name);
    if (len < 2 || name[0] != '{' || name[len - 1] != '}') {
        pn_buf_printf(err, "%s:%s: need \"%s:{name=value...}\"", type, name, type);
        return NULL;
    }
    char *inner = pn_strndup(name + 1, len - 2);
    const char *why = NULL;
    pn_argv *items = pn_argv_split_grouped(inner, PN_SEPARATORS, &why);
    free(inner);
    if (items == NULL) {
        pn_buf_printf(err, "%s:%s: %s", type, name, why);
        return NULL;
    }
    dict_mem *m = mem_new(type, name, flags);
    for (size_t i = 0; i < items->len; i++) {
        char *item = items->items[i];
        char *eq = strchr(item, '=');
        if (eq == NULL) {
            pn_buf_printf(err, "%s:%s: \"%s\": need name=value", type, name, item);
            pn_argv_free(items);
            pn_dict_abort(&m->dict);
            return NULL;
        }
        *eq = 0;
        pn_buf where = PN_BUF_INIT;
        pn_buf_printf(&where, "%s:%s", type, name);
        store(m, pn_trim(item), pn_trim(eq + 1), where.data);
        pn_buf_release(&where);
    }
    pn_argv_free(items);
    return &m->dict;
}
