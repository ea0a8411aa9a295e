/* hdraddr.h: the addresses of an address-list header (From, To, Cc, Reply-To, ...), found
 * in place, so that each can be rewritten while the rest of the text (display names, comments,
 * groups, spacing, folding) stays as it was. cleanup (canonical mapping, masquerading) and
 * the smtp client (smtp_generic_maps) rewrite headers through here. */
#ifndef PN_MAIL_HDRADDR_H
#define PN_MAIL_HDRADDR_H
#include "base/buf.h"

/* What a header field holds. */
enum pn_hdraddr_kind { PN_HDRADDR_NONE, PN_HDRADDR_SENDER, PN_HDRADDR_RECIPIENT };

/* pn_hdraddr_kind: the kind of a header field ("From: ..." is a sender field). */
enum pn_hdraddr_kind pn_hdraddr_kind(const char *field);

/* A rewrite of one address: 1 with the new address in out, 0 to keep it. */
typedef int (*pn_hdraddr_fn)(const char *addr, pn_buf *out, void *ctx);

/* pn_hdraddr_rewrite: the whole field ("Name: value") with each address passed through fn;
 * 1 when something changed (out holds the new field), 0 when not (out untouched). */
int pn_hdraddr_rewrite(const char *field, pn_hdraddr_fn fn, void *ctx, pn_buf *out);

#endif
