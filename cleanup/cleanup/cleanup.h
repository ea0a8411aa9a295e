/* cleanup.h: one message on its way into the queue, as the parts of cleanup see it. */
#ifndef PN_CLEANUP_H
#define PN_CLEANUP_H
#include <sys/time.h>

#include "base/argv.h"
#include "base/buf.h"
#include "mail/maps.h"

/* Status bits of the reply (doc/protocols.md). */
#define CLEANUP_STAT_PROTO 0x01
#define CLEANUP_STAT_WRITE 0x02
#define CLEANUP_STAT_SIZE 0x04
#define CLEANUP_STAT_CONTENT 0x08
#define CLEANUP_STAT_HOPS 0x10
#define CLEANUP_STAT_RCPT 0x20
#define CLEANUP_STAT_DEFER 0x40

typedef struct cleanup_rcpt {
    char *addr;
    char *orig;
    char *orcpt;
    int notify;
} cleanup_rcpt;

typedef struct cleanup_msg {
    pn_buf queue_id;
    struct timeval arrival;
    int fd;
    int status;
    pn_buf reason;
    pn_argv *attrs; /* "name=value" */
    pn_buf sender;
    cleanup_rcpt *rcpts;
    size_t rcpt_count;
    pn_argv *headers; /* header fields as received (folded, without the final LF) */
    size_t header_bytes;
    pn_buf body;
    int in_content;
    int flags;       /* PN_CLEANUP_FLAG_* of the client */
    int trusted;     /* the client runs as root or mail_owner: its 'A' records count */
    int discard;     /* a DISCARD action: accepted, not queued */
    int hold;        /* a HOLD action: queued in hold/ */
    pn_buf redirect; /* a REDIRECT action: the one recipient */
    pn_buf filter;   /* a FILTER action: transport:nexthop */
    pn_argv *bcc;    /* BCC actions: recipients to add */
} cleanup_msg;

/* envelope.c */
enum addr_class {
    CLASS_ENVELOPE_SENDER,
    CLASS_ENVELOPE_RECIPIENT,
    CLASS_HEADER_SENDER,
    CLASS_HEADER_RECIPIENT
};
/* envelope_map_address: canonical mapping and masquerading, as the class asks. */
void envelope_map_address(pn_buf *addr, int cls);
void envelope_init(void);
void envelope_add_rcpt(cleanup_msg *msg, const char *addr, const char *orcpt, int notify);
/* envelope_actions: what header and body checks asked of the envelope (REDIRECT, BCC). */
void envelope_actions(cleanup_msg *msg);
void envelope_finish(cleanup_msg *msg);
int envelope_tables_changed(void);
/* message.c: a message made empty and released; cleanup_attr: the value of a client
 * attribute ("client_name", ...), or NULL. */
void cleanup_msg_init(cleanup_msg *msg);
void cleanup_msg_release(cleanup_msg *msg);
const char *cleanup_attr(const cleanup_msg *msg, const char *name);
/* checks.c: header_checks, mime_header_checks, nested_header_checks, body_checks. */
void checks_init(void);
int checks_changed(void);
int checks_enabled(void);
void checks_apply(cleanup_msg *msg);
/* cleanup_log_action: "ID: action: where LINE from CLIENT; from=<> to=<> proto=P helo=<H>:
 * why", the reference's line for what content rules did (where: header, body, content). */
void cleanup_log_action(const cleanup_msg *msg, const char *action, const char *where,
                        const char *line, const char *why);
/* characters.c: message_strip_characters and message_reject_characters on one header or
 * body record (len updated); the first disallowed character rejects the message. */
void characters_init(void);
void characters_apply(cleanup_msg *msg, char *record, size_t *len);
/* records.c: cleanup_take_record: one record from the client into msg; 1 more to come, 0 the
 * end ('.', or '!' with *aborted set), -1 the client is gone or sent a record too large. A
 * malformed record marks msg (CLEANUP_STAT_PROTO). */
struct pn_stream;
int cleanup_take_record(struct pn_stream *client, cleanup_msg *msg, int *aborted);
/* headers.c */
void headers_finish(cleanup_msg *msg);

#endif
