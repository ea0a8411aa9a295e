/* scan.c: moving files between queues. Activation accepts only what cleanup completed: a
 * valid queue ID as name, a regular file of ours whose owner bits are exactly rwx, not in
 * the future, and not locked by an agent still delivering from before a restart. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/lock.h"
#include "base/log.h"
#include "config/cfparams.h"
#include "mail/qpath.h"
#include "qmgr.h"

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* activate: rename queue/ID (path) into active/; 1 when it can be delivered now. */
static int activate(const char *path, const char *id, int ignore_time)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
             (st.st_mode & 0700) == 0700 && (ignore_time || st.st_mtime <= time(NULL) + 1);
    if (ok && pn_lock_fd(fd, PN_LOCK_EXCLUSIVE | PN_LOCK_NOWAIT) < 0) {
        /* An agent from before a restart still delivers it: look again in a minute. */
        struct timespec times[2] = {{time(NULL) + 60, 0}, {time(NULL) + 60, 0}};
        futimens(fd, times);
        ok = 0;
    }
    close(fd);
    if (!ok)
        return 0;
    pn_buf active = PN_BUF_INIT;
    pn_queue_path("active", id, &active);
    int rc = rename(path, active.data) == 0;
    if (!rc)
        pn_warn("rename %s to %s: %s", path, active.data, strerror(errno));
    pn_buf_release(&active);
    return rc;
}

static void scan_dir(const char *queue, const char *dir, int ignore_time)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    pn_buf path = PN_BUF_INIT;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        pn_buf_reset(&path);
        pn_buf_printf(&path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR && strlen(e->d_name) == 1) {
            scan_dir(queue, path.data, ignore_time);
            continue;
        }
        if (!pn_qid_valid(e->d_name))
            continue; /* cleanup's temporary names */
        if (message_active_count() >= pn_config_get_int("qmgr_message_active_limit"))
            break; /* the rest waits for the next scan */
        if (activate(path.data, e->d_name, ignore_time))
            message_activate(e->d_name, now_us());
    }
    pn_buf_release(&path);
    closedir(d);
}

void scan_queue(const char *queue, int ignore_time)
{
    scan_dir(queue, queue, ignore_time);
}

void scan_recover(void)
{
    DIR *d = opendir("active");
    if (d == NULL)
        return;
    struct dirent *e;
    pn_buf from = PN_BUF_INIT, to = PN_BUF_INIT;
    while ((e = readdir(d)) != NULL) {
        if (!pn_qid_valid(e->d_name))
            continue;
        pn_buf_reset(&from);
        pn_buf_printf(&from, "active/%s", e->d_name);
        pn_queue_path("incoming", e->d_name, &to);
        if (rename(from.data, to.data) < 0)
            pn_warn("rename %s to %s: %s", from.data, to.data, strerror(errno));
    }
    pn_buf_release(&from);
    pn_buf_release(&to);
    closedir(d);
}

void defer_file(const char *id, int64_t arrival_sec)
{
    long age = (long)(time(NULL) - arrival_sec);
    long lo = pn_config_get_time("minimal_backoff_time");
    long hi = pn_config_get_time("maximal_backoff_time");
    long delay = age < lo ? lo : age > hi ? hi : age;
    pn_buf from = PN_BUF_INIT, to = PN_BUF_INIT;
    pn_queue_path("active", id, &from);
    pn_queue_path("deferred", id, &to);
    struct timespec times[2] = {{time(NULL) + delay, 0}, {time(NULL) + delay, 0}};
    utimensat(AT_FDCWD, from.data, times, 0);
    if (pn_queue_make_parent(to.data) < 0)
        pn_warn("mkdir for %s: %s", to.data, strerror(errno));
    if (rename(from.data, to.data) < 0)
        pn_warn("rename %s to %s: %s", from.data, to.data, strerror(errno));
    pn_buf_release(&from);
    pn_buf_release(&to);
}

void corrupt_file(const char *id, const char *why)
{
    pn_buf from = PN_BUF_INIT, to = PN_BUF_INIT;
    pn_queue_path("active", id, &from);
    pn_queue_path("corrupt", id, &to);
    pn_warn("%s: %s: moved to the corrupt queue", id, why);
    if (rename(from.data, to.data) < 0)
        pn_warn("rename %s to %s: %s", from.data, to.data, strerror(errno));
    pn_buf_release(&from);
    pn_buf_release(&to);
}
