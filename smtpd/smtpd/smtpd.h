/* smtpd.h: one SMTP session as the parts of smtpd share it. */
#ifndef PN_SMTPD_H
#define PN_SMTPD_H
#include "base/argv.h"
#include "base/buf.h"
#include "base/inet.h"
#include "base/stream.h"
#include "ipc/ipcclnt.h"
#include "mail/sasl.h"
#include "mail/tls.h"

/* Commands counted in the disconnect line, in the reference's order. */
enum smtpd_cmd {
    CMD_HELO,
    CMD_EHLO,
    CMD_XCLIENT,
    CMD_XFORWARD,
    CMD_STARTTLS,
    CMD_AUTH,
    CMD_MAIL,
    CMD_RCPT,
    CMD_DATA,
    CMD_BDAT,
    CMD_RSET,
    CMD_NOOP,
    CMD_VRFY,
    CMD_ETRN,
    CMD_QUIT,
    CMD_UNKNOWN,
    CMD_COUNT
};

typedef struct smtpd_session {
    pn_stream *client;
    pn_buf name;         /* verified client host name: PTR and forward agree, else "unknown" */
    pn_buf reverse_name; /* the PTR name, unverified ("unknown" when there is none) */
    int name_status;     /* 0 verified, 4 temporary failure, 5 no (verified) name */
    int header_local;    /* local_header_rewrite_clients lists the client: 1, 0, -1 unknown */
    pn_buf namaddr;      /* name[addr], or name[addr]:port with smtpd_client_port_logging */
    pn_buf addr;         /* client address, IPv4-mapped addresses unmapped */
    pn_buf port;
    pn_inet_addr inet;
    pn_buf helo;
    int esmtp;   /* EHLO seen */
    int in_mail; /* MAIL accepted */
    pn_buf sender;
    pn_argv *rcpts; /* accepted recipients */
    int rcpt_attempts;
    pn_buf queue_id;   /* set when cleanup opened the message */
    long message_size; /* SIZE= from MAIL (-1: too large to read) */
    char encoding[8];  /* "7bit" or "8bit" from BODY=, or empty */
    char ret[8];       /* "FULL" or "HDRS" from RET=, or empty */
    pn_buf envid;      /* ENVID=, decoded */
    int smtputf8;
    int errors;
    int quit;
    int counts[CMD_COUNT][2]; /* [ok, total] */
    pn_buf bdat;              /* BDAT content collected so far */
    int bdat_active;
    int bdat_failed;
    pn_tls_session *tls; /* after STARTTLS, or from the start in wrapper mode */
    int ccert;           /* the client certificate: 0 none, 1 not trusted, 2 trusted */
    pn_buf ccert_cn;     /* its subject and issuer common names, its fingerprints */
    pn_buf ccert_issuer;
    pn_buf ccert_fp;
    pn_buf ccert_pkey_fp;
    pn_sasl_server *sasl; /* made when AUTH is first offered or used (auth.c) */
    pn_buf sasl_method;   /* after a successful AUTH: the mechanism and the login */
    pn_buf sasl_username;
    pn_buf sasl_sender;  /* AUTH= of MAIL FROM, from an authenticated client */
    pn_buf transcript;   /* for notify_classes (transcript.c) */
    int error_classes;   /* 1 << ERROR_* seen in this session */
    pn_buf anvil_ident;  /* "service:address" when anvil counts this client (limits.c) */
    int limits_checked;  /* ... which was decided */
    int ill_pipelining;  /* a command came before the reply it had to wait for */
    int limits_exempt;   /* smtpd_client_event_limit_exceptions lists the client */
    int anvil_connected; /* anvil counts this connection */
    const char *last;    /* the last command ("CONNECT" before any), for the log */
    pn_argv *prepend;       /* header lines PREPEND actions gave this transaction */
    pn_argv *actions;       /* what HOLD, DISCARD, FILTER, REDIRECT, BCC actions ask of cleanup */
    int held;               /* a HOLD action was taken (logged once) */
    int discarded;          /* a DISCARD action: the rest of the transaction is not checked */
    pn_buf access_denied;   /* the client list refused the connection: every command's answer */
    pn_buf policy_instance; /* the transaction's "instance" for policy servers */
} smtpd_session;

/* The notify_classes an error reply may belong to. */
enum { ERROR_RESOURCE, ERROR_SOFTWARE, ERROR_PROTOCOL, ERROR_POLICY };

/* The server's TLS and its level, prepared before the jail (main.c). */
extern pn_tls_server *smtpd_tls;
extern enum pn_tls_level smtpd_tls_level;

/* session.c */
/* smtpd_session_init: an empty session (no client yet); smtpd_session_release frees what
 * it holds, not the client stream. */
void smtpd_session_init(smtpd_session *s);
void smtpd_session_release(smtpd_session *s);
void smtpd_reply(smtpd_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void smtpd_session_run(smtpd_session *s);
/* smtpd_proto: "SMTP" or "ESMTP", as logged and queued; smtpd_received_proto: the same with
 * "S" for TLS and "A" for AUTH, as the Received header has it. */
const char *smtpd_proto(const smtpd_session *s);
const char *smtpd_received_proto(const smtpd_session *s);
void smtpd_reset_transaction(smtpd_session *s);
/* smtpd_start_tls: the handshake on the connection (STARTTLS, wrapper mode); 0, or -1 when
 * the session must end (logged). */
int smtpd_start_tls(smtpd_session *s);
/* auth.c */
void smtpd_auth_init(void);
int smtpd_auth_changed(void);
/* smtpd_auth_ehlo: the AUTH keyword (and AUTH= for broken clients) when AUTH is offered. */
void smtpd_auth_ehlo(smtpd_session *s, pn_argv *keywords);
void smtpd_cmd_auth(smtpd_session *s, const char *arg);
/* smtpd_auth_reset: forget the login and the SASL server (STARTTLS, end of session). */
void smtpd_auth_reset(smtpd_session *s);
/* smtpd_check_login: reject_*_sender_login_mismatch for the sender, applied to authenticated
 * and/or unauthenticated clients; known: only senders that smtpd_sender_login_maps lists.
 * 1 with the reply composed when refused. */
int smtpd_check_login(smtpd_session *s, int authenticated, int unauthenticated, int known,
                      pn_buf *reply);
/* data.c */
void smtpd_cmd_data(smtpd_session *s);
void smtpd_cmd_bdat(smtpd_session *s, const char *args);
/* params.c: 0, or -1 with the reply that refuses the command */
int smtpd_mail_params(smtpd_session *s, const char *params, pn_buf *reply);
int smtpd_rcpt_params(const char *params, int *notify, pn_buf *orcpt, pn_buf *reply);
/* restrict.c */
void smtpd_restrict_init(void);
/* smtpd_restrict_free: all that init made (to compile the lists anew). */
void smtpd_restrict_free(void);
/* smtpd_restrict_resolve_here: resolve addresses with this resolver, in this process, not
 * through trivial-rewrite (the restriction engine's golden tests). */
struct pn_resolver;
void smtpd_restrict_resolve_here(struct pn_resolver *resolver);
int smtpd_restrict_changed(void);
/* smtpd_check_rcpt: 0 accept; otherwise the reply was composed into reply. */
int smtpd_check_rcpt(smtpd_session *s, const char *rcpt, pn_buf *reply);
/* Without smtpd_delay_reject, the client list at the connection (its refusal takes the
 * greeting's place), the helo list at HELO/EHLO ("HELO" or "EHLO" as command), the sender
 * list at MAIL; with it (the default) these return 0 and the lists wait for RCPT. */
int smtpd_check_connect(smtpd_session *s, pn_buf *reply);
int smtpd_check_helo(smtpd_session *s, const char *command, pn_buf *reply);
int smtpd_check_mail(smtpd_session *s, pn_buf *reply);
/* smtpd_check_data, smtpd_check_eod: smtpd_data_restrictions at DATA (and the first BDAT),
 * smtpd_end_of_data_restrictions once the message is in; 0 or -1 as smtpd_check_rcpt. */
int smtpd_check_data(smtpd_session *s, pn_buf *reply);
int smtpd_check_eod(smtpd_session *s, pn_buf *reply);
/* smtpd_address_resolves: 0 when the rewrite service calls the address malformed ("user@",
 * "user@1.2.3.4"); a lookup failure is no syntax error. */
int smtpd_address_resolves(const char *addr);
/* smtpd_local_header_client: does local_header_rewrite_clients list this client? */
int smtpd_local_header_client(const smtpd_session *s);
/* smtpd_soften: with soft_bounce, a 5xx reply (and its 5.x.x code) becomes 4xx. */
void smtpd_soften(pn_buf *reply);
/* smtpd_check_etrn: smtpd_etrn_restrictions (after the client and helo lists) for a site. */
int smtpd_check_etrn(smtpd_session *s, const char *site, pn_buf *reply);
int smtpd_in_mynetworks(const smtpd_session *s);
/* submit.c: the message on its way to cleanup */
int submit_open(smtpd_session *s, pn_buf *why);
int submit_envelope_rcpt(smtpd_session *s, const char *rcpt, const char *orcpt, int notify);
int submit_content(smtpd_session *s, const pn_buf *headers_and_body, int too_big, int *status,
                   pn_buf *reason);
void submit_abort(smtpd_session *s);
/* submit_notice: a message of the mail system's own (LF line ends); 0, or -1 with why. */
int submit_notice(const char *sender, const char *rcpt, const pn_buf *msg, pn_buf *why);
/* transcript.c */
void transcript_add(smtpd_session *s, const char *direction, const char *text, size_t len);
void transcript_reply(smtpd_session *s, const char *reply, size_t len);
/* transcript_send: at the end of a session, the postmaster's copy, when notify_classes asks. */
void transcript_send(smtpd_session *s);

/* footer.c: smtpd_reject_footer(_maps) after a 4XX or 5XX reply (without its CR LF). */
void smtpd_footer_init(void);
void smtpd_footer(smtpd_session *s, pn_buf *reply);

/* smtpd_log_action: "NOQUEUE: VERB: STAGE from host[addr]: TEXT; from=<s> to=<r> proto=P
 * helo=<h>", as the reference logs reject, warn, info, hold and the other actions. */
void smtpd_log_action(smtpd_session *s, const char *verb, const char *stage, const char *text,
                      const char *rcpt);

/* policy.c: check_policy_service. smtpd_policy_query asks the server spec
 * ("inet:host:port", "unix:path", or a name under private/) about the session at stage
 * ("RCPT", ...) and gives its action; when the server cannot be asked,
 * smtpd_policy_service_default_action (warned). */
void smtpd_policy_query(smtpd_session *s, const char *spec, const char *stage, const char *rcpt,
                        pn_buf *action);

/* limits.c: the per-client limits anvil counts. Each check that fails has replied (and
 * warned) and returns -1. connect: 421 before the greeting; newtls_check: before a
 * handshake (454, or 421 in wrapper mode, where it comes after). */
void smtpd_limits_init(void);
int smtpd_limit_connect(smtpd_session *s);
void smtpd_limit_disconnect(smtpd_session *s);
int smtpd_limit_mail(smtpd_session *s);
int smtpd_limit_rcpt(smtpd_session *s);
int smtpd_limit_auth(smtpd_session *s);
int smtpd_limit_newtls_check(smtpd_session *s, int wrapper);
/* smtpd_limit_newtls: a handshake that made a new session (not a resumed one) counts. */
void smtpd_limit_newtls(smtpd_session *s);

/* dnsbl.c: DNS lists. The subject looked up below the zone: */
enum {
    SMTPD_DNSBL_CLIENT,      /* the client address, reversed */
    SMTPD_DNSBL_RHS_CLIENT,  /* its verified name */
    SMTPD_DNSBL_RHS_REVERSE, /* its PTR name */
    SMTPD_DNSBL_RHS_SENDER,  /* the sender's domain */
    SMTPD_DNSBL_RHS_HELO,     /* the HELO name */
    SMTPD_DNSBL_RHS_RECIPIENT /* the recipient's domain */
};
/* smtpd_dnsbl_check: is the subject in the list spec ("zone" or "zone=filter")? 1 with the
 * TXT reason in txt and the subject in what, 0 not (or no subject), -1 the lookup failed. */
int smtpd_dnsbl_check(smtpd_session *s, int subject, const char *spec, const char *rcpt,
                      pn_buf *txt, pn_buf *what);
/* smtpd_dnsbl_reply: the rejection of a listed subject, rbl_reply_maps or default_rbl_reply. */
void smtpd_dnsbl_reply(smtpd_session *s, int subject, const char *spec, const char *txt,
                       const char *what, const char *rcpt, pn_buf *reply);

#endif
