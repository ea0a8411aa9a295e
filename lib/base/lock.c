/* lock.c: flock(2) wrappers; the same locks Postfix takes on tables and the master pid file. */
#include "base/lock.h"

#include <errno.h>
#include <sys/file.h>

int pn_lock_fd(int fd, int how)
{
    int op = LOCK_UN;
    if (how & PN_LOCK_SHARED)
        op = LOCK_SH;
    else if (how & PN_LOCK_EXCLUSIVE)
        op = LOCK_EX;
    if (how & PN_LOCK_NOWAIT)
        op |= LOCK_NB;
    for (;;) {
        if (flock(fd, op) == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}
