/* resolveclnt.h: the client of trivial-rewrite's resolve request, with a cache (doc/protocols.md,
 * "Resolve cache"): smtpd and qmgr ask for the same few addresses again and again, so the
 * answers are kept, at most PN_RESOLVE_CACHE_SIZE of them (least recently used go first) and
 * for at most PN_RESOLVE_CACHE_TTL seconds. The cache is emptied whenever the connection is
 * made anew (the server may be a new process, with new tables or a new main.cf), and it
 * answers alone for at most one second after the server was last asked: then one request goes
 * to the server, which retires first if its tables or configuration changed. */
#ifndef PN_MAIL_RESOLVECLNT_H
#define PN_MAIL_RESOLVECLNT_H
#include <stddef.h>

#include "base/buf.h"
#include "mail/resolve.h"

#define PN_RESOLVE_CACHE_SIZE 1000
#define PN_RESOLVE_CACHE_TTL 60

typedef struct pn_resolve_client pn_resolve_client;

pn_resolve_client *pn_resolve_client_new(void);
void pn_resolve_client_free(pn_resolve_client *client);
/* pn_resolve_addrs: how n addresses resolve for sender (one request for all those the cache
 * does not know); out[i] must be initialised (pn_resolved_init). 0, or -1 with why. */
int pn_resolve_addrs(pn_resolve_client *client, const char *sender, const char *const *addrs,
                     size_t n, pn_resolved *out, pn_buf *why);
/* pn_resolve_stats: requests answered by the cache and by the server, for tests. */
void pn_resolve_stats(const pn_resolve_client *client, unsigned long *hits, unsigned long *misses);

#endif
