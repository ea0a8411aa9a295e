/* dsn.h: the RFC 3461 DSN parameters as they travel: NOTIFY keyword lists as the
 * PN_NOTIFY_* bits of the queue file, and who wants which notice. (xtext, the wire encoding
 * of ENVID and ORCPT, is in base/codec.h.) */
#ifndef PN_MAIL_DSN_H
#define PN_MAIL_DSN_H
#include "base/buf.h"

/* pn_dsn_notify_parse: "NEVER" or a list of SUCCESS, FAILURE, DELAY (any case, comma
 * separated) as bits; -1 when the list is malformed (NEVER with others, unknown words). */
int pn_dsn_notify_parse(const char *text);
/* pn_dsn_notify_format: the bits as a NOTIFY list ("SUCCESS,FAILURE"), appended to out. */
void pn_dsn_notify_format(int notify, pn_buf *out);
/* pn_dsn_wants: does a recipient with these NOTIFY bits want a notice of this kind
 * (PN_NOTIFY_FAILURE, _DELAY or _SUCCESS)? No NOTIFY means FAILURE and DELAY. */
int pn_dsn_wants(int notify, int kind);

#endif
