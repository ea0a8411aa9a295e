/* mboxlock.h: the locks an mbox file is written under, as mailbox_delivery_lock (local) and
 * virtual_mailbox_lock (virtual) list them: "fcntl" (a POSIX record lock on the whole file),
 * "flock" (a BSD lock) and "dotlock" (the file PATH.lock, made exclusively, removed when done;
 * one older than stale_lock_time is another's leftover and is removed). Each is tried without
 * waiting, deliver_lock_attempts times deliver_lock_delay apart, so that a mail reader holding
 * the mailbox delays a delivery but never blocks the agent for good. The names are checked
 * where the settings are read (their word lists in cfparams_list.h). */
#ifndef PN_MAIL_MBOXLOCK_H
#define PN_MAIL_MBOXLOCK_H
#include "base/buf.h"

typedef struct pn_mbox_lock {
    int fd;
    pn_buf dotlock; /* the lock file made, "" when none */
} pn_mbox_lock;

/* pn_mbox_lock_take: every lock of methods on the open file fd at path; 0, or -1 with the
 * reason in why (nothing held then). dotlock_may_fail: a dotlock that cannot be made for lack of permission
 * is done without (a file in a directory the user may not write), as the reference does. */
int pn_mbox_lock_take(pn_mbox_lock *lock, int fd, const char *path, const char *methods,
                      int dotlock_may_fail, pn_buf *why);
/* pn_mbox_lock_release: the locks taken, the lock file removed. */
void pn_mbox_lock_release(pn_mbox_lock *lock);

#endif
