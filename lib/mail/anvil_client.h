/* anvil_client.h: smtpd's client of anvil (private/anvil), the counters behind the
 * smtpd_client_*_limit parameters. */
#ifndef PN_MAIL_ANVIL_CLIENT_H
#define PN_MAIL_ANVIL_CLIENT_H

/* pn_anvil_event: one event (PN_REQ_CONNECT, _DISCONNECT, _MESSAGE, _RECIPIENT, _NEWTLS,
 * _NEWTLS_REPORT, _AUTH) of ident ("service:address"); *count (connect only) and *rate as
 * anvil counts them now, either may be NULL. 0, or -1 when anvil cannot be asked: then
 * there is no limit (warned about once a minute), as with the reference. */
int pn_anvil_event(const char *req, const char *ident, int *count, int *rate);

#endif
