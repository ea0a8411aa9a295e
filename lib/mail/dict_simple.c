/* dict_simple.c: the tables without storage: static:value (the same answer for every key),
 * fail:name (every lookup is an error, for testing error paths), and unix:passwd.byname /
 * unix:group.byname (the system's user and group databases). */
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "mail/dict.h"

typedef struct dict_static {
    pn_dict dict;
    char *value;
} dict_static;

static int static_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    (void)key;
    pn_buf_set(value, ((dict_static *)dict)->value);
    return 1;
}

static void static_free(pn_dict *dict)
{
    free(((dict_static *)dict)->value);
}

pn_dict *pn_dict_static_open(const char *type, const char *name, int flags, pn_buf *err)
{
    (void)err;
    dict_static *d = (dict_static *)pn_dict_alloc(type, name, flags & ~PN_DICT_FOLD_KEYS,
                                                  sizeof(dict_static));
    size_t len = strlen(name);
    if (len >= 2 && name[0] == '{' && name[len - 1] == '}') {
        size_t start = 1, end = len - 1;
        while (start < end && (name[start] == ' ' || name[start] == '\t'))
            start++;
        while (end > start && (name[end - 1] == ' ' || name[end - 1] == '\t'))
            end--;
        d->value = pn_strndup(name + start, end - start);
    } else {
        d->value = pn_strdup(name);
    }
    d->dict.lookup = static_lookup;
    d->dict.free_backend = static_free;
    return &d->dict;
}

static int fail_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    (void)key;
    (void)value;
    pn_buf_reset(&dict->error);
    pn_buf_printf(&dict->error, "%s:%s: table lookup failed", dict->type, dict->name);
    return -1;
}

pn_dict *pn_dict_fail_open(const char *type, const char *name, int flags, pn_buf *err)
{
    (void)err;
    pn_dict *dict = pn_dict_alloc(type, name, flags, sizeof(pn_dict));
    dict->lookup = fail_lookup;
    return dict;
}

static int passwd_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    (void)dict;
    struct passwd *pw = getpwnam(key);
    if (pw == NULL)
        return 0;
    pn_buf_reset(value);
    pn_buf_printf(value, "%s:%s:%ld:%ld:%s:%s:%s", pw->pw_name, pw->pw_passwd, (long)pw->pw_uid,
                  (long)pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell);
    return 1;
}

static int group_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    (void)dict;
    struct group *gr = getgrnam(key);
    if (gr == NULL)
        return 0;
    pn_buf_reset(value);
    pn_buf_printf(value, "%s:%s:%ld:", gr->gr_name, gr->gr_passwd, (long)gr->gr_gid);
    for (char **mem = gr->gr_mem; *mem; mem++)
        pn_buf_printf(value, "%s%s", mem == gr->gr_mem ? "" : ",", *mem);
    return 1;
}

pn_dict *pn_dict_unix_open(const char *type, const char *name, int flags, pn_buf *err)
{
    int (*lookup)(pn_dict *, const char *, pn_buf *) = NULL;
    if (strcmp(name, "passwd.byname") == 0)
        lookup = passwd_lookup;
    else if (strcmp(name, "group.byname") == 0)
        lookup = group_lookup;
    if (lookup == NULL) {
        pn_buf_printf(err, "unknown table: %s:%s", type, name);
        return NULL;
    }
    pn_dict *dict = pn_dict_alloc(type, name, flags & ~PN_DICT_FOLD_KEYS, sizeof(pn_dict));
    dict->lookup = lookup;
    return dict;
}
