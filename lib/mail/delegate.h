/* delegate.h: a delivery agent hands one recipient of the request it serves to another
 * transport's agent (local's mailbox_transport and fallback_transport), which delivers, logs
 * and records the outcome in the queue file itself, as qmgr's own request would have it. */
#ifndef PN_MAIL_DELEGATE_H
#define PN_MAIL_DELEGATE_H
#include "base/buf.h"
#include "mail/delivreq.h"

/* pn_delegate: "transport[:nexthop]" (without a next hop, the request's) takes rcpt. 0 when
 * the agent took it (*deferred: it kept the recipient for a later attempt), -1 with why when
 * it could not be asked. */
int pn_delegate(const char *spec, const pn_delivreq *req, const pn_delivreq_rcpt *rcpt,
                int *deferred, pn_buf *why);

#endif
