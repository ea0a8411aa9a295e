/* pipecmd.h: running a pipe(8) command in a worker: the message prepared as the flags ask
 * (Delivered-To, From_, Return-Path, X-Original-To, dot-stuffing, ">From", final blank
 * line, CR LF line ends), the command started without a shell, its output captured, its
 * exit status mapped to a delivery status the way the reference's pipe does. */
#ifndef PN_MAIL_PIPECMD_H
#define PN_MAIL_PIPECMD_H
#include "base/argv.h"
#include "base/buf.h"

typedef struct pn_pipe_job {
    pn_argv *argv;
    const char *flags;
    const char *sender;
    const char *recipient; /* for D and O: the only recipient */
    const char *orig;      /* for O */
    const char *directory; /* working directory, or "" */
    const char *eol;       /* "\n" or "\r\n" */
    long time_limit;       /* seconds */
} pn_pipe_job;

/* pn_pipe_run: in the worker; returns MAILBOX_SENT/BOUNCE/DEFER with dsn and text. */
int pn_pipe_run(int qfd, const pn_pipe_job *job, pn_buf *dsn, pn_buf *text);

#endif
