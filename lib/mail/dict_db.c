/* dict_db.c: hash: and btree: tables in Berkeley DB files (name.db), interchangeable with the
 * reference's: new entries are written with a trailing NUL on key and value, and lookups try
 * with the NUL first, then without, and keep whichever worked. Readers take a shared flock,
 * writers an exclusive one. A new table is built in a temporary file beside the old one and
 * renamed over it, so a reader never sees half a table. */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/lock.h"
#include "base/log.h"
#include "base/mem.h"
#include "mail/dict.h"

typedef struct dict_db {
    pn_dict dict;
    DB *db;
    DBC *cursor;
    int lock_fd;
    char *path;     /* name.db */
    char *tmp_path; /* CREATE: where the new table is built */
} dict_db;

static void fail(pn_dict *dict, const char *what, int rc)
{
    pn_buf_reset(&dict->error);
    pn_buf_printf(&dict->error, "%s:%s: %s: %s", dict->type, dict->name, what, db_strerror(rc));
}

static int get(dict_db *d, const char *key, size_t len, pn_buf *value, int *rc_out)
{
    DBT k, v;
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    k.data = (void *)key;
    k.size = (u_int32_t)len;
    int rc = d->db->get(d->db, NULL, &k, &v, 0);
    *rc_out = rc;
    if (rc != 0)
        return 0;
    size_t vlen = v.size;
    if (vlen > 0 && ((const char *)v.data)[vlen - 1] == 0)
        vlen--;
    pn_buf_reset(value);
    pn_buf_append(value, v.data, vlen);
    return 1;
}

static int db_lookup_unlocked(dict_db *d, const char *key, pn_buf *value);

/* db_lookup: readers hold a shared lock only while they look, so postmap -i is never blocked
 * for long by a daemon that keeps the table open. */
static int db_lookup(pn_dict *dict, const char *key, pn_buf *value)
{
    dict_db *d = (dict_db *)dict;
    int reader = !(dict->flags & (PN_DICT_WRITE | PN_DICT_CREATE)) && d->lock_fd >= 0;
    if (reader)
        pn_lock_fd(d->lock_fd, PN_LOCK_SHARED);
    int rc = db_lookup_unlocked(d, key, value);
    if (reader)
        pn_lock_fd(d->lock_fd, PN_LOCK_NONE);
    return rc;
}

static int db_lookup_unlocked(dict_db *d, const char *key, pn_buf *value)
{
    pn_dict *dict = &d->dict;
    size_t len = strlen(key);
    int rc = 0;
    if (dict->flags & PN_DICT_TRY_NUL) {
        if (get(d, key, len + 1, value, &rc)) {
            dict->flags &= ~PN_DICT_TRY_NONUL;
            return 1;
        }
        if (rc != DB_NOTFOUND)
            goto error;
    }
    if (dict->flags & PN_DICT_TRY_NONUL) {
        if (get(d, key, len, value, &rc)) {
            dict->flags &= ~PN_DICT_TRY_NUL;
            return 1;
        }
        if (rc != DB_NOTFOUND)
            goto error;
    }
    return 0;
error:
    fail(dict, "lookup", rc);
    return -1;
}

static int db_update(pn_dict *dict, const char *key, const char *value)
{
    dict_db *d = (dict_db *)dict;
    int with_nul = (dict->flags & PN_DICT_TRY_NUL) != 0;
    DBT k, v;
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    k.data = (void *)key;
    k.size = (u_int32_t)(strlen(key) + with_nul);
    v.data = (void *)value;
    v.size = (u_int32_t)(strlen(value) + with_nul);
    int put_flags = (dict->flags & PN_DICT_DUP_REPLACE) ? 0 : DB_NOOVERWRITE;
    int rc = d->db->put(d->db, NULL, &k, &v, put_flags);
    if (rc == DB_KEYEXIST) {
        if (!(dict->flags & PN_DICT_DUP_IGNORE))
            pn_warn("%s:%s: duplicate entry: \"%s\"", dict->type, dict->name, key);
        return 1;
    }
    if (rc != 0) {
        fail(dict, "update", rc);
        return -1;
    }
    return 0;
}

static int db_remove(pn_dict *dict, const char *key)
{
    dict_db *d = (dict_db *)dict;
    size_t len = strlen(key);
    for (int with_nul = 1; with_nul >= 0; with_nul--) {
        if (with_nul && !(dict->flags & PN_DICT_TRY_NUL))
            continue;
        if (!with_nul && !(dict->flags & PN_DICT_TRY_NONUL))
            continue;
        DBT k;
        memset(&k, 0, sizeof(k));
        k.data = (void *)key;
        k.size = (u_int32_t)(len + (size_t)with_nul);
        int rc = d->db->del(d->db, NULL, &k, 0);
        if (rc == 0)
            return 1;
        if (rc != DB_NOTFOUND) {
            fail(dict, "delete", rc);
            return -1;
        }
    }
    return 0;
}

static void strip_nul(pn_buf *out, const DBT *dbt)
{
    size_t len = dbt->size;
    if (len > 0 && ((const char *)dbt->data)[len - 1] == 0)
        len--;
    pn_buf_reset(out);
    pn_buf_append(out, dbt->data, len);
}

static int db_sequence(pn_dict *dict, int first, pn_buf *key, pn_buf *value)
{
    dict_db *d = (dict_db *)dict;
    int rc;
    if (d->cursor == NULL && (rc = d->db->cursor(d->db, NULL, &d->cursor, 0)) != 0) {
        fail(dict, "cursor", rc);
        return -1;
    }
    DBT k, v;
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    rc = d->cursor->get(d->cursor, &k, &v, first ? DB_FIRST : DB_NEXT);
    if (rc == DB_NOTFOUND)
        return 0;
    if (rc != 0) {
        fail(dict, "sequence", rc);
        return -1;
    }
    strip_nul(key, &k);
    strip_nul(value, &v);
    return 1;
}

static int close_db(dict_db *d)
{
    int rc = 0;
    if (d->cursor) {
        d->cursor->close(d->cursor);
        d->cursor = NULL;
    }
    if (d->db) {
        rc = d->db->close(d->db, 0);
        d->db = NULL;
    }
    return rc;
}

static int db_finish(pn_dict *dict)
{
    dict_db *d = (dict_db *)dict;
    int rc = close_db(d);
    if (rc != 0) {
        fail(dict, "close", rc);
        if (d->tmp_path)
            unlink(d->tmp_path);
        return -1;
    }
    if (d->tmp_path) {
        int fd = open(d->tmp_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0 || rename(d->tmp_path, d->path) < 0) {
            pn_buf_reset(&dict->error);
            pn_buf_printf(&dict->error, "install %s: %s", d->path, strerror(errno));
            unlink(d->tmp_path);
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
    }
    return 0;
}

static void db_abort(pn_dict *dict)
{
    dict_db *d = (dict_db *)dict;
    close_db(d);
    if (d->tmp_path)
        unlink(d->tmp_path);
}

static void db_free(pn_dict *dict)
{
    dict_db *d = (dict_db *)dict;
    close_db(d);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    free(d->path);
    free(d->tmp_path);
}

/* new_file_mode: the source file's group/other read bits (or 0644 with -p). */
static int new_file_mode(const char *source, int flags)
{
    struct stat st;
    if (flags & PN_DICT_MODE_0644)
        return 0644;
    if (stat(source, &st) < 0)
        return 0644;
    return 0600 | (st.st_mode & 0044);
}

pn_dict *pn_dict_db_open(const char *type, const char *name, int flags, pn_buf *err)
{
    dict_db *d = (dict_db *)pn_dict_alloc(type, name, flags, sizeof(dict_db));
    pn_dict *dict = &d->dict;
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s.db", name);
    d->path = pn_buf_steal(&path);
    d->lock_fd = -1;
    dict->lookup = db_lookup;
    dict->sequence = db_sequence;
    dict->finish = db_finish;
    dict->abort = db_abort;
    dict->free_backend = db_free;
    if (flags & (PN_DICT_WRITE | PN_DICT_CREATE)) {
        dict->update = db_update;
        dict->remove = db_remove;
    }
    const char *open_path = d->path;
    u_int32_t open_flags = DB_RDONLY;
    int mode = 0;
    if (flags & PN_DICT_CREATE) {
        pn_buf tmp = PN_BUF_INIT;
        pn_buf_printf(&tmp, "%s.%ld.tmp", d->path, (long)getpid());
        d->tmp_path = pn_buf_steal(&tmp);
        unlink(d->tmp_path);
        open_path = d->tmp_path;
        open_flags = DB_CREATE | DB_EXCL;
        mode = new_file_mode(name, flags);
        /* New tables always use the NUL convention, as the reference's postmap does. */
        dict->flags = (dict->flags & ~PN_DICT_TRY_NONUL) | PN_DICT_TRY_NUL;
    } else if (flags & PN_DICT_WRITE) {
        open_flags = DB_CREATE;
        mode = new_file_mode(name, flags);
    }
    int rc = db_create(&d->db, NULL, 0);
    if (rc == 0 && strcmp(type, "hash") == 0 && (open_flags & DB_CREATE))
        rc = d->db->set_h_nelem(d->db, 4096);
    if (rc == 0)
        rc = d->db->open(d->db, NULL, open_path, NULL,
                         strcmp(type, "hash") == 0 ? DB_HASH : DB_BTREE, open_flags, mode);
    if (rc != 0) {
        if (rc == ENOENT || rc == EACCES)
            pn_buf_printf(err, "open database %s: %s", open_path, strerror(rc));
        else
            pn_buf_printf(err, "open database %s: %s", open_path, db_strerror(rc));
        pn_dict_abort(dict);
        return NULL;
    }
    if (mode && (open_flags & DB_CREATE))
        chmod(open_path, (mode_t)mode);
    int fd;
    if (d->db->fd(d->db, &fd) == 0) {
        /* neither descriptor is for the commands that local and pipe run */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        d->lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        int writer = (flags & (PN_DICT_WRITE | PN_DICT_CREATE)) != 0;
        if (d->lock_fd >= 0 && writer && pn_lock_fd(d->lock_fd, PN_LOCK_EXCLUSIVE) < 0)
            pn_warn("lock %s: %s", open_path, strerror(errno));
    }
    if (!(flags & PN_DICT_CREATE))
        pn_dict_watch_file(dict, d->path);
    return dict;
}
