/* domlist.c: matching a domain against a domain list. The first item that matches decides
 * (a "!" item makes it a non-match); a table error is reported as such, never as a match. */
#include "mail/domlist.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/stream.h"
#include "base/strutil.h"
#include "config/cfparams.h"

static int parent_matching(const char *title)
{
    pn_argv *names =
        pn_argv_split(pn_config_get(PN_P(parent_domain_matches_subdomains)), PN_SEPARATORS);
    int found = 0;
    for (size_t i = 0; i < names->len; i++)
        found |= strcmp(names->items[i], title) == 0;
    pn_argv_free(names);
    return found;
}

static void add(pn_domlist *l, char kind, const char *name, pn_maps *table)
{
    l->order = pn_realloc(l->order, l->count + 2);
    l->order[l->count] = kind;
    l->order[l->count + 1] = 0;
    l->tables = pn_reallocarray(l->tables, l->count + 1, sizeof(pn_maps *));
    l->tables[l->count] = table;
    char *lower = pn_strdup(name ? name : "");
    pn_argv_add(l->names, pn_lowercase(lower));
    free(lower);
    l->count++;
}

static int add_item(pn_domlist *l, const char *item, pn_buf *err)
{
    int negate = item[0] == '!';
    if (item[negate] == '/') { /* "!/file": each of its words negated */
        item += negate;
        pn_stream *s = pn_stream_open(item, O_RDONLY, 0);
        if (s == NULL) {
            pn_buf_printf(err, "%s: open %s: cannot read", l->title, item);
            return -1;
        }
        pn_buf line = PN_BUF_INIT;
        int rc;
        while ((rc = pn_stream_get_line(s, &line, 65536)) == PN_LINE_OK || rc == PN_LINE_LAST) {
            char *text = pn_trim(line.data);
            if (*text == '#')
                continue;
            pn_argv *words = pn_argv_split(text, PN_SEPARATORS);
            for (size_t i = 0; i < words->len; i++) {
                pn_buf word = PN_BUF_INIT;
                pn_buf_printf(&word, "%s%s", negate ? "!" : "", words->items[i]);
                add(l, 'n', word.data, NULL);
                pn_buf_release(&word);
            }
            pn_argv_free(words);
        }
        pn_buf_release(&line);
        pn_stream_close(s);
        return 0;
    }
    const char *colon = strchr(item + negate, ':');
    if (colon && colon != item + negate && item[negate] != '[') {
        pn_maps *table = pn_maps_open(l->title, item + negate, PN_DICT_DEFAULT_FLAGS, err);
        if (table == NULL)
            return -1;
        add(l, 't', negate ? "!" : NULL, table); /* "!type:table": a key found excludes */
        return 0;
    }
    add(l, 'n', item, NULL);
    return 0;
}

pn_domlist *pn_domlist_open(const char *title, const char *value, pn_buf *err)
{
    pn_domlist *l = pn_calloc(1, sizeof(*l));
    l->title = pn_strdup(title);
    l->names = pn_argv_new();
    l->parent_match = parent_matching(title);
    const char *why = NULL;
    pn_argv *items = pn_argv_split_grouped(value, PN_SEPARATORS, &why);
    if (items == NULL) {
        pn_buf_printf(err, "%s: %s", title, why);
        pn_domlist_free(l);
        return NULL;
    }
    for (size_t i = 0; i < items->len; i++) {
        if (add_item(l, items->items[i], err) < 0) {
            pn_argv_free(items);
            pn_domlist_free(l);
            return NULL;
        }
    }
    pn_argv_free(items);
    return l;
}

void pn_domlist_free(pn_domlist *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->count; i++)
        pn_maps_free(l->tables[i]);
    free(l->tables);
    free(l->order);
    pn_argv_free(l->names);
    free(l->title);
    free(l);
}

static int name_matches(const pn_domlist *l, const char *pattern, const char *domain)
{
    if (strcmp(pattern, domain) == 0)
        return 1;
    size_t plen = strlen(pattern), dlen = strlen(domain);
    if (pattern[0] == '.')
        return dlen > plen && strcmp(domain + dlen - plen, pattern) == 0;
    return l->parent_match && dlen > plen + 1 && domain[dlen - plen - 1] == '.' &&
           strcmp(domain + dlen - plen, pattern) == 0;
}

int pn_domlist_match(pn_domlist *l, const char *domain_in)
{
    char *domain = pn_lowercase(pn_strdup(domain_in));
    int result = 0;
    pn_buf value = PN_BUF_INIT;
    for (size_t i = 0; i < l->count; i++) {
        const char *pattern = l->names->items[i];
        int negate = pattern[0] == '!';
        int hit;
        if (l->order[i] == 'n') {
            hit = name_matches(l, pattern + negate, domain);
        } else {
            hit = pn_maps_find_domain(
                l->tables[i], domain,
                l->parent_match ? PN_MAPS_PARENT_PLAIN | PN_MAPS_PARENT_DOT : 0, &value);
            if (hit < 0) {
                result = -1;
                break;
            }
        }
        if (hit) {
            result = !negate;
            break;
        }
    }
    pn_buf_release(&value);
    free(domain);
    return result;
}
