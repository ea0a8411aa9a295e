/* bouncelog.h: the per-message logs of recipients that bounced (bounce/ID), were deferred
 * (defer/ID, the reasons mailq shows) or were delivered with NOTIFY=SUCCESS (trace/ID): one
 * ATTR/1 frame per recipient, appended with one write to an O_APPEND descriptor; bounce and
 * trace entries are fsynced, so they are on disk before the recipient is marked done and a
 * notice is never forgotten (doc/queue.md). log is "bounce", "defer" or "trace". */
#ifndef PN_MAIL_BOUNCELOG_H
#define PN_MAIL_BOUNCELOG_H
#include "base/buf.h"

/* pn_bouncelog_append: 0, or -1 with why (the recipient must then stay pending). action is
 * the DSN Action ("relayed", ...); NULL means the log's own (failed, delayed, delivered). */
int pn_bouncelog_append(const char *log, const char *queue_id, const char *addr, const char *orig,
                        const char *action, const char *status, const char *reason, pn_buf *why);

/* A batch: the entries of many recipients, written to the log with one open and one write
 * (the deferrals of one delivery request, say). */
typedef struct pn_bouncelog_batch {
    const char *log;
    const char *queue_id;
    pn_buf frames;
    int count;
} pn_bouncelog_batch;

void pn_bouncelog_batch_init(pn_bouncelog_batch *b, const char *log, const char *queue_id);
void pn_bouncelog_batch_add(pn_bouncelog_batch *b, const char *addr, const char *orig,
                            const char *action, const char *status, const char *reason);
/* pn_bouncelog_batch_write: 0 (also when empty), or -1 with why; the batch is then empty. */
int pn_bouncelog_batch_write(pn_bouncelog_batch *b, pn_buf *why);
void pn_bouncelog_batch_release(pn_bouncelog_batch *b);

typedef struct pn_bounce_entry {
    pn_buf addr;
    pn_buf orig;
    pn_buf action;
    pn_buf status;
    pn_buf reason;
} pn_bounce_entry;

/* pn_bouncelog_read: every whole entry of the log of queue_id; a torn last frame is ignored.
 * Returns the count, or -1 when there is no log. Free with pn_bouncelog_free. */
int pn_bouncelog_read(const char *log, const char *queue_id, pn_bounce_entry **entries);
void pn_bouncelog_free(pn_bounce_entry *entries, int count);

#endif
