/* cfline.h: the logical-line reader shared by main.cf, master.cf, postmap sources and alias
 * files. Lines whose first non-blank is '#' and blank lines are skipped (also inside a
 * continued entry); a line starting with a blank continues the previous one. There are no
 * inline comments. */
#ifndef PN_CONFIG_CFLINE_H
#define PN_CONFIG_CFLINE_H
#include "base/buf.h"
#include "base/stream.h"

/* How continuation lines are joined. */
#define PN_CFLINE_JOIN_SPACE 0 /* trim each piece, join with one space (main.cf, master.cf) */
#define PN_CFLINE_JOIN_RAW 1   /* append the continuation as it is (postmap, postalias) */

#define PN_CFLINE_MAX (4 * 1024 * 1024) /* longest logical line accepted */

typedef struct pn_cfline {
    pn_stream *stream;
    const char *path;
    int join;
    int lineno;     /* physical lines read so far */
    int start_line; /* where the last logical line began */
    pn_buf pending; /* a physical line read ahead */
    int have_pending;
    int done;
    pn_buf error; /* reason for the last -1 */
} pn_cfline;

void pn_cfline_init(pn_cfline *reader, pn_stream *stream, const char *path, int join);
void pn_cfline_release(pn_cfline *reader);
/* pn_cfline_join: append one physical line's text to a logical line, as the join mode says. */
void pn_cfline_join(pn_buf *logical, const char *piece, int join);
/* pn_cfline_is_skipped: blank or comment line. */
int pn_cfline_is_skipped(const char *line);
/* pn_cfline_next: 1 with the logical line in out, 0 at the end, -1 with reader->error set
 * (prefixed "PATH, line N: "). */
int pn_cfline_next(pn_cfline *reader, pn_buf *out);

#endif
