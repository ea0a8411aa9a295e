/* safeopen.c: checks that the file opened is the file examined: O_NOFOLLOW, then fstat must
 * show a regular file with one link, the same one lstat saw. */
#include "base/safeopen.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int pn_safe_open(const char *path, int flags, mode_t mode, struct stat *st, pn_buf *why)
{
    struct stat lst, fst;
    if (flags & O_CREAT)
        flags |= O_EXCL;
    else if (lstat(path, &lst) < 0) {
        pn_buf_printf(why, "lstat %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        pn_buf_printf(why, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &fst) < 0) {
        pn_buf_printf(why, "fstat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    const char *bad = NULL;
    if (!S_ISREG(fst.st_mode))
        bad = "not a regular file";
    else if (fst.st_nlink != 1)
        bad = "file has the wrong number of links";
    else if (!(flags & O_CREAT) && (fst.st_dev != lst.st_dev || fst.st_ino != lst.st_ino))
        bad = "file was replaced while it was opened";
    if (bad) {
        pn_buf_printf(why, "%s: %s", path, bad);
        close(fd);
        return -1;
    }
    if (st)
        *st = fst;
    return fd;
}
