/* domlist.h: domain lists as main.cf writes them (mydestination, relay_domains,
 * virtual_mailbox_domains, ...): names, ".parent" names, "/file/name" (its words are items)
 * and "type:table" (the domain is a key of the table); "!item" negates, tables too. The first
 * item that matches decides. User lists (authorized_submit_users and friends) have the same
 * grammar and are matched here too, names for domains. */
#ifndef PN_MAIL_DOMLIST_H
#define PN_MAIL_DOMLIST_H
#include "base/argv.h"
#include "base/buf.h"
#include "mail/maps.h"

typedef struct pn_domlist {
    char *title;
    pn_argv *names;   /* literal items, lower-case, "!" kept */
    pn_maps **tables; /* table items, in order, interleaved by index in order[] */
    char *order;      /* 'n' name or 't' table, per item */
    size_t count;
    int parent_match; /* example.com also matches sub.example.com */
} pn_domlist;

/* pn_domlist_open: title is the parameter name; parent_match from
 * parent_domain_matches_subdomains. NULL with err on a table that cannot be opened. */
pn_domlist *pn_domlist_open(const char *title, const char *value, pn_buf *err);
void pn_domlist_free(pn_domlist *list);
/* pn_domlist_match: 1 match, 0 no match, -1 table error. */
int pn_domlist_match(pn_domlist *list, const char *domain);

#endif
