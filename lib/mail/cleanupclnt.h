/* cleanupclnt.h: submitting a message to cleanup (doc/protocols.md) on a connection kept
 * across messages: open (the queue ID exists from here on), stream the records as they
 * become known, finish (the reply comes when the file is on disk) or abort. Used by smtpd and
 * by local for forwarding. */
#ifndef PN_MAIL_CLEANUPCLNT_H
#define PN_MAIL_CLEANUPCLNT_H
#include <stddef.h>

#include "base/buf.h"

typedef struct pn_cleanup_client pn_cleanup_client;

/* Reply status bits (doc/protocols.md). */
#define PN_CLEANUP_PROTO 0x01
#define PN_CLEANUP_WRITE 0x02
#define PN_CLEANUP_SIZE 0x04
#define PN_CLEANUP_CONTENT 0x08
#define PN_CLEANUP_HOPS 0x10
#define PN_CLEANUP_RCPT 0x20
#define PN_CLEANUP_DEFER 0x40

pn_cleanup_client *pn_cleanup_client_new(const char *path);
void pn_cleanup_client_free(pn_cleanup_client *client);
/* Flags of a message, given at open. */
#define PN_CLEANUP_FLAG_FILTER 0x01 /* apply header and body checks (mail from outside) */
#define PN_CLEANUP_FLAG_BCC_OK 0x02 /* add the automatic BCC recipients (likewise) */
#define PN_CLEANUP_FLAG_NO_MAP 0x04 /* no canonical, masquerading, virtual alias expansion */
#define PN_CLEANUP_FLAGS_RECEIVED (PN_CLEANUP_FLAG_FILTER | PN_CLEANUP_FLAG_BCC_OK)

/* pn_cleanup_received_flags: the flags for mail received from outside (smtpd, pickup), less
 * what receive_override_options turns off (no_header_body_checks, no_address_mappings). */
int pn_cleanup_received_flags(void);

/* pn_cleanup_open: 0 with the queue ID, or -1 with why. */
int pn_cleanup_open(pn_cleanup_client *client, int flags, pn_buf *queue_id, pn_buf *why);
void pn_cleanup_attr(pn_cleanup_client *client, const char *name, const char *value);
void pn_cleanup_sender(pn_cleanup_client *client, const char *sender);
/* pn_cleanup_filter: the receiving service's content_filter (smtpd, pickup), after open: the
 * message goes to that "transport:nexthop" once queued, unless a FILTER action names another. */
void pn_cleanup_filter(pn_cleanup_client *client);
void pn_cleanup_rcpt(pn_cleanup_client *client, const char *addr, const char *orig,
                     const char *orcpt, int notify);
void pn_cleanup_content(pn_cleanup_client *client);
void pn_cleanup_header(pn_cleanup_client *client, const char *field, size_t len);
void pn_cleanup_body(pn_cleanup_client *client, const char *data, size_t len);
/* pn_cleanup_finish: end the message; 0 with cleanup's status bits and reason, -1 when the
 * connection failed (reason says why). */
int pn_cleanup_finish(pn_cleanup_client *client, int *status, pn_buf *reason);
/* pn_cleanup_abort: throw the open message away. */
void pn_cleanup_abort(pn_cleanup_client *client);
/* pn_cleanup_message: header fields, then body, from a message with LF line ends. */
void pn_cleanup_message(pn_cleanup_client *client, const char *msg, size_t len);
/* pn_cleanup_submit: a whole message of the mail system's own (a notice, a forwarded copy)
 * from sender to one recipient, local rewriting, with an extra first header field when
 * field is not NULL; 0 with its queue ID once cleanup took it, -1 with why. */
int pn_cleanup_submit(pn_cleanup_client *client, const char *sender, const char *rcpt,
                      const char *field, const char *msg, size_t len, pn_buf *queue_id,
                      pn_buf *why);

#endif
