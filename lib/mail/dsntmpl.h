/* dsntmpl.h: the texts at the start of delivery status notifications: built in, or from a
 * template file in bounce_template_file's format (failure_template, delay_template,
 * success_template, verify_template: header-like lines (Charset, From, Subject,
 * Postmaster-Subject), an empty line, then the text); $name expands to a main.cf parameter,
 * a time parameter also with a unit (${delay_warning_time_hours}). Shared by the bounce
 * service and postconf -b / -t. */
#ifndef PN_MAIL_DSNTMPL_H
#define PN_MAIL_DSNTMPL_H
#include "base/buf.h"

enum { PN_TMPL_FAILURE, PN_TMPL_DELAY, PN_TMPL_SUCCESS, PN_TMPL_VERIFY, PN_TMPL_COUNT };

/* pn_dsn_template_name: "failure_template", ... */
const char *pn_dsn_template_name(int kind);
/* pn_dsn_template_text: the raw template of kind: from the file at path when it defines
 * it (1), else the built-in one (0); -1 with why (file and line) when the file is unreadable
 * or malformed. path may be NULL or empty. */
int pn_dsn_template_text(int kind, const char *path, pn_buf *out, pn_buf *why);
/* pn_dsn_template_expand: text with its $name expressions expanded, appended to out. */
int pn_dsn_template_expand(const char *text, pn_buf *out, pn_buf *why);

#endif
