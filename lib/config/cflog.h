/* cflog.h: the log destinations main.cf chooses (maillog_file, syslog_facility, syslog_name),
 * applied to the logger (doc/logging.md). */
#ifndef PN_CONFIG_CFLOG_H
#define PN_CONFIG_CFLOG_H
#include "base/buf.h"

#define PN_CFLOG_WRITER 1 /* postlogd: append to maillog_file itself */
#define PN_CFLOG_DIRECT 2 /* master: append to maillog_file, never through postlogd */

/* pn_config_logging: tag syslog_name/process_name, and the destination; fatal on a bad
 * syslog_facility. Call after the configuration is loaded, before any chroot. */
void pn_config_logging(const char *process_name, int flags);
/* pn_config_maillog_check: 0 when maillog_file is empty or starts with one of
 * maillog_file_prefixes, else -1 with the reason in why. */
int pn_config_maillog_check(pn_buf *why);

#endif
