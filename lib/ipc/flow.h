/* flow.h: in_flow_delay, master's flow-control pipe (doc/processes.md, "Flow control"). qmgr
 * keeps up to default_process_limit one-byte tokens in the pipe while it keeps up with new
 * mail; cleanup takes one token per new message and, when there is none, waits for one at
 * most in_flow_delay. Receivers thereby slow down when the queue manager falls behind. */
#ifndef PN_IPC_FLOW_H
#define PN_IPC_FLOW_H

/* pn_flow_take: one token, waiting for it at most wait_ms; 1 taken, 0 none (or no pipe). */
int pn_flow_take(long wait_ms);
/* pn_flow_fill: tokens added up to limit (qmgr, while it takes in new mail). */
void pn_flow_fill(long limit);

#endif
