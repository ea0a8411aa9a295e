/* mime8to7.h: the 8-bit to 7-bit downgrade of RFC 6152 section 3, for a server that does
 * not announce 8BITMIME: every entity whose body holds 8-bit bytes under
 * Content-Transfer-Encoding 8bit (or none) is rewritten as quoted-printable, multipart
 * bodies part by part and message/rfc822 bodies as messages, to mime_nesting_limit. */
#ifndef PN_MAIL_MIME8TO7_H
#define PN_MAIL_MIME8TO7_H
#include "base/buf.h"

/* pn_mime_downgrade: msg (header and body, LF line ends) into out; 1 when something was
 * converted, 0 when out is msg unchanged. host names the converter in the
 * X-MIME-Autoconverted field of each converted entity. */
int pn_mime_downgrade(const char *msg, size_t len, const char *host, pn_buf *out);

#endif
