/* flushclnt.h: the client side of the flush service (public/flush, doc/protocols.md): ETRN and
 * postqueue -s ask it for a site's deferred mail, postqueue -i for one message. The status
 * codes are the service's own. */
#ifndef PN_MAIL_FLUSHCLNT_H
#define PN_MAIL_FLUSHCLNT_H
#include "base/buf.h"

#define PN_FLUSH_OK 0
#define PN_FLUSH_UNKNOWN 1 /* no such message in the deferred queue */
#define PN_FLUSH_DENY 2    /* the site is not in fast_flush_domains */
#define PN_FLUSH_BAD 3     /* a malformed request */
#define PN_FLUSH_FAIL (-1) /* the service could not be reached (why says why) */

/* pn_flush_send_site / pn_flush_send_file: one request on a connection kept for the
 * process; path is the service's endpoint ("public/flush", relative to the queue directory
 * or absolute). */
int pn_flush_send_site(const char *path, const char *site, pn_buf *why);
int pn_flush_send_file(const char *path, const char *queue_id, pn_buf *why);

#endif
