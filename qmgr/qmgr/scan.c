/* scan.c: moving files between queues. Activation accepts only what cleanup completed: a
 * valid queue ID as name, a regular file of ours whose owner bits are exactly rwx, not in
 * the future, and not locked by an agent still delivering from before a restart. New mail
 * arrives by name (cleanup's notice, scan_activate); whole-queue scans run at start, on
 * the periodic timer and on triggers, and they clear away the debris of killed writers. */
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
#include "base/event.h"
#include "base/log.h"
#include "config/cfparams.h"
#include "ipc/flow.h"
#include "mail/qfile.h"
#include "mail/qpath.h"
#include "qmgr.h"

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Files that are not complete and whose creator is gone (its lock is free) are debris once
 * they are this old: a killed cleanup's partial file. */
#define DEBRIS_AGE 60

static int incoming_due;      /* a scan of incoming/ was cut short or a notice was lost */
static time_t incoming_later; /* earliest future mtime seen in incoming/, or 0 */

/* debris: path is neither complete nor locked by a live writer; remove it, unless it is a
 * whole valid queue file whose mode change a crash lost (fsync came first): that one is
 * made complete, because its client may have been told 250. 1 when it may be activated. */
static int debris(const char *path, const char *id, const struct stat *st, int fd)
{
    if (st->st_mtime > time(NULL) - DEBRIS_AGE ||
        pn_lock_fd(fd, PN_LOCK_EXCLUSIVE | PN_LOCK_NOWAIT) < 0)
        return 0; /* still being written, or too young to tell */
    pn_qfile q;
    pn_buf why = PN_BUF_INIT, content = PN_BUF_INIT;
    int whole = id && st->st_size > 0 && pn_qfile_open(&q, fd, &why) == 0;
    if (whole) {
        whole = pn_qfile_read_content(&q, &content, &why) == 0;
        pn_qfile_release(&q);
    }
    if (whole && fchmod(fd, 0700) == 0) {
        pn_warn("%s: complete queue file with mode %04o: made complete", id,
                (unsigned)(st->st_mode & 07777));
    } else {
        pn_warn("%s: removing a partial queue file left by a writer that is gone (%lld bytes)",
                id ? id : path, (long long)st->st_size);
        unlink(path);
        whole = 0;
    }
    pn_buf_release(&why);
    pn_buf_release(&content);
    return whole;
}

/* activate: rename queue/ID (path) into active/; 1 when it can be delivered now. */
static int activate(const char *path, const char *id, int ignore_time)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid();
    if (ok && (st.st_mode & 0700) != 0700)
        ok = id && strncmp(path, "incoming/", 9) == 0 ? debris(path, id, &st, fd) : 0;
    if (ok && !ignore_time && st.st_mtime > time(NULL) + 1) {
        if (strncmp(path, "incoming/", 9) == 0 &&
            (incoming_later == 0 || st.st_mtime < incoming_later))
            incoming_later = st.st_mtime;
        ok = 0;
    }
    if (ok && pn_lock_fd(fd, PN_LOCK_EXCLUSIVE | PN_LOCK_NOWAIT) < 0) {
        /* An agent from before a restart still delivers it: look again in a minute. */
        struct timespec times[2] = {{time(NULL) + 60, 0}, {time(NULL) + 60, 0}};
        futimens(fd, times);
        if (incoming_later == 0 || times[0].tv_sec < incoming_later)
            incoming_later = times[0].tv_sec;
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

static int full(void)
{
    return message_active_count() >= pn_config_get_int(PN_P(qmgr_message_active_limit));
}

/* feed: while new mail gets in, cleanup finds tokens in the flow pipe (in_flow_delay) */
static void feed(void)
{
    if (pn_config_get_time(PN_P(in_flow_delay)) > 0 && !full())
        pn_flow_fill(pn_config_get_int(PN_P(default_process_limit)));
}

static int scan_one(const char *path, const char *id, void *ctx)
{
    int ignore_time = *(int *)ctx;
    if (full()) {
        incoming_due |= strncmp(path, "incoming/", 9) == 0;
        return -1; /* the rest waits until messages leave */
    }
    if (id == NULL) {
        /* a temporary name: a writer killed between create and rename */
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < time(NULL) - DEBRIS_AGE) {
            int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0 && pn_lock_fd(fd, PN_LOCK_EXCLUSIVE | PN_LOCK_NOWAIT) == 0) {
                pn_warn("removing %s left by a writer that is gone", path);
                unlink(path);
            }
            if (fd >= 0)
                close(fd);
        }
        return 0;
    }
    if (activate(path, id, ignore_time))
        message_activate(id, now_us());
    feed();
    return 0;
}

static void incoming_timer(void *ctx)
{
    (void)ctx;
    scan_queue("incoming", 0);
}

void scan_incoming_later(long ms)
{
    pn_event_timer(incoming_timer, NULL, ms);
}

void scan_queue(const char *queue, int ignore_time)
{
    static int scanning;
    int incoming = strcmp(queue, "incoming") == 0;
    if (scanning) {
        /* from inside a scan (a message finished at once): incoming/ again afterwards */
        incoming_due = 1;
        return;
    }
    scanning = 1;
    if (incoming) {
        incoming_due = 0;
        incoming_later = 0;
    }
    pn_queue_walk_all(queue, scan_one, &ignore_time);
    scanning = 0;
    feed();
    if (incoming_due && !full())
        scan_queue("incoming", 0);
    if (incoming && incoming_later) {
        long delay = (long)(incoming_later - time(NULL));
        pn_event_timer(incoming_timer, NULL, (delay > 0 ? delay : 1) * 1000L);
    }
}

void scan_activate(const char *id)
{
    if (!pn_qid_valid(id))
        return;
    if (full()) {
        incoming_due = 1;
        return;
    }
    pn_buf path = PN_BUF_INIT;
    pn_queue_path("incoming", id, &path);
    if (activate(path.data, id, 0))
        message_activate(id, now_us());
    feed();
    pn_buf_release(&path);
}

void scan_room(void)
{
    if (incoming_due && !full())
        scan_queue("incoming", 0);
    feed();
}

static int recover_one(const char *path, const char *id, void *ctx)
{
    pn_buf *to = ctx;
    pn_queue_path("incoming", id, to);
    if (rename(path, to->data) < 0)
        pn_warn("rename %s to %s: %s", path, to->data, strerror(errno));
    return 0;
}

void scan_recover(void)
{
    pn_buf to = PN_BUF_INIT;
    pn_queue_walk("active", recover_one, &to);
    pn_buf_release(&to);
}

void defer_file(const char *id, int64_t arrival_sec)
{
    long age = (long)(time(NULL) - arrival_sec);
    long lo = pn_config_get_time(PN_P(minimal_backoff_time));
    long hi = pn_config_get_time(PN_P(maximal_backoff_time));
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
