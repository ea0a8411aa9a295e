/* safeopen.h: open a file without following a link that someone else may have planted. */
#ifndef PN_BASE_SAFEOPEN_H
#define PN_BASE_SAFEOPEN_H
#include <sys/stat.h>

#include "base/buf.h"

/* pn_safe_open: open an existing regular file (not a symlink, one hard link) or, with O_CREAT,
 * create a new one exclusively. Returns the descriptor, or -1 with a reason in why. */
int pn_safe_open(const char *path, int flags, mode_t mode, struct stat *st, pn_buf *why);

#endif
