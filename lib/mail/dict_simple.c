/* dict_simple.c: the tables without storage: static:value (the same answer for every key),
 * fail:name (every lookup is an error, for testing error paths), and unix:passwd.byname /
 * unix:group.byname (the system's user and group databases). */
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "base/htable.h"
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
    dict_static *d =
        (dict_static *)pn_dict_alloc(type, name, flags & ~PN_DICT_FOLD_KEYS, sizeof(dict_static));
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

/* The unix: tables are read whole at open, so that a daemon that opens them before its
 * chroot can still answer inside it. Daemons are short-lived, so the copy stays fresh. */
typedef struct dict_unix {
    pn_dict dict;
    pn_htable *entries;
} dict_unix;

static int unix_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    const char *found = pn_htable_get(((dict_unix *)dict)->entries, key);
    if (found == NULL)
        return 0;
    pn_buf_set(value, found);
    return 1;
}

static void unix_free(pn_dict *dict)
{
    pn_htable_free(((dict_unix *)dict)->entries, free);
}

static void load_passwd(pn_htable *entries)
{
    struct passwd *pw;
    setpwent();
    while ((pw = getpwent()) != NULL) {
        pn_buf line = PN_BUF_INIT;
        pn_buf_printf(&line, "%s:%s:%ld:%ld:%s:%s:%s", pw->pw_name, pw->pw_passwd, (long)pw->pw_uid,
                      (long)pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell);
        if (!pn_htable_has(entries, pw->pw_name))
            pn_htable_put(entries, pw->pw_name, pn_buf_steal(&line));
        pn_buf_release(&line);
    }
    endpwent();
}

static void load_group(pn_htable *entries)
{
    struct group *gr;
    setgrent();
    while ((gr = getgrent()) != NULL) {
        pn_buf line = PN_BUF_INIT;
        pn_buf_printf(&line, "%s:%s:%ld:", gr->gr_name, gr->gr_passwd, (long)gr->gr_gid);
        for (char **mem = gr->gr_mem; *mem; mem++)
            pn_buf_printf(&line, "%s%s", mem == gr->gr_mem ? "" : ",", *mem);
        if (!pn_htable_has(entries, gr->gr_name))
            pn_htable_put(entries, gr->gr_name, pn_buf_steal(&line));
        pn_buf_release(&line);
    }
    endgrent();
}

pn_dict *pn_dict_unix_open(const char *type, const char *name, int flags, pn_buf *err)
{
    void (*load)(pn_htable *) = NULL;
    if (strcmp(name, "passwd.byname") == 0)
        load = load_passwd;
    else if (strcmp(name, "group.byname") == 0)
        load = load_group;
    if (load == NULL) {
        pn_buf_printf(err, "unknown table: %s:%s", type, name);
        return NULL;
    }
    dict_unix *d =
        (dict_unix *)pn_dict_alloc(type, name, flags & ~PN_DICT_FOLD_KEYS, sizeof(dict_unix));
    d->entries = pn_htable_new(256);
    load(d->entries);
    d->dict.lookup = unix_lookup;
    d->dict.free_backend = unix_free;
    return &d->dict;
}
