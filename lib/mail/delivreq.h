/* delivreq.h: the delivery request between qmgr and a delivery agent (doc/protocols.md)
 * and the agent-side helpers: the log line of one recipient's outcome and the done mark. */
#ifndef PN_MAIL_DELIVREQ_H
#define PN_MAIL_DELIVREQ_H
#include <stdint.h>

#include "base/buf.h"
#include "ipc/attr.h"

typedef struct pn_delivreq_rcpt {
    pn_buf addr;
    pn_buf orig;
    pn_buf orcpt;
    int notify;
    int64_t offset;
} pn_delivreq_rcpt;

typedef struct pn_delivreq {
    pn_buf queue;
    pn_buf queue_id;
    pn_buf nexthop;
    pn_buf sender;
    int64_t arrival_us; /* message arrival, microseconds since the epoch */
    int64_t active_us;  /* when qmgr took it into the active queue */
    int last;           /* no recipient of this file is pending outside this request */
    int flags;          /* PN_DELIVREQ_* */
    pn_delivreq_rcpt *rcpts;
    size_t rcpt_count;
} pn_delivreq;

/* Request flags, from the message's trace_flags (sendmail -v and -bv). */
#define PN_DELIVREQ_RECORD 1 /* deliver, and report every outcome to the sender */
#define PN_DELIVREQ_VERIFY 2 /* do not deliver: report what would happen */

/* pn_delivreq_parse: a validated request payload; -1 when a required attribute is missing. */
int pn_delivreq_parse(const pn_attrs *req, pn_delivreq *out);
void pn_delivreq_release(pn_delivreq *req);

/* Outcomes. */
#define PN_DELIVER_SENT 0
#define PN_DELIVER_DEFERRED 1
#define PN_DELIVER_BOUNCED 2
#define PN_DELIVER_DELIVERABLE 3 /* verification results, for the log line only */
#define PN_DELIVER_UNDELIVERABLE 4
#define PN_DELIVER_OUTCOME 0x0f
/* Flags an agent may add to PN_DELIVER_SENT: the next hop took the message without
 * promising DSNs (a success notice says "relayed"), or with that promise (no notice here). */
#define PN_DELIVER_RELAYED 0x10
#define PN_DELIVER_DSN_PASSED 0x20
/* An agent may add to any outcome: another transport's agent took the recipient and has
 * logged and recorded its outcome already (local's mailbox_transport). */
#define PN_DELIVER_DELEGATED 0x40

/* pn_delivreq_log: "ID: to=<..>, orig_to=<..>, relay=R, delay=D, delays=a/b/c/d, dsn=X,
 * status=S (text)" with the reference's delay formatting. */
void pn_delivreq_log(const pn_delivreq *req, const pn_delivreq_rcpt *rcpt, const char *relay,
                     int outcome, const char *dsn, const char *text);
/* pn_delay_format: seconds as the reference logs them (two significant digits below 10). */
void pn_delay_format(double seconds, pn_buf *out);

#endif
