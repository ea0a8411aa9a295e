/* agent.h: the common body of the delivery agents: the connection loop with qmgr (hello,
 * request, reply), opening the queue file named in a request the way doc/queue.md asks, and
 * recording each recipient's outcome (log line, done mark). An agent supplies the delivery of
 * one recipient. */
#ifndef PN_MAIL_AGENT_H
#define PN_MAIL_AGENT_H
#include "base/buf.h"
#include "mail/delivreq.h"
#include "mail/qfile.h"

typedef struct pn_agent {
    const char *relay; /* "virtual", "none", ... for the log line */
    /* needs_content: open and validate the queue file for deliver() */
    int needs_content;
    /* verifies: deliver() honours PN_DELIVREQ_VERIFY itself (error and discard change
     * nothing anyway; virtual looks up the mailbox and stops there); for other agents a
     * verification (sendmail -bv) reports "deliverable" without asking them */
    int verifies;
    /* deliver one recipient: PN_DELIVER_*, with dsn and text set */
    int (*deliver)(const pn_delivreq *req, const pn_delivreq_rcpt *rcpt, const pn_qfile *q,
                   const char **dsn, pn_buf *text, void *ctx);
    void *ctx;
    /* or all recipients of a request at once (pipe, smtp): outcomes, dsns and texts per
     * recipient, and relays where one differs from relay (smtp: the MX that answered) */
    void (*deliver_all)(const pn_delivreq *req, const pn_qfile *q, int *outcomes, pn_buf *dsns,
                        pn_buf *texts, pn_buf *relays, void *ctx);
    /* optional: idle_ms says how long the agent may wait for the next request before idle
     * must run (0: no need); idle also runs when qmgr closes the connection (smtp: the
     * connection it keeps is closed) */
    int (*idle_ms)(void *ctx);
    void (*idle)(void *ctx);
} pn_agent;

/* pn_agent_destination_dead: called from deliver_all when the next hop as a whole could
 * not be reached (no server answered, or its name did not resolve): qmgr then defers the
 * destination's other mail for a while without trying (doc/protocols.md). */
void pn_agent_destination_dead(const char *reason);
/* pn_agent_drop_privileges: after its worker pool is started, a privileged agent becomes
 * mail_owner for good (nothing happens without root). */
void pn_agent_drop_privileges(void);
/* pn_agent_serve: one qmgr connection, until it closes; for a server's serve hook. */
void pn_agent_serve(int fd, const pn_agent *agent);

#endif
