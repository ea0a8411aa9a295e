/* cfcheck.h: a configuration checked against the parameter table: values of the right type,
 * in range and among the allowed words (every daemon checks the parameters it reads before it
 * serves), and settings Postern does not implement (refused: a warning, or for those whose
 * absence would weaken security or lose mail, the services that read them do not start).
 * doc/configuration.md. */
#ifndef PN_CONFIG_CFCHECK_H
#define PN_CONFIG_CFCHECK_H
#include "base/buf.h"
#include "config/cfparams_table.h"

/* pn_config_check_value: 0 when the value in force of def is acceptable, else -1 with the
 * reason in why, naming file and line ("PATH, line N: bad numerical configuration: ..."). */
int pn_config_check_value(const pn_param_def *def, pn_buf *why);

/* pn_config_validate: check every implemented parameter that program reads; fatal at the
 * first bad value. Daemons call it once the -o overrides are in force, before serving. */
void pn_config_validate(int program);

/* pn_config_refusal: PN_PS_WARN or PN_PS_FATAL when def is set (main.cf or -o) to something
 * other than its default that Postern does not implement, else 0. A few parameters are refused
 * only for some values (smtpd_tls_security_level = may warns, = encrypt is fatal). */
int pn_config_refusal(const pn_param_def *def);

/* pn_config_refusal_text: "main.cf: parameter X is not implemented by Postern", or with
 * "master.cf: service S: " when the value is a -o override of service S. */
void pn_config_refusal_text(const pn_param_def *def, const char *service, pn_buf *out);

/* pn_config_refuse: the daemon's side: fatal when a parameter that program reads is refused
 * as fatal (master does not start such a service; this catches a direct start). */
void pn_config_refuse(int program, const char *service);

/* pn_config_fatal_refusals: how many parameters that program reads are refused as fatal, with
 * the overrides in force; their refusal texts are appended to texts, joined by "; ". */
int pn_config_fatal_refusals(int program, const char *service, pn_buf *texts);

#endif
