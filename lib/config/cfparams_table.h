/* cfparams_table.h: the shape of the parameter table (cfparams_list.h, cfparams_table.c): each
 * parameter's type, default, range, the programs that read it and whether Postern implements
 * it; and PN_P(name), the compile-time checked spelling of a parameter name in code. */
#ifndef PN_CONFIG_CFPARAMS_TABLE_H
#define PN_CONFIG_CFPARAMS_TABLE_H
#include <stdint.h>

enum pn_param_type { PN_PT_STR, PN_PT_INT, PN_PT_BOOL, PN_PT_TIME };

/* pn_param_status: what Postern does with a setting (cfparams_list.h explains each). */
enum pn_param_status { PN_PS_IMPL, PN_PS_INFO, PN_PS_WARN, PN_PS_FATAL };

#define PN_PF_DYN 1 /* default computed at run time (host names, networks, process data) */
#define PN_PF_RO 2  /* set by the program, never by main.cf */

/* The programs, Postfix's names. Those Postern does not have are listed too: a parameter they
 * read is one Postern cannot honour. */
/* clang-format off */
#define PN_PROGRAM_LIST(X)                                                                         \
    X(MASTER, "master") X(POSTLOGD, "postlogd") X(SMTPD, "smtpd") X(CLEANUP, "cleanup")            \
    X(PICKUP, "pickup") X(QMGR, "qmgr") X(FLUSH, "flush") X(SHOWQ, "showq")                        \
    X(TREWRITE, "trivial-rewrite") X(LOCAL, "local") X(VIRTUAL, "virtual") X(PIPE, "pipe")         \
    X(SMTP, "smtp") X(LMTP, "lmtp") X(ERROR, "error") X(DISCARD, "discard") X(BOUNCE, "bounce")    \
    X(ANVIL, "anvil") X(SCACHE, "scache") X(VERIFY, "verify") X(PROXYMAP, "proxymap")              \
    X(POSTSCREEN, "postscreen") X(TLSMGR, "tlsmgr") X(TLSPROXY, "tlsproxy") X(DNSBLOG, "dnsblog")  \
    X(QMQPD, "qmqpd") X(SPAWN, "spawn") X(OQMGR, "oqmgr") X(POSTMULTI, "postmulti")               \
    X(POSTFIX, "postfix") X(POSTCONF, "postconf") X(POSTMAP, "postmap") X(POSTALIAS, "postalias") \
    X(POSTQUEUE, "postqueue") X(POSTSUPER, "postsuper") X(SENDMAIL, "sendmail")                   \
    X(POSTDROP, "postdrop") X(POSTLOG, "postlog") X(QSHAPE, "qshape") X(POSTCAT, "postcat")
/* clang-format on */

enum pn_program {
#define PN_PROGRAM_ENUM(id, name) PN_PROG_##id,
    PN_PROGRAM_LIST(PN_PROGRAM_ENUM)
#undef PN_PROGRAM_ENUM
        PN_PROG_COUNT
};
#define PN_R(id) (UINT64_C(1) << PN_PROG_##id)
#define PN_R_AGENTS                                                                                \
    (PN_R(LOCAL) | PN_R(VIRTUAL) | PN_R(PIPE) | PN_R(SMTP) | PN_R(LMTP) | PN_R(ERROR) |            \
     PN_R(DISCARD))
#define PN_R_COMMANDS ((UINT64_C(1) << PN_PROG_COUNT) - PN_R(POSTFIX))
#define PN_R_DAEMONS (PN_R(POSTFIX) - 1)
#define PN_R_ALL ((UINT64_C(1) << PN_PROG_COUNT) - 1)

/* pn_program_find: the program of a name (a path's last part counts), or -1. */
int pn_program_find(const char *name);
const char *pn_program_name(int program);

typedef struct pn_param_def {
    const char *name;
    enum pn_param_type type;
    char unit; /* PN_PT_TIME: the unit of a bare number */
    int flags;
    const char *defval; /* raw default; may contain $ expressions */
    uint64_t readers;   /* PN_R() bits */
    enum pn_param_status status;
    long min, max;     /* PN_PT_INT, PN_PT_TIME (seconds); max 0: no upper bound */
    const char *words; /* allowed words ("*": a list of them), or NULL */
} pn_param_def;

extern const pn_param_def pn_param_table[];
extern const unsigned pn_param_table_size;

/* The identifiers of the names: PN_P(myhostname) is "myhostname", and a misspelt name does not
 * compile. */
enum pn_param_id {
#define PN_PARAM(name, ...) PN_PID_##name,
#include "config/cfparams_list.h"
#undef PN_PARAM
    PN_PID_COUNT
};
#define PN_P(name) (&(#name)[0 * PN_PID_##name])

#endif
