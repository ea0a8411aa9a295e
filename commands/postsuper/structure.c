/* structure.c: postsuper -s, the structure check and repair for a queue that was restored
 * from a backup, copied from another machine, or hashed differently since
 * (hash_queue_names): a message file whose name does not match its inode is renamed to the
 * ID its inode gives (its bounce, defer and trace logs follow it), a file in the wrong
 * subdirectory moves to the right one, and hash subdirectories left empty are removed. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/log.h"
#include "mail/qpath.h"
#include "postsuper.h"

static const char *const message_queues[] = {"incoming", "active",  "deferred",
                                             "hold",     "corrupt", NULL};
static const char *const log_queues[] = {"bounce", "defer", "trace", NULL};

/* found: one queue file, with its path and ID, for the lists below. */
struct found {
    pn_argv *paths, *ids;
};

static int note(const char *path, const char *id, void *ctx)
{
    struct found *f = ctx;
    pn_argv_add(f->paths, path);
    pn_argv_add(f->ids, id);
    return 1;
}

/* move: rename from to to (creating its subdirectory); 1 when done. */
static int move(const char *from, const char *to)
{
    struct stat st;
    if (lstat(to, &st) == 0) {
        pn_warn("%s: not moved to %s, which exists", from, to);
        return 0;
    }
    pn_queue_make_parent(to);
    if (rename(from, to) < 0) {
        pn_warn("rename %s to %s: %s", from, to, strerror(errno));
        return 0;
    }
    return 1;
}

/* inode_id: the ID the file's inode calls for, when its name calls for another. */
static int inode_id(const char *id, const struct stat *st, pn_buf *fixed)
{
    struct timeval tv;
    unsigned long long ino;
    int long_form;
    if (pn_qid_parse(id, &tv, &ino, &long_form) < 0 || ino == (unsigned long long)st->st_ino)
        return 0;
    pn_qid_make(&tv, st->st_ino, long_form, fixed);
    return 1;
}

/* remove_empty: hash subdirectories with nothing left in them. */
static void remove_empty(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    pn_buf path = PN_BUF_INIT;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || e->d_type != DT_DIR || strlen(e->d_name) != 1 || depth > 3)
            continue;
        pn_buf_reset(&path);
        pn_buf_printf(&path, "%s/%s", dir, e->d_name);
        remove_empty(path.data, depth + 1);
        if (!pn_queue_hashed(dir) || depth > 0)
            rmdir(path.data); /* fails, as it should, while something is inside */
    }
    pn_buf_release(&path);
    closedir(d);
}

int structure_repair(void)
{
    int fixes = 0;
    pn_buf want = PN_BUF_INIT, fixed = PN_BUF_INIT, from = PN_BUF_INIT, to = PN_BUF_INIT;
    for (int pass = 0; pass < 2; pass++) {
        const char *const *queues = pass == 0 ? message_queues : log_queues;
        for (int q = 0; queues[q]; q++) {
            pn_argv *paths = pn_argv_new(), *ids = pn_argv_new();
            struct found f = {paths, ids};
            pn_queue_walk(queues[q], note, &f); /* all first: repairs rename as they go */
            for (size_t i = 0; i < paths->len; i++) {
                const char *path = paths->items[i], *id = ids->items[i];
                struct stat st;
                if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
                    continue;
                pn_buf_reset(&fixed);
                if (pass == 0 && inode_id(id, &st, &fixed)) {
                    pn_queue_path(queues[q], fixed.data, &want);
                    if (!move(path, want.data))
                        continue;
                    pn_warn("%s: renamed to %s, the ID its inode number gives", path, want.data);
                    for (int l = 0; log_queues[l]; l++) { /* its logs follow it */
                        pn_queue_path(log_queues[l], id, &from);
                        pn_queue_path(log_queues[l], fixed.data, &to);
                        if (access(from.data, F_OK) == 0)
                            move(from.data, to.data);
                    }
                    fixes++;
                    continue;
                }
                pn_queue_path(queues[q], id, &want);
                if (strcmp(path, want.data) != 0 && move(path, want.data)) {
                    pn_warn("%s: moved to %s", path, want.data);
                    fixes++;
                }
            }
            remove_empty(queues[q], 0);
            pn_argv_free(paths);
            pn_argv_free(ids);
        }
    }
    pn_buf_release(&want);
    pn_buf_release(&fixed);
    pn_buf_release(&from);
    pn_buf_release(&to);
    return fixes;
}
