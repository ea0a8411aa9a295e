/* maps.h: lists of lookup tables ("hash:/a, regexp:/b") searched in order, and the search
 * orders the reference uses for addresses and domains. smtpd, cleanup and trivial-rewrite
 * all search through here, so the order is decided once. */
#ifndef PN_MAIL_MAPS_H
#define PN_MAIL_MAPS_H
#include "base/buf.h"
#include "mail/dict.h"

typedef struct pn_maps {
    char *title; /* the parameter name, for messages */
    pn_dict **dicts;
    size_t count;
} pn_maps;

/* Search-order flags. */
#define PN_MAPS_LOCALPART 1    /* also try "user+ext" and "user" (the domain is local) */
#define PN_MAPS_PARENT_DOT 2   /* parent domains as ".example.com" */
#define PN_MAPS_PARENT_PLAIN 4 /* parent domains as "example.com" */

/* pn_maps_open: tables separated by commas or blanks; { } groups one specification. NULL
 * with err set when a table cannot be opened. */
pn_maps *pn_maps_open(const char *title, const char *spec, int dict_flags, pn_buf *err);
void pn_maps_free(pn_maps *maps);
/* pn_maps_find: the first table that has the key wins. 1 found, 0 not, -1 table error. */
int pn_maps_find(pn_maps *maps, const char *key, pn_buf *value);
/* pn_maps_find_fixed: key in the fixed-string tables only (partial keys such as "@domain"
 * or ".parent" mean nothing to regexp and cidr tables). */
int pn_maps_find_fixed(pn_maps *maps, const char *key, pn_buf *value);
/* pn_maps_find_addr: user+ext@domain, user@domain, (with LOCALPART) user+ext, user, then
 * @domain. Pattern tables see only the whole address. delims: recipient_delimiter. */
int pn_maps_find_addr(pn_maps *maps, const char *addr, const char *delims, int flags,
                      pn_buf *value);
/* pn_maps_find_addr_ext: the same, and the address extension ("+ext") the matching key did
 * not hold (empty when it did, or when there is none), for propagate_unmatched_extensions. */
int pn_maps_find_addr_ext(pn_maps *maps, const char *addr, const char *delims, int flags,
                          pn_buf *value, pn_buf *unmatched);
/* pn_maps_propagate_extension: result (an address) with extension added to its local part. */
void pn_maps_propagate_extension(const char *result, const char *extension, pn_buf *out);
/* pn_maps_find_domain: the name, then its parent domains as the flags say. */
int pn_maps_find_domain(pn_maps *maps, const char *domain, int flags, pn_buf *value);
/* pn_maps_changed: some table's file changed since it was opened. */
int pn_maps_changed(const pn_maps *maps);

#endif
