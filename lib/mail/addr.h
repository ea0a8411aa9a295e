/* addr.h: envelope address handling: splitting into local part and domain (quoted local
 * parts respected), the extension at recipient_delimiter, and canonicalisation in the local
 * context (as the reference: source routes, bang paths, the percent hack, @$myorigin, .$mydomain).
 */
#ifndef PN_MAIL_ADDR_H
#define PN_MAIL_ADDR_H
#include "base/buf.h"

/* pn_addr_at: the '@' that separates local part and domain, or NULL. */
const char *pn_addr_at(const char *addr);
/* pn_addr_has_control: an envelope address (len bytes) holds a control character (below
 * 0x20, or DEL): never stored, logged or sent, whoever submits it. */
int pn_addr_has_control(const char *addr, size_t len);
/* pn_addr_domain: the domain (lower-cased) or "" when there is none. */
void pn_addr_domain(const char *addr, pn_buf *out);
void pn_addr_localpart(const char *addr, pn_buf *out);
/* pn_addr_rewrite_local: the address in standard form, as trivial-rewrite's "local" rule. */
void pn_addr_rewrite_local(const char *addr, pn_buf *out);
/* pn_addr_extension_at: where the extension starts in addr's local part: the offset of the
 * first delimiter, or the local part's length when it has none. A delimiter that starts the
 * local part does not count, and with owner_request_special (and '-' among the delimiters)
 * "owner-list" and "list-request" are not split. */
size_t pn_addr_extension_at(const char *addr, const char *delims);
/* pn_addr_strip_extension: "user+ext@dom" -> "user@dom" with delimiters; 1 when stripped. */
int pn_addr_strip_extension(const char *addr, const char *delims, pn_buf *out);
/* pn_addr_quote_local: append a local part to out, in double quotes (with \ before " and \)
 * when RFC 5322 needs them: white space, specials, control characters, or dots at the ends
 * or in a row. Bytes above 127 pass unquoted (8-bit transparent). */
void pn_addr_quote_local(const char *local, pn_buf *out);

#endif
