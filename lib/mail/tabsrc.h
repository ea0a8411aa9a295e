/* tabsrc.h: readers for the text sources of tables: postmap's "key value" lines and
 * postalias's "name: value" lines, with comments, continuation lines and "quoted keys". */
#ifndef PN_MAIL_TABSRC_H
#define PN_MAIL_TABSRC_H
#include "base/buf.h"
#include "base/stream.h"
#include "config/cfline.h"

#define PN_TABSRC_MAP 0   /* key whitespace value */
#define PN_TABSRC_ALIAS 1 /* name: value */

typedef struct pn_tabsrc {
    pn_cfline lines;
    pn_stream *stream;
    int syntax;
    pn_buf logical;
} pn_tabsrc;

/* pn_tabsrc_open: NULL with "open PATH: reason" in err. */
pn_tabsrc *pn_tabsrc_open(const char *path, int syntax, pn_buf *err);
pn_tabsrc *pn_tabsrc_fdopen(int fd, const char *label, int syntax);
/* pn_tabsrc_next: 1 with key and value, 0 at the end, -1 on a read error (err set). Lines
 * without a value are reported as warnings naming file and line, and skipped. */
int pn_tabsrc_next(pn_tabsrc *src, pn_buf *key, pn_buf *value, int *line, pn_buf *err);
void pn_tabsrc_close(pn_tabsrc *src);

#endif
