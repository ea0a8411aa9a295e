/* mboxlock.c: fcntl, flock and dot-file locks on an mbox file, tried without blocking and
 * retried (mboxlock.h). */
#include "mail/mboxlock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/lock.h"
#include "config/cfparams.h"

/* try_kernel: one non-blocking attempt at an fcntl or flock lock; 1 taken, 0 busy, -1 error. */
static int try_kernel(int fd, int use_fcntl)
{
    int rc;
    if (use_fcntl) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        rc = fcntl(fd, F_SETLK, &fl);
    } else {
        rc = pn_lock_fd(fd, PN_LOCK_EXCLUSIVE | PN_LOCK_NOWAIT);
    }
    if (rc == 0)
        return 1;
    return errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

/* try_dotlock: one attempt at PATH.lock; 1 made, 0 held by another, -1 error (errno). A lock
 * file older than stale_lock_time is removed, and the attempt counts as busy. */
static int try_dotlock(const char *lockpath)
{
    int fd = open(lockpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 1;
    }
    if (errno != EEXIST)
        return -1;
    struct stat st;
    if (lstat(lockpath, &st) == 0 &&
        time(NULL) - st.st_mtime > pn_config_get_time(PN_P(stale_lock_time)))
        unlink(lockpath);
    return 0;
}

static void release_kernel(int fd, int use_fcntl)
{
    if (use_fcntl) {
        struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        fcntl(fd, F_SETLK, &fl);
    } else {
        pn_lock_fd(fd, PN_LOCK_NONE);
    }
}

int pn_mbox_lock_take(pn_mbox_lock *lock, int fd, const char *path, const char *methods,
                      int dotlock_may_fail, pn_buf *why)
{
    lock->fd = fd;
    pn_buf_init(&lock->dotlock);
    int want_fcntl = 0, want_flock = 0, want_dot = 0;
    pn_argv *list = pn_argv_split(methods, ", \t");
    for (size_t i = 0; i < list->len; i++) {
        want_fcntl |= strcmp(list->items[i], "fcntl") == 0;
        want_flock |= strcmp(list->items[i], "flock") == 0;
        want_dot |= strcmp(list->items[i], "dotlock") == 0;
    }
    pn_argv_free(list);
    pn_buf lockpath = PN_BUF_INIT;
    pn_buf_printf(&lockpath, "%s.lock", path);
    long attempts = pn_config_get_int(PN_P(deliver_lock_attempts));
    long delay = pn_config_get_time(PN_P(deliver_lock_delay));
    int have_dot = 0, have_fcntl = 0, have_flock = 0, rc = -1;
    const char *busy = NULL;
    for (long attempt = 0; attempt < (attempts > 0 ? attempts : 1); attempt++) {
        if (attempt > 0 && delay > 0)
            sleep((unsigned)delay);
        busy = NULL;
        if (want_dot && !have_dot) {
            int r = try_dotlock(lockpath.data);
            if (r < 0 && dotlock_may_fail && (errno == EACCES || errno == EPERM || errno == EROFS)) {
                want_dot = 0; /* a directory the user may not write: no dotlock there */
            } else if (r < 0) {
                pn_buf_printf(why, "cannot create lock file %s: %s", lockpath.data,
                              strerror(errno));
                goto out;
            } else if (r == 0) {
                busy = "lock file";
                continue;
            } else {
                have_dot = 1;
            }
        }
        int r = 1;
        if (want_fcntl && !have_fcntl && (r = try_kernel(fd, 1)) > 0)
            have_fcntl = 1;
        if (r < 0) {
            pn_buf_puts(why, strerror(errno));
            goto out;
        }
        if (r == 0) {
            busy = "fcntl lock";
            continue;
        }
        if (want_flock && !have_flock && (r = try_kernel(fd, 0)) > 0)
            have_flock = 1;
        if (r < 0) {
            pn_buf_puts(why, strerror(errno));
            goto out;
        }
        if (r == 0) {
            busy = "flock lock";
            continue;
        }
        rc = 0;
        break;
    }
    if (rc < 0 && busy)
        pn_buf_printf(why, "the %s is held by another process", busy);
out:
    if (rc < 0) {
        if (have_fcntl)
            release_kernel(fd, 1);
        if (have_flock)
            release_kernel(fd, 0);
        if (have_dot)
            unlink(lockpath.data);
    } else if (have_dot) {
        pn_buf_set(&lock->dotlock, lockpath.data);
    }
    pn_buf_release(&lockpath);
    return rc;
}

void pn_mbox_lock_release(pn_mbox_lock *lock)
{
    release_kernel(lock->fd, 1);
    release_kernel(lock->fd, 0);
    if (lock->dotlock.len)
        unlink(lock->dotlock.data);
    pn_buf_release(&lock->dotlock);
}
