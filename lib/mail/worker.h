/* worker.h: privileged delivery without privileged parsing (doc/processes.md, "Privileges"). At
 * start, as root, an agent forks a spawner; then the agent gives up root for good. The spawner
 * serves one fixed-size request, {uid, gid, extra gid}, checks it against the agent's policy,
 * and returns a socket to a new worker that runs with exactly that identity. Workers are kept,
 * one per recent identity, and do the parsing and writing: they open the queue file that is
 * passed to them, read the message, write the mailbox or run the command. */
#ifndef PN_MAIL_WORKER_H
#define PN_MAIL_WORKER_H
#include <sys/types.h>

#include "base/buf.h"

typedef struct pn_worker_pool pn_worker_pool;

/* pn_worker_policy: 0 when the identity may be used by this agent; extra_gid is the one
 * supplementary group asked for, or -1. (The spawner itself refuses uid 0 and gid 0.) */
typedef int (*pn_worker_policy)(uid_t uid, gid_t gid, long extra_gid);

/* pn_worker_pool_start: as root (or, without root, workers are plain children). */
pn_worker_pool *pn_worker_pool_start(pn_worker_policy policy);
/* pn_worker_pool_free: the workers and the spawner end. */
void pn_worker_pool_free(pn_worker_pool *pool);
/* pn_worker_pool_broken: the spawner is gone; the agent must retire (a new one starts a new
 * spawner). */
int pn_worker_pool_broken(const pn_worker_pool *pool);
/* pn_worker_deliver: the message in queue file qfd into a Maildir or mbox file (mailbox.h),
 * as uid/gid (+ extra_gid when >= 0). Returns MAILBOX_SENT, MAILBOX_BOUNCE or MAILBOX_DEFER
 * with a text. */
struct pn_mailbox_job;
int pn_worker_deliver(pn_worker_pool *pool, uid_t uid, gid_t gid, long extra_gid, int qfd,
                      const struct pn_mailbox_job *job, pn_buf *text, pn_buf *dsn);
/* pn_worker_pipe: a pipe(8) command as uid/gid (see pipecmd.h). */
struct pn_pipe_job;
int pn_worker_pipe(pn_worker_pool *pool, uid_t uid, gid_t gid, int qfd,
                   const struct pn_pipe_job *job, pn_buf *dsn, pn_buf *text);
/* pn_worker_read: a small file as that identity sees it: 1 read, 0 absent, -1 error, or
 * PN_WORKER_READ_REFUSED with the reason in out: not a regular file, owned by someone other
 * than root or that user, or writable by anyone. */
#define PN_WORKER_READ_REFUSED -2
int pn_worker_read(pn_worker_pool *pool, uid_t uid, gid_t gid, const char *path, pn_buf *out);

#endif
