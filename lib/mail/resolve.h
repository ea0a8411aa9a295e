/* resolve.h: trivial-rewrite's "resolve": which transport delivers an address, to which
 * next hop, as which recipient (as in the reference): address classes local, virtual alias, virtual
 * mailbox, relay and default, the *_transport parameters, transport_maps and relayhost. */
#ifndef PN_MAIL_RESOLVE_H
#define PN_MAIL_RESOLVE_H
#include "base/buf.h"

#define PN_RESOLVE_CLASS_LOCAL 0x01
#define PN_RESOLVE_CLASS_ALIAS 0x02
#define PN_RESOLVE_CLASS_VIRTUAL 0x04
#define PN_RESOLVE_CLASS_RELAY 0x08
#define PN_RESOLVE_CLASS_DEFAULT 0x10
#define PN_RESOLVE_CLASS_MASK 0x1f
#define PN_RESOLVE_ROUTED 0x100 /* the local part held routing operators */
#define PN_RESOLVE_ERROR 0x200  /* malformed address */
#define PN_RESOLVE_FAIL 0x400   /* a table lookup failed: try again later */

typedef struct pn_resolved {
    pn_buf transport;
    pn_buf nexthop;
    pn_buf recipient;
    int flags;
} pn_resolved;

typedef struct pn_resolver pn_resolver;

/* pn_resolver_open: opens the domain lists and transport_maps of the configuration in force;
 * NULL with err when a table cannot be opened. */
pn_resolver *pn_resolver_open(pn_buf *err);
void pn_resolver_free(pn_resolver *resolver);
int pn_resolver_changed(const pn_resolver *resolver);
void pn_resolved_init(pn_resolved *r);
void pn_resolved_release(pn_resolved *r);
void pn_resolve(pn_resolver *resolver, const char *sender, const char *addr, pn_resolved *out);
/* pn_resolve_class_name: "local", "virtual", ... for logs and tests. */
const char *pn_resolve_class_name(int flags);

#endif
