/* smtp.h: the parts of the smtp/lmtp client as they share one session. The program is smtp or
 * lmtp by the name it runs under; the protocol descriptor holds what differs (greeting
 * command, parameter prefix, default port) so that every parameter is read as
 * "<prefix>_name". */
#ifndef PN_SMTP_H
#define PN_SMTP_H
#include "base/argv.h"
#include "base/buf.h"
#include "base/sock.h"
#include "base/stream.h"
#include "mail/delivreq.h"
#include "mail/qfile.h"
#include "mail/tls.h"

struct proto {
    const char *name;         /* "smtp" or "lmtp": parameter prefix */
    const char *hello;        /* "EHLO" or "LHLO" */
    const char *helo_timeout; /* "helo" or "lhlo" */
    int lmtp;                 /* one reply per recipient after the data */
};

extern const struct proto *proto;

/* Server features from the EHLO/LHLO reply. */
#define FEATURE_SIZE 0x01
#define FEATURE_PIPELINING 0x02
#define FEATURE_8BITMIME 0x04
#define FEATURE_DSN 0x08
#define FEATURE_STARTTLS 0x10
#define FEATURE_AUTH 0x20

struct session {
    pn_stream *s;
    char host[256];
    char addr[300]; /* an IP address, or a UNIX socket path */
    pn_buf reply;   /* the last reply, all lines joined */
    int code;       /* its code; 0 when the reply was malformed */
    int features;
    char auth_mechs[256]; /* the mechanisms of the AUTH keyword */
    int timed_out;        /* the last failure was a timeout rather than a lost connection */
    int loop;             /* the server greeted with our own host name */
    int refused;          /* a 5xx greeting that bounces the mail (skip_5xx_greeting = no) */
    const char *relay;    /* "host[addr]:port", for the log */
    pn_tls_session *tls;  /* after STARTTLS */
    int tls_verified;     /* ... with a verified certificate */
    char fail_dsn[8];     /* a TLS policy failure's status ("4.7.4"), else empty */
    int tls_retry_plain;  /* the handshake failed at level may: try again in plain text */
    int tls_off;          /* this connection is that second try */
    int port;             /* the server's TCP port (TLSA records are per port) */
    int dnssec_mx;        /* DNSSEC: its MX answer was validated (1), not (0), none (-1) */
    int dnssec_host;      /* DNSSEC: its address answers were validated */
    struct smtp_tls_policy *policy; /* this server's, from smtp_tls_prepare */
};

/* chat.c */
/* content.c: the header fields (folded lines joined, one item each) and the body of a
 * message, and back. */
void smtp_content_split(const pn_buf *content, pn_argv *fields, pn_buf *body);
void smtp_content_join(const pn_argv *fields, const pn_buf *body, pn_buf *content);
/* checks.c: smtp_header_checks and the others, applied to the content on its way out. */
void smtp_checks_init(void);
int smtp_checks_changed(void);
void smtp_checks_apply(const char *queue_id, pn_buf *content);

/* generic.c: smtp_generic_maps. smtp_generic_addr gives addr or its mapping (in scratch). */
void smtp_generic_init(void);
int smtp_generic_changed(void);
const char *smtp_generic_addr(const char *addr, pn_buf *scratch);
void smtp_generic_content(pn_buf *content);

/* SMTP_PARAM: the smtp_ or lmtp_ parameter of a name, by the protocol this process speaks. */
#define SMTP_PARAM(suffix) (proto->lmtp ? PN_P(lmtp_##suffix) : PN_P(smtp_##suffix))
/* read_reply: a whole (multi-line) reply within the timeout the named parameter sets; -1 when the
 * connection broke or timed out (ss->timed_out says which). Over-long lines are cut, not fatal. */
int read_reply(struct session *ss, const char *timeout);
/* command: send one command and read its reply within the named timeout; with timeout NULL
 * the command is only queued (pipelining: its reply is read later, in order). */
int command(struct session *ss, const char *timeout, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* broken: "lost connection with H[A] while STAGE" or "conversation with H[A] timed out
 * while STAGE", for a failure of read_reply or command. */
void broken(const struct session *ss, const char *stage, pn_buf *out);
/* status_of: the enhanced status code of the last reply, or one made from its class. */
void status_of(const struct session *ss, char *out, size_t len);

/* starttls.c */
void smtp_tls_init(void);
int smtp_tls_changed(void);
/* smtp_starttls: after EHLO, STARTTLS as the destination's security level asks, and EHLO
 * again inside TLS; 0 to go on (in TLS or in plain text), -1 with why (and ss->fail_dsn for
 * a policy failure) when this server cannot take the mail. */
int smtp_starttls(struct session *ss, const char *nexthop, pn_buf *why);
/* smtp_tls_prepare: the TLS policy for the server of the session (host, addr, port and the
 * DNSSEC bits set), before it is connected: the destination's level, and DANE's TLSA
 * records; -1 with why and fail_dsn when the server must not get the mail. The policy stays
 * with the session until smtp_tls_release. */
int smtp_tls_prepare(struct session *ss, const char *nexthop, pn_buf *why);
void smtp_tls_release(struct session *ss);
/* smtp_wrapper_tls: with <prefix>_tls_wrappermode, TLS at once, before the greeting. */
int smtp_wrapper_tls(struct session *ss, const char *nexthop, pn_buf *why);
/* smtp_session_close: the TLS session (close_notify), then the connection. */
void smtp_session_close(struct session *ss);

/* auth.c */
void smtp_sasl_init(void);
int smtp_sasl_changed(void);
/* smtp_authenticate: AUTH when <prefix>_sasl_auth_enable is on, the server offers it and the
 * password table has a login for it; 0 to go on, -1 with why and ss->fail_dsn. */
int smtp_authenticate(struct session *ss, const char *nexthop, pn_buf *why);

/* transaction.c */
/* fate: set a recipient's outcome, enhanced status code and text. */
void fate(int outcome, const char *dsn, const char *text, int *o, pn_buf *d, pn_buf *t);
/* transaction: one mail transaction for the recipients marked in todo; -1 when the server
 * could not be used at all (why says why, and the next address is tried). reused: the
 * connection has been greeted already. *keep in: the caller would keep the connection; out:
 * it is open and ready for another transaction (no QUIT was sent). */
int transaction(struct session *ss, const pn_delivreq *req, const pn_qfile *q, const int *todo,
                int *outcomes, pn_buf *dsns, pn_buf *texts, pn_buf *why, int reused, int *keep);

/* cache.c: one connection kept between requests of this process, for the same next hop:
 * at most <prefix>_connection_cache_time_limit idle, reused for at most
 * <prefix>_connection_reuse_time_limit. */
/* cache_put: keep ss's connection (the cache owns it from here); uses so far. */
void cache_put(struct session *ss, const char *nexthop, const char *relay, int uses);
/* cache_take: a live connection to nexthop (RSET answered) into ss, with its relay text and
 * use count; 1, or 0 when there is none. */
int cache_take(const char *nexthop, struct session *ss, char *relay, size_t len, int *uses);
/* cache_idle_ms: how long the kept connection may still wait (0: none is kept). */
int cache_idle_ms(void *ctx);
/* cache_close: QUIT and close the kept connection. */
void cache_close(void *ctx);

#endif
