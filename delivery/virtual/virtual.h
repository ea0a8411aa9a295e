/* virtual.h: the parts of the virtual delivery agent. */
#ifndef PN_VIRTUAL_H
#define PN_VIRTUAL_H
#include <sys/types.h>

#include "base/buf.h"
#include "mail/qfile.h"

/* Outcome of writing one mailbox, decided in a process with the recipient's identity. */
#define MAILBOX_SENT 0
#define MAILBOX_BOUNCE 1
#define MAILBOX_DEFER 2

/* mailbox.c: in a child that runs as uid/gid: write the message to the Maildir (path ends
 * with '/') or mbox file path; the result text goes to text. */
int mailbox_deliver(const pn_qfile *q, const char *path, uid_t uid, gid_t gid,
                    const char *sender, const char *recipient, pn_buf *text);

#endif
