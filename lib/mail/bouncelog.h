/* bouncelog.h: the per-message logs of recipients that bounced (bounce/ID) or were deferred
 * (defer/ID, the reasons mailq shows): one ATTR/1 frame per recipient, appended with one
 * write to an O_APPEND descriptor and fsynced; a bounce entry is on disk before the recipient
 * is marked done, so a bounce is never forgotten (DESIGN.md 6.3 step 6). log is "bounce" or
 * "defer". */
#ifndef PN_MAIL_BOUNCELOG_H
#define PN_MAIL_BOUNCELOG_H
#include "base/buf.h"

/* pn_bouncelog_append: 0, or -1 with why (the recipient must then stay pending). */
int pn_bouncelog_append(const char *log, const char *queue_id, const char *addr,
                        const char *orig, const char *status, const char *reason, pn_buf *why);

typedef struct pn_bounce_entry {
    pn_buf addr;
    pn_buf orig;
    pn_buf status;
    pn_buf reason;
} pn_bounce_entry;

/* pn_bouncelog_read: every whole entry of the log of queue_id; a torn last frame is ignored. Returns
 * the count, or -1 when there is no log. Free with pn_bouncelog_free. */
int pn_bouncelog_read(const char *log, const char *queue_id, pn_bounce_entry **entries);
void pn_bouncelog_free(pn_bounce_entry *entries, int count);

#endif
