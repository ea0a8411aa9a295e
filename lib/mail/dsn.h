/* dsn.h: the RFC 3461 DSN parameters as they travel: NOTIFY keyword lists as the
 * PN_NOTIFY_* bits of the queue file, and who wants which notice. (xtext, the wire encoding
 * of ENVID and ORCPT, is in base/codec.h.) */
#ifndef PN_MAIL_DSN_H
#define PN_MAIL_DSN_H
#include <stddef.h>

#include "base/buf.h"

/* pn_dsn_notify_parse: "NEVER" or a list of SUCCESS, FAILURE, DELAY (any case, comma
 * separated) as bits; -1 when the list is malformed (NEVER with others, unknown words). */
int pn_dsn_notify_parse(const char *text);
/* pn_dsn_status_len: the length of the enhanced status code text starts with ("5.7.1" of
 * "5.7.1 Go away": class 2, 4 or 5, then two numbers of 1 to 3 digits), 0 when there is none. */
size_t pn_dsn_status_len(const char *text);
/* pn_dsn_notify_format: the bits as a NOTIFY list ("SUCCESS,FAILURE"), appended to out. */
void pn_dsn_notify_format(int notify, pn_buf *out);
/* pn_dsn_wants: does a recipient with these NOTIFY bits want a notice of this kind
 * (PN_NOTIFY_FAILURE, _DELAY or _SUCCESS)? No NOTIFY means FAILURE and DELAY. */
int pn_dsn_wants(int notify, int kind);

#endif
