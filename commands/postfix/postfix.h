/* postfix.h: what the parts of the postfix command share. */
#ifndef PN_POSTFIX_H
#define PN_POSTFIX_H
#include <sys/types.h>

/* queue_dirs.c: create what is missing; with fix, also reset owners and modes; otherwise warn
 * about what is wrong. */
void queue_dirs_check(int fix);
/* checks.c: configuration checks that only warn (mynetworks entries that never match). */
void config_warnings(void);
/* refusals.c: errors for bad values (how many), and warnings or errors for settings Postern
 * does not implement (how many services will not start because of them). */
int config_values_check(void);
int config_refusals(void);
/* checks.c: 1 when some master.cf entry is chrooted; fatal with file and line on errors. */
int master_cf_check(void);
/* chroot_sync.c: copy the files a chrooted daemon needs into $queue_directory/etc. */
void chroot_sync(void);
/* logrotate.c: postfix logrotate. */
void logrotate(void);
/* main.c */
pid_t running_master(void);
extern int pn_postfix_privileged;

#endif
