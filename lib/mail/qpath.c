/* qpath.c: queue IDs and queue file names. An ID is derived from the creation time and the
 * file's inode, as the reference does, because IDs appear in logs, Message-IDs and admin
 * commands; a rename that would replace another file is retried with a fresh ID. */
#include "mail/qpath.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/lock.h"
#include "base/strutil.h"
#include "config/cfparams.h"

static const char base52[] = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

static void put_base(pn_buf *out, unsigned long long value, unsigned base, int min_width)
{
    char digits[32];
    int n = 0;
    do {
        digits[n++] = base52[value % base];
        value /= base;
    } while (value && n < 31);
    while (n < min_width)
        digits[n++] = '0';
    while (n > 0)
        pn_buf_putc(out, digits[--n]);
}

void pn_qid_make(const struct timeval *tv, ino_t ino, int long_form, pn_buf *out)
{
    pn_buf_reset(out);
    if (!long_form) {
        pn_buf_printf(out, "%05X%llX", (unsigned)tv->tv_usec, (unsigned long long)ino);
        return;
    }
    put_base(out, (unsigned long long)tv->tv_sec, 52, 6);
    put_base(out, (unsigned long long)tv->tv_usec, 52, 4);
    pn_buf_putc(out, 'z');
    put_base(out, (unsigned long long)ino, 51, 1);
}

/* get_base: the value of n digits of base (base52's alphabet); -1 on a foreign digit. */
static int get_base(const char *p, size_t n, unsigned base, unsigned long long *value)
{
    *value = 0;
    for (size_t i = 0; i < n; i++) {
        const char *d = memchr(base52, p[i], base);
        if (d == NULL || p[i] == 0)
            return -1;
        *value = *value * base + (unsigned long long)(d - base52);
    }
    return 0;
}

int pn_qid_parse(const char *id, struct timeval *tv, unsigned long long *ino, int *long_form)
{
    size_t n = strlen(id);
    const char *z = strchr(id, 'z');
    unsigned long long sec, usec;
    memset(tv, 0, sizeof(*tv));
    if (z && z - id == 10 && n > 11) {
        if (get_base(id, 6, 52, &sec) < 0 || get_base(id + 6, 4, 52, &usec) < 0 ||
            get_base(z + 1, n - 11, 51, ino) < 0 || usec >= 1000000)
            return -1;
        tv->tv_sec = (time_t)sec;
        tv->tv_usec = (suseconds_t)usec;
        *long_form = 1;
        return 0;
    }
    if (n < 6 || strspn(id, "0123456789ABCDEF") != n)
        return -1;
    char head[6];
    memcpy(head, id, 5);
    head[5] = 0;
    usec = strtoull(head, NULL, 16);
    *ino = strtoull(id + 5, NULL, 16);
    if (usec >= 1000000)
        return -1;
    tv->tv_usec = (suseconds_t)usec;
    *long_form = 0;
    return 0;
}

int pn_qid_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (!isalnum((unsigned char)id[n]))
            return 0;
    return n >= 6 && n < PN_QID_MAX;
}

int pn_queue_hashed(const char *queue)
{
    pn_argv *names = pn_argv_split(pn_config_get(PN_P(hash_queue_names)), PN_SEPARATORS);
    int found = 0;
    for (size_t i = 0; i < names->len; i++)
        found |= strcmp(names->items[i], queue) == 0;
    pn_argv_free(names);
    return found;
}

void pn_queue_path(const char *queue, const char *id, pn_buf *out)
{
    pn_buf_reset(out);
    pn_buf_puts(out, queue);
    if (pn_queue_hashed(queue)) {
        long depth = pn_config_get_int(PN_P(hash_queue_depth));
        for (long i = 0; i < depth && id[i]; i++)
            pn_buf_printf(out, "/%c", id[i]);
    }
    pn_buf_printf(out, "/%s", id);
}

typedef struct walk_state {
    int (*fn)(const char *path, const char *id, void *ctx);
    void *ctx;
    int all;   /* also files not named like a queue ID */
    int count; /* calls that returned more than zero */
    int stop;  /* a call returned less than zero */
} walk_state;

static void walk(const char *dir, int depth, walk_state *w)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    pn_buf path = PN_BUF_INIT;
    while (!w->stop && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        pn_buf_reset(&path);
        pn_buf_printf(&path, "%s/%s", dir, e->d_name);
        int is_id = pn_qid_valid(e->d_name);
        if (e->d_type == DT_DIR && strlen(e->d_name) == 1 && depth < 4) {
            walk(path.data, depth + 1, w);
        } else if (e->d_type != DT_DIR && (is_id || w->all)) {
            int rc = w->fn(path.data, is_id ? e->d_name : NULL, w->ctx);
            w->count += rc > 0;
            w->stop = rc < 0;
        }
    }
    pn_buf_release(&path);
    closedir(d);
}

int pn_queue_walk(const char *dir, int (*fn)(const char *path, const char *id, void *ctx),
                  void *ctx)
{
    walk_state w = {fn, ctx, 0, 0, 0};
    walk(dir, 0, &w);
    return w.count;
}

int pn_queue_walk_all(const char *dir, int (*fn)(const char *path, const char *id, void *ctx),
                      void *ctx)
{
    walk_state w = {fn, ctx, 1, 0, 0};
    walk(dir, 0, &w);
    return w.count;
}

int pn_queue_create(const char *queue, int long_form, pn_buf *id, struct timeval *created,
                    pn_buf *why)
{
    pn_buf tmp = PN_BUF_INIT, path = PN_BUF_INIT;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        pn_buf_reset(&tmp);
        pn_buf_printf(&tmp, "%s/%ld.%ld.%d", queue, (long)tv.tv_usec, (long)getpid(), attempt);
        fd = open(tmp.data, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            pn_buf_printf(why, "create file %s: %s", tmp.data, strerror(errno));
            break;
        }
        struct stat st;
        /* locked until complete: a scan tells a file still being written from debris */
        if (pn_lock_fd(fd, PN_LOCK_EXCLUSIVE) < 0 || fstat(fd, &st) < 0) {
            pn_buf_printf(why, "lock %s: %s", tmp.data, strerror(errno));
            close(fd);
            unlink(tmp.data);
            fd = -1;
            break;
        }
        gettimeofday(&tv, NULL);
        pn_qid_make(&tv, st.st_ino, long_form, id);
        pn_queue_path(queue, id->data, &path);
        if (renameat2(AT_FDCWD, tmp.data, AT_FDCWD, path.data, RENAME_NOREPLACE) < 0) {
            int saved = errno;
            close(fd);
            fd = -1;
            if (saved == EEXIST) {
                unlink(tmp.data);
                continue;
            }
            pn_buf_printf(why, "rename %s to %s: %s", tmp.data, path.data, strerror(saved));
            unlink(tmp.data);
            break;
        }
        if (created)
            *created = tv;
    }
    if (fd < 0 && why->len == 0)
        pn_buf_printf(why, "cannot create a file in %s", queue);
    pn_buf_release(&tmp);
    pn_buf_release(&path);
    return fd;
}

int pn_queue_make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash - path >= PATH_MAX)
        return 0;
    char dir[PATH_MAX];
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = 0;
    return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}
