/* bounce.h: the parts of the bounce service. A notice is one of four kinds, each with its
 * template and its log: failure (bounce/ID), delay (defer/ID), success (trace/ID), and the
 * report sendmail -v or -bv asked for (trace/ID as well). */
#ifndef PN_BOUNCE_H
#define PN_BOUNCE_H
#include "base/buf.h"
#include "mail/bouncelog.h"
#include "mail/qfile.h"

enum notice_kind { NOTICE_FAILURE, NOTICE_DELAY, NOTICE_SUCCESS, NOTICE_REPORT };

typedef struct bounce_template {
    pn_buf charset;
    pn_buf from;
    pn_buf subject;
    pn_buf postmaster_subject;
    pn_buf text; /* $-expanded */
} bounce_template;

/* template.c: the kind's template, from bounce_template_file when it defines one, else the
 * built-in text, loaded once per process; NULL with why when the file cannot be read or is
 * malformed (file and line). */
const bounce_template *template_get(enum notice_kind kind, pn_buf *why);

/* What a notice reports about one recipient: its log entry and its DSN request. */
typedef struct notice_rcpt {
    const pn_bounce_entry *entry;
    const char *orcpt; /* "type;address", or NULL */
} notice_rcpt;

/* notice.c: the whole message (header and MIME parts) with LF line ends. to_postmaster
 * makes the postmaster copy (its own subject, headers only). */
void notice_compose(enum notice_kind kind, const bounce_template *t, const char *id,
                    const pn_qfile *q, const char *sender, const notice_rcpt *r, int count,
                    const pn_buf *original, int to_postmaster, pn_buf *out);

#endif
