/* mailbox.h: final delivery into a Maildir, an mbox file or a command, performed by a child
 * that runs as the recipient. */
#ifndef PN_MAIL_MAILBOX_H
#define PN_MAIL_MAILBOX_H
#include <sys/types.h>

#include "base/buf.h"
#include "mail/qfile.h"

#define MAILBOX_SENT 0
#define MAILBOX_BOUNCE 1
#define MAILBOX_DEFER 2

/* pn_mailbox_deliver: path ending in '/' is a Maildir, "|command" a command, anything else an
 * mbox file. Return-Path and Delivered-To are added; a Delivered-To for the same recipient
 * already in the message bounces it as a loop. extra_gid (or -1) is kept as a supplementary
 * group, for a group-writable spool directory. */
int pn_mailbox_deliver(const pn_qfile *q, const char *path, uid_t uid, gid_t gid,
                       long extra_gid, const char *sender, const char *recipient, pn_buf *text);

#endif
