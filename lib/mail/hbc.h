/* hbc.h: header and body checks, the engine shared by cleanup (header_checks, ...) and the
 * smtp client (smtp_header_checks, ...): tables per class, the walk through the headers and the
 * MIME structure of the body, and the line edits (IGNORE, REPLACE, PREPEND) the caller's
 * action asks for. The actions themselves are the caller's. */
#ifndef PN_MAIL_HBC_H
#define PN_MAIL_HBC_H
#include "base/argv.h"
#include "base/buf.h"
#include "mail/maps.h"

enum pn_hbc_class { PN_HBC_HEADER, PN_HBC_MIME, PN_HBC_NESTED, PN_HBC_BODY, PN_HBC_COUNT };

/* What becomes of a line that a table matched. */
enum pn_hbc_fate { PN_HBC_KEEP, PN_HBC_DROP, PN_HBC_REPLACE };

typedef struct pn_hbc {
    const char *params[PN_HBC_COUNT];
    pn_maps *maps[PN_HBC_COUNT]; /* NULL: no tables; classes with one value share the maps */
    int owned[PN_HBC_COUNT];
} pn_hbc;

typedef struct pn_hbc_ops {
    /* act: carry out the table result value for line; REPLACE text goes to repl, a line to
     * insert before it (PREPEND) to prepend */
    enum pn_hbc_fate (*act)(void *ctx, int cls, const char *line, const char *value, pn_buf *repl,
                            pn_buf *prepend);
    int (*done)(void *ctx);             /* nothing more to look at (rejected, discarded) */
    void (*failed)(void *ctx, int cls); /* a table lookup failed */
    void *ctx;
} pn_hbc_ops;

/* pn_hbc_open: the tables of the four parameters (header, mime, nested, body); fatal when
 * one cannot be opened. */
void pn_hbc_open(pn_hbc *hbc, const char *const params[PN_HBC_COUNT]);
int pn_hbc_enabled(const pn_hbc *hbc);
int pn_hbc_changed(const pn_hbc *hbc);
/* pn_hbc_apply: the header fields (an argv, replaced) and the body (replaced; NULL: headers
 * only) through the tables. */
void pn_hbc_apply(const pn_hbc *hbc, pn_argv **headers, pn_buf *body, const pn_hbc_ops *ops);

#endif
