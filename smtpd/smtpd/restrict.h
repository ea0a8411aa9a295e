/* restrict.h: what the parts of smtpd's restriction engine share: restrict.c (the lists,
 * compiled, and their evaluation), restrict_addr.c (addresses, and what DNS says of names)
 * and restrict_access.c (access tables and their actions). */
#ifndef PN_SMTPD_RESTRICT_H
#define PN_SMTPD_RESTRICT_H
#include "base/argv.h"
#include "base/buf.h"
#include "base/inet.h"
#include "config/cfrestrict.h"
#include "mail/maps.h"
#include "smtpd.h"

enum verdict { DUNNO, PERMIT, REFUSE };

struct restriction_class;

/* One compiled restriction: what it does (cfrestrict.h), its table or argument. */
typedef struct rule {
    enum pn_restriction_op op; /* 0: not one smtpd carries out (warned, 451 when reached) */
    int variant;
    char *name;       /* as the list names it, lower case: for warnings */
    pn_maps *table;   /* check_*_access */
    char *table_name; /* ... as the list names it (for the permit log) */
    char *arg;        /* DNS list, policy server, seconds */
    struct restriction_class *class;
} rule;

typedef struct rule_list {
    const char *param;
    rule *rules;
    size_t count;
} rule_list;

/* The lists by stage, in the order of evaluation at RCPT. */
enum {
    STAGE_CLIENT,
    STAGE_HELO,
    STAGE_SENDER,
    STAGE_RELAY,
    STAGE_RECIPIENT,
    STAGE_ETRN,
    STAGE_DATA,
    STAGE_EOD,
    STAGES
};

/* What a reply calls the subject of each stage's list ("Client host", ...). */
extern const char *const rx_what[STAGES];

/* What the actions DEFER_IF_PERMIT and DEFER_IF_REJECT (and the restrictions of those
 * names) hold back until the check is over, and what warn_if_reject arms; reset for each
 * check (check_stages). */
struct rx_held {
    pn_buf if_permit, if_reject; /* the replies they would give */
    int warn_next;               /* warn_if_reject: the next restriction's REJECT is a warning */
    const char *command;         /* "RCPT", "ETRN": for the log */
    int permit_logged;           /* the permit being returned was logged where it was decided */
    const char *rcpt;
};
extern struct rx_held rx_held;

/* restrict.c */
enum verdict rx_evaluate(smtpd_session *s, const rule *r, const char *rcpt, int stage,
                         pn_buf *reply);
/* rx_compile: one restriction name (or class) as a rule. */
void rx_compile(rule *r, const char *name);
/* rx_code_reply: "NNN X.detail " with the reply code a parameter sets. */
void rx_code_reply(pn_buf *reply, const char *param, const char *detail);
/* rx_tempfail: a DNS failure, held back as defer_if_permit; DUNNO. */
enum verdict rx_tempfail(pn_buf *text);
pn_maps *rx_open_maps(const char *param, const char *value);
/* rx_parse_nets: a parameter's networks; how many. */
size_t rx_parse_nets(const char *param, pn_cidr **nets);

/* restrict_addr.c */
void rx_addr_init(void);
void rx_addr_free(void);
int rx_addr_changed(void);
/* rx_resolve_class: the address class flags trivial-rewrite gives, -1 on a failure. */
int rx_resolve_class(const char *addr);
int rx_valid_hostname(const char *name);
/* rx_has_address: an A, AAAA or MX record for the name; PN_DNS_*. */
int rx_has_address(const char *name);
/* rx_unknown_domain: reject_unknown_{sender,recipient}_domain. */
enum verdict rx_unknown_domain(const char *addr, int recipient, pn_buf *reply);
/* rx_unlisted: the address is not in the table its class is checked against (1, replied). */
int rx_unlisted(const char *addr, int sender, pn_buf *reply);
enum verdict rx_mx_backup(smtpd_session *s, const char *rcpt, int stage);

/* restrict_access.c */
void rx_access_init(void);
void rx_access_free(void);
/* rx_access_action: an access table's or policy server's action as a verdict; subject and
 * what name it in a reply ("<a@b>: Recipient address rejected: ..."). */
enum verdict rx_access_action(smtpd_session *s, const char *value, const char *subject,
                              const char *what, int stage, pn_buf *reply);
enum verdict rx_check_access(smtpd_session *s, const rule *r, const char *rcpt, int stage,
                             pn_buf *reply);
enum verdict rx_server_access(smtpd_session *s, const rule *r, const char *rcpt, int stage,
                              pn_buf *reply);
/* rx_log_permit: a permit that smtpd_log_access_permit_actions names, logged. */
void rx_log_permit(smtpd_session *s, const char *action, const char *what, const char *subject,
                   const char *table);

#endif
