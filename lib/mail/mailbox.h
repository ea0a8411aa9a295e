/* mailbox.h: final delivery into a Maildir, an mbox file or a command, performed by a worker
 * that runs as the recipient. */
#ifndef PN_MAIL_MAILBOX_H
#define PN_MAIL_MAILBOX_H
#include <sys/types.h>

#include "base/buf.h"
#include "mail/qfile.h"

#define MAILBOX_SENT 0
#define MAILBOX_BOUNCE 1
#define MAILBOX_DEFER 2

/* pn_mailbox_write: the message in queue file qfd, in this process and with its identity:
 * path ending in '/' is a Maildir, "|command" a command, anything else an mbox file.
 * Return-Path and Delivered-To are added; a Delivered-To for the same recipient already in
 * the message bounces it as a loop. limit (bytes, 0 = none) caps an mbox file or a Maildir
 * message. dsn receives the enhanced status code. */
int pn_mailbox_write(int qfd, const char *path, const char *sender, const char *recipient,
                     long limit, pn_buf *text, pn_buf *dsn);

#endif
