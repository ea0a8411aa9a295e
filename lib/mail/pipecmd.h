/* pipecmd.h: running a pipe(8) command in a worker: the message prepared as the flags ask
 * (Delivered-To, From_, Return-Path, X-Original-To, dot-stuffing, ">From", final blank
 * line, CR LF line ends), the command started without a shell in an environment reset to
 * PATH, export_environment and the job's own variables, its output captured, its exit
 * status mapped to a delivery status the way the reference's pipe does. local(8) runs its
 * commands (aliases, .forward, mailbox_command) through the same code. */
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
    const pn_argv *env;    /* NAME=value set after the environment is reset, or NULL */
    const char *label;     /* the command as logged, or NULL for argv[0] */
    int loop_check;        /* "Delivered-To: recipient" in the message bounces it (5.4.6) */
} pn_pipe_job;

/* pn_pipe_run: in the worker; returns MAILBOX_SENT/BOUNCE/DEFER with dsn and text. */
int pn_pipe_run(int qfd, const pn_pipe_job *job, pn_buf *dsn, pn_buf *text);

#endif
