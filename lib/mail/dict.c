/* dict.c: the table registry and the generic parts of every table: "type:name" parsing, key
 * folding, change detection. Adding a back end means one file and one line in backends[]. */
#include "mail/dict.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"

struct backend {
    const char *type;
    pn_dict *(*open)(const char *type, const char *name, int flags, pn_buf *err);
};

static const struct backend backends[] = {
    {"btree", pn_dict_db_open},
    {"cidr", pn_dict_cidr_open},
    {"fail", pn_dict_fail_open},
    {"hash", pn_dict_db_open},
    {"inline", pn_dict_inline_open},
#if PN_HAVE_PCRE2
    {"pcre", pn_dict_pcre_open},
#endif
    {"regexp", pn_dict_regexp_open},
    {"static", pn_dict_static_open},
    {"texthash", pn_dict_text_open},
    {"unix", pn_dict_unix_open},
    {NULL, NULL},
};

const char *pn_dict_default_type(void)
{
    const char *type = pn_param_find(PN_P(default_database_type))
                           ? pn_config_get(PN_P(default_database_type))
                           : "hash";
    return *type ? type : "hash";
}

void pn_dict_print_types(FILE *out)
{
    for (const struct backend *b = backends; b->type; b++)
        fprintf(out, "%s\n", b->type);
}

pn_dict *pn_dict_alloc(const char *type, const char *name, int flags, size_t size)
{
    pn_dict *dict = pn_calloc(1, size < sizeof(pn_dict) ? sizeof(pn_dict) : size);
    dict->file_fd = -1;
    dict->type = type;
    dict->name = pn_strdup(name);
    dict->flags = flags;
    pn_buf_init(&dict->error);
    return dict;
}

void pn_dict_watch_file(pn_dict *dict, const char *path)
{
    free(dict->file);
    dict->file = pn_strdup(path);
    if (dict->file_fd >= 0)
        close(dict->file_fd);
    dict->file_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (dict->file_fd < 0 || fstat(dict->file_fd, &dict->file_st) < 0)
        memset(&dict->file_st, 0, sizeof(dict->file_st));
}

pn_dict *pn_dict_open(const char *spec, int flags, pn_buf *err)
{
    const char *colon = strchr(spec, ':');
    if (colon == NULL) {
        pn_buf_printf(err, "table \"%s\": need type:name", spec);
        return NULL;
    }
    char *type = pn_strndup(spec, (size_t)(colon - spec));
    const char *name = colon + 1;
    pn_dict *dict = NULL;
    for (const struct backend *b = backends; b->type; b++) {
        if (strcmp(b->type, type) == 0) {
            dict = b->open(b->type, name, flags, err);
            break;
        }
    }
    if (dict == NULL && err->len == 0)
        pn_buf_printf(err, "unsupported dictionary type: %s", type);
    free(type);
    return dict;
}

static const char *fold(const pn_dict *dict, const char *key, pn_buf *tmp)
{
    if (!(dict->flags & PN_DICT_FOLD_KEYS) || (dict->flags & PN_DICT_NO_FOLD))
        return key;
    pn_buf_set(tmp, key);
    pn_lowercase(tmp->data);
    return tmp->data;
}

int pn_dict_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    pn_buf tmp = PN_BUF_INIT;
    pn_buf_reset(value);
    int rc = dict->lookup(dict, fold(dict, key, &tmp), value);
    pn_buf_release(&tmp);
    return rc;
}

int pn_dict_update(pn_dict *dict, const char *key, const char *value)
{
    if (dict->update == NULL) {
        pn_buf_reset(&dict->error);
        pn_buf_printf(&dict->error, "%s:%s: table does not support updates", dict->type,
                      dict->name);
        return -1;
    }
    pn_buf tmp = PN_BUF_INIT;
    int rc = dict->update(dict, fold(dict, key, &tmp), value);
    pn_buf_release(&tmp);
    return rc;
}

int pn_dict_remove(pn_dict *dict, const char *key)
{
    if (dict->remove == NULL) {
        pn_buf_reset(&dict->error);
        pn_buf_printf(&dict->error, "%s:%s: table does not support deletes", dict->type,
                      dict->name);
        return -1;
    }
    pn_buf tmp = PN_BUF_INIT;
    int rc = dict->remove(dict, fold(dict, key, &tmp));
    pn_buf_release(&tmp);
    return rc;
}

int pn_dict_sequence(pn_dict *dict, int first, pn_buf *key, pn_buf *value)
{
    if (dict->sequence == NULL) {
        pn_buf_reset(&dict->error);
        pn_buf_printf(&dict->error, "%s:%s: table does not support iteration", dict->type,
                      dict->name);
        return -1;
    }
    return dict->sequence(dict, first, key, value);
}

int pn_dict_changed(const pn_dict *dict)
{
    struct stat st;
    if (dict->file == NULL)
        return 0;
    /* Through the descriptor, so that this works inside a chroot: a file replaced by rename
     * has lost its last link; one changed in place has a new mtime or size. */
    if (dict->file_fd < 0 || fstat(dict->file_fd, &st) < 0)
        return 1;
    return st.st_nlink == 0 || st.st_mtime != dict->file_st.st_mtime ||
           st.st_size != dict->file_st.st_size;
}

static void dict_free(pn_dict *dict)
{
    if (dict->free_backend)
        dict->free_backend(dict);
    free(dict->name);
    free(dict->file);
    if (dict->file_fd >= 0)
        close(dict->file_fd);
    pn_buf_release(&dict->error);
    free(dict);
}

int pn_dict_close(pn_dict *dict, pn_buf *err)
{
    int rc = 0;
    if (dict->finish && dict->finish(dict) < 0) {
        if (err)
            pn_buf_puts(err, pn_buf_str(&dict->error));
        rc = -1;
    }
    dict_free(dict);
    return rc;
}

void pn_dict_abort(pn_dict *dict)
{
    if (dict->abort)
        dict->abort(dict);
    dict_free(dict);
}
