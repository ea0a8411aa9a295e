/* log.h: the one logger. Messages go to syslog (facility mail, tag syslog_name/process_name),
 * to maillog_file when set, and to stderr when asked (commands always, daemons with -V). */
#ifndef PN_BASE_LOG_H
#define PN_BASE_LOG_H

#define PN_LOG_STDERR 1
#define PN_LOG_SYSLOG 2

extern int pn_verbose; /* -v count */

/* pn_log_init: progname is what stderr lines start with ("postconf: fatal: ..."). */
void pn_log_init(const char *progname, int destinations);
/* pn_log_set_tag: the syslog tag; "postfix" and "postconf" give "postfix/postconf". */
void pn_log_set_tag(const char *syslog_name, const char *process_name);
/* pn_log_set_prefix: what stderr lines start with, when it is not the program name. */
void pn_log_set_prefix(const char *prefix);
/* pn_log_set_stderr_level: 0 = every message on stderr (when enabled), 1 = warnings and
 * worse only. */
void pn_log_set_stderr_level(int level);
void pn_log_set_file(const char *path); /* maillog_file; NULL or "" turns it off */
void pn_log_set_destinations(int destinations);
/* pn_log_set_fatal_hook: called once before a fatal exit (e.g. to remove a temporary file). */
void pn_log_set_fatal_hook(void (*hook)(void));

void pn_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void pn_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
