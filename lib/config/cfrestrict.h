/* cfrestrict.h: the smtpd restriction names: which the reference knows and which of those
 * Postern carries out. A list entry Postern does not carry out makes every RCPT that reaches it
 * fail with 451 4.3.5 (mail is never accepted unchecked); postfix check, start and reload say
 * so in advance. */
#ifndef PN_CONFIG_CFRESTRICT_H
#define PN_CONFIG_CFRESTRICT_H
#include "base/buf.h"

/* The restriction-list parameters, NULL-terminated. */
extern const char *const pn_restriction_params[];

/* pn_restriction_implemented: does smtpd carry out this (lower-case) restriction? */
int pn_restriction_implemented(const char *name);
/* pn_restriction_known: is it one of the reference's restrictions? */
int pn_restriction_known(const char *name);
/* pn_restriction_takes_argument: is the next word of the list its argument (a table, a
 * policy server, a DNS list domain)? */
int pn_restriction_takes_argument(const char *name);
/* pn_restriction_unimplemented: the entries of a list value that smtpd does not carry out,
 * blank-separated, appended to out; how many. */
int pn_restriction_unimplemented(const char *value, pn_buf *out);

#endif
