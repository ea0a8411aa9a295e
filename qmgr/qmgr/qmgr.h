/* qmgr.h: the queue manager's model: messages in the active queue, their delivery jobs
 * grouped by transport and destination, and the kept connections to delivery agents. */
#ifndef PN_QMGR_H
#define PN_QMGR_H
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mail/qfile.h"

typedef struct qmgr_rcpt {
    pn_buf addr; /* as resolved */
    pn_buf orig;
    pn_buf orcpt;
    int notify;
    size_t offset;
} qmgr_rcpt;

typedef struct qmgr_msg {
    char id[64];
    int fd;
    int64_t arrival_us;
    int64_t arrival_sec;
    int64_t active_us;
    pn_buf sender;
    int jobs_pending;
    int flags; /* PN_DELIVREQ_* from the message's trace_flags */
    int flush; /* activated by a flush (postqueue -f): defer_transports do not hold it */
} qmgr_msg;

typedef struct qmgr_job {
    struct qmgr_job *next;
    qmgr_msg *msg;
    struct qmgr_dest *dest;
    qmgr_rcpt *rcpts;
    size_t count;
    int last;
    int retried;   /* sent once to an agent that closed the connection unread */
    char *nexthop; /* for the agent; the destination's name may be the recipient instead */
} qmgr_job;

typedef struct qmgr_dest {
    struct qmgr_dest *next;
    struct qmgr_transport *transport;
    char *name; /* the next hop, or the recipient when the recipient limit is 1 */
    qmgr_job *head, *tail;
    int active;
    int limit;             /* <transport>_destination_concurrency_limit */
    int window;            /* how many deliveries may run now: from the initial concurrency up */
    long rate_delay_ms;    /* <transport>_destination_rate_delay: one delivery at a time */
    int64_t next_start_ms; /* ... and none before this (monotonic clock) */
    int64_t dead_until;    /* while in the future, jobs are deferred without trying */
    char *dead_reason;
} qmgr_dest;

typedef struct qmgr_transport {
    struct qmgr_transport *next;
    char *name;
    qmgr_dest *dests;
    qmgr_dest *cursor; /* round-robin position */
    int active;
    int limit;
    long recipient_limit;
    long rate_delay_ms;    /* <transport>_transport_rate_delay: one delivery at a time */
    int64_t next_start_ms; /* ... and none before this (monotonic clock) */
} qmgr_transport;

/* message.c */
void message_activate(const char *id, int64_t active_us);
void message_job_done(qmgr_msg *msg);
int message_active_count(void);
/* sched.c */
void sched_add_job(const char *transport, const char *nexthop, qmgr_job *job);
long sched_recipient_limit(const char *transport);
void sched_run(void);
/* sched_drain: qmgr retires: start no delivery; 1 when none is in flight, else
 * pn_server_drained() follows when the last one is done. */
int sched_drain(void);
/* sched_log_deferred: the recipients of a job are deferred untried, with this reason. */
void sched_log_deferred(const qmgr_job *job, const char *dsn, const char *why);
/* qmgr_flushing: set while the scans a flush asked for run (main.c). */
extern int qmgr_flushing;
/* sched_forget_dead: every destination may be tried again ('F' trigger). */
void sched_forget_dead(void);
/* scan.c */
void scan_recover(void);
void scan_queue(const char *queue, int ignore_time);
/* scan_activate: cleanup's notice: activate incoming/ID, and nothing else. */
void scan_activate(const char *id);
/* scan_room: a message left the active queue; scan incoming/ if mail waits for room. */
void scan_room(void);
/* scan_incoming_later: one more scan of incoming/ after ms. */
void scan_incoming_later(long ms);
void defer_file(const char *id, int64_t arrival_sec);
void corrupt_file(const char *id, const char *why);

#endif
