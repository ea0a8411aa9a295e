/* dict.h: lookup tables behind one interface. "type:name" selects a back end (hash, btree,
 * texthash, inline, static, regexp, pcre, cidr, unix, fail); each offers lookup and, where
 * it can, update, delete and iteration. Case folding and the trailing-NUL conventions of
 * Berkeley DB files are decided here and in dict_db.c, once. */
#ifndef PN_MAIL_DICT_H
#define PN_MAIL_DICT_H
#include <stdio.h>
#include <sys/stat.h>

#include "base/buf.h"

/* Open flags. */
#define PN_DICT_WRITE 0x0001       /* open for update (postmap -i, -d) */
#define PN_DICT_CREATE 0x0002      /* build a new table; pn_dict_close installs it */
#define PN_DICT_FOLD_KEYS 0x0004   /* lower-case keys (fixed-string tables, unless -f) */
#define PN_DICT_TRY_NUL 0x0008     /* keys/values stored with a trailing NUL */
#define PN_DICT_TRY_NONUL 0x0010   /* keys/values stored without one */
#define PN_DICT_DUP_REPLACE 0x0020 /* duplicate key on update: replace (postmap -r) */
#define PN_DICT_DUP_IGNORE 0x0040  /* duplicate key: keep the first silently (-w) */
#define PN_DICT_PATTERN 0x0080     /* set by pattern back ends: match whole strings only */
#define PN_DICT_MODE_0644 0x0100   /* postmap -p: new files get mode 0644 */
#define PN_DICT_NO_FOLD 0x0200     /* postmap -f: never fold */

#define PN_DICT_DEFAULT_FLAGS (PN_DICT_FOLD_KEYS | PN_DICT_TRY_NUL | PN_DICT_TRY_NONUL)

typedef struct pn_dict pn_dict;

struct pn_dict {
    const char *type;
    char *name;
    int flags;
    /* 1 found (value set), 0 not found, -1 error (pn_dict.error set). */
    int (*lookup)(pn_dict *dict, const char *key, pn_buf *value);
    /* 0 stored, 1 duplicate kept, -1 error. NULL: read-only table. */
    int (*update)(pn_dict *dict, const char *key, const char *value);
    /* 1 deleted, 0 not found, -1 error. */
    int (*remove)(pn_dict *dict, const char *key);
    /* 1 next pair, 0 no more, -1 error; first = 1 starts over. */
    int (*sequence)(pn_dict *dict, int first, pn_buf *key, pn_buf *value);
    /* install (CREATE) or close; -1 with error set on failure. */
    int (*finish)(pn_dict *dict);
    void (*abort)(pn_dict *dict); /* CREATE: throw the new table away */
    void (*free_backend)(pn_dict *dict);
    char *file;          /* the file whose change pn_dict_changed watches, or NULL */
    int file_fd;         /* kept open: fstat works after chroot, and sees a replacement */
    struct stat file_st; /* as it was at open */
    pn_buf error;
};

/* pn_dict_open: NULL with a message in err when the table cannot be opened. */
pn_dict *pn_dict_open(const char *spec, int flags, pn_buf *err);
/* pn_dict_lookup: folds the key when the table wants that, then asks the back end. */
int pn_dict_lookup(pn_dict *dict, const char *key, pn_buf *value);
int pn_dict_update(pn_dict *dict, const char *key, const char *value);
int pn_dict_remove(pn_dict *dict, const char *key);
int pn_dict_sequence(pn_dict *dict, int first, pn_buf *key, pn_buf *value);
/* pn_dict_changed: the backing file was modified or replaced since open. */
int pn_dict_changed(const pn_dict *dict);
/* pn_dict_close: finishes (for CREATE: fsync and rename into place) and frees. */
int pn_dict_close(pn_dict *dict, pn_buf *err);
void pn_dict_abort(pn_dict *dict);
void pn_dict_print_types(FILE *out);
const char *pn_dict_default_type(void);

/* For back ends. */
pn_dict *pn_dict_alloc(const char *type, const char *name, int flags, size_t size);
void pn_dict_watch_file(pn_dict *dict, const char *path);

/* Back-end constructors: name is the part after "type:". */
pn_dict *pn_dict_db_open(const char *type, const char *name, int flags, pn_buf *err);
pn_dict *pn_dict_text_open(const char *type, const char *name, int flags, pn_buf *err);
pn_dict *pn_dict_inline_open(const char *type, const char *name, int flags, pn_buf *err);
pn_dict *pn_dict_static_open(const char *type, const char *name, int flags, pn_buf *err);
pn_dict *pn_dict_regexp_open(const char *type, const char *name, int flags, pn_buf *err);
pn_dict *pn_dict_pcre_open(const char *type, const char *name, int flags, pn_buf *err);
pn_dict *pn_dict_cidr_open(const char *type, const char *name, int flags, pn_buf *err);
pn_dict *pn_dict_unix_open(const char *type, const char *name, int flags, pn_buf *err);
pn_dict *pn_dict_fail_open(const char *type, const char *name, int flags, pn_buf *err);

#endif
