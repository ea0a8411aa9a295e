/* cfrestrict.h: the smtpd restriction names: which the reference knows and which of those
 * Postern carries out. A list entry Postern does not carry out makes every RCPT that reaches it
 * fail with 451 4.3.5 (mail is never accepted unchecked); postfix check, start and reload say
 * so in advance. */
#ifndef PN_CONFIG_CFRESTRICT_H
#define PN_CONFIG_CFRESTRICT_H
#include "base/buf.h"

/* The restriction-list parameters, NULL-terminated. */
extern const char *const pn_restriction_params[];

/* What a restriction does: smtpd compiles each list into these (smtpd/smtpd/restrict.c). */
enum pn_restriction_op {
    PN_RX_PERMIT = 1,
    PN_RX_REJECT,
    PN_RX_DEFER,
    PN_RX_WARN_IF_REJECT,
    PN_RX_DEFER_IF_PERMIT,
    PN_RX_DEFER_IF_REJECT,
    PN_RX_PERMIT_MYNETWORKS,
    PN_RX_PERMIT_INET_INTERFACES,
    PN_RX_PERMIT_SASL_AUTHENTICATED,
    PN_RX_PERMIT_TLS_CLIENTCERTS,
    PN_RX_PERMIT_TLS_ALL_CLIENTCERTS,
    PN_RX_AUTH_DESTINATION,  /* variant: 'p'ermit_, 'r'eject_un-, 'd'efer_un- */
    PN_RX_MX_BACKUP,         /* permit_mx_backup */
    PN_RX_INVALID_HELO,      /* reject_invalid_helo_hostname */
    PN_RX_NON_FQDN_HELO,     /* reject_non_fqdn_helo_hostname */
    PN_RX_UNKNOWN_HELO,      /* reject_unknown_helo_hostname */
    PN_RX_UNKNOWN_CLIENT,    /* variant 1: the reverse name only */
    PN_RX_NON_FQDN_ADDRESS,  /* variant: 's'ender, 'r'ecipient */
    PN_RX_UNKNOWN_DOMAIN,    /* variant: 's'ender, 'r'ecipient */
    PN_RX_UNLISTED,          /* variant: 's'ender, 'r'ecipient */
    PN_RX_MULTI_RECIPIENT_BOUNCE,
    PN_RX_UNAUTH_PIPELINING,
    PN_RX_LOGIN_MISMATCH,    /* variant: bits 1 authenticated, 2 unauthenticated, 4 known only */
    PN_RX_ACCESS,            /* check_*_access; variant: PN_RX_KEY_* */
    PN_RX_SERVER_ACCESS,     /* check_*_{a,mx,ns}_access; variant: PN_RX_KEY_* | PN_RX_SERVER_* */
    PN_RX_DNSBL,             /* variant: SMTPD_DNSBL_* subject, +16 when a listing permits */
    PN_RX_POLICY,
    PN_RX_SLEEP,
    PN_RX_PLAINTEXT_SESSION,  /* reject_plaintext_session */
    PN_RX_NAKED_IP_ADDRESS,   /* permit_naked_ip_address (deprecated, warned) */
    PN_RX_CLASS              /* a name of smtpd_restriction_classes */
};
/* What check_*_access looks up. */
enum { PN_RX_KEY_CLIENT, PN_RX_KEY_REVERSE, PN_RX_KEY_HELO, PN_RX_KEY_SENDER, PN_RX_KEY_RECIPIENT,
       PN_RX_KEY_CCERT, PN_RX_KEY_SASL };
#define PN_RX_DNSBL_PERMIT 16
/* What check_*_{a,mx,ns}_access look up for the name: its addresses, its MX hosts, its name
 * servers (then theirs). */
#define PN_RX_SERVER_A 0x10
#define PN_RX_SERVER_MX 0x20
#define PN_RX_SERVER_NS 0x40

typedef struct pn_restriction_def {
    const char *name;
    enum pn_restriction_op op;
    int variant;
    const char *argument; /* what the next word must be ("table", "domain name", ...), or NULL */
} pn_restriction_def;

/* pn_restriction_find: the restriction of that name (any case) that smtpd carries out, or
 * NULL (restriction classes are not in it). */
const pn_restriction_def *pn_restriction_find(const char *name);
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
