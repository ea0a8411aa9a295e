/* lock.h: advisory whole-file locks (flock), shared or exclusive, blocking or not. */
#ifndef PN_BASE_LOCK_H
#define PN_BASE_LOCK_H

#define PN_LOCK_NONE 0
#define PN_LOCK_SHARED 1
#define PN_LOCK_EXCLUSIVE 2
#define PN_LOCK_NOWAIT 4

/* pn_lock_fd: returns 0, or -1 with errno (EWOULDBLOCK when NOWAIT and taken). */
int pn_lock_fd(int fd, int how);

#endif
