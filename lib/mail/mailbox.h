/* mailbox.h: final delivery into a Maildir or an mbox file, performed by a worker
 * that runs as the recipient. */
#ifndef PN_MAIL_MAILBOX_H
#define PN_MAIL_MAILBOX_H
#include <sys/types.h>

#include "base/buf.h"
#include "mail/qfile.h"

#define MAILBOX_SENT 0
#define MAILBOX_BOUNCE 1
#define MAILBOX_DEFER 2

typedef struct pn_mailbox_job {
    const char *path;      /* a Maildir when it ends in '/', else an mbox file */
    const char *sender;    /* Return-Path */
    const char *recipient; /* Delivered-To */
    const char *orig;      /* X-Original-To, or NULL */
    long limit;            /* bytes, 0 = none: caps an mbox file or a Maildir message */
    int strict_owner;      /* an mbox not owned by this process's user is deferred */
    const char *lock;      /* the mbox locks (mboxlock.h); NULL: "fcntl, dotlock" */
    int dotlock_may_fail;  /* a file, not a mailbox: no dotlock where none can be made */
} pn_mailbox_job;

/* pn_mailbox_write: the message in queue file qfd, in this process and with its identity.
 * Return-Path, X-Original-To and Delivered-To are added; a Delivered-To for the same
 * recipient already in the message bounces it as a loop. dsn receives the enhanced status
 * code. */
int pn_mailbox_write(int qfd, const pn_mailbox_job *job, pn_buf *text, pn_buf *dsn);
/* pn_mailbox_has_loop: the message's headers hold "Delivered-To: recipient". */
int pn_mailbox_has_loop(const char *content, const char *recipient);

#endif
