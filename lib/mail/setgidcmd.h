/* setgidcmd.h: how a setgid command (postdrop, postqueue) starts, trusting nothing about its
 * caller: a cleared environment and closed descriptors, a configuration directory other
 * than the default only from root or when the default main.cf lists it in
 * alternate_config_directories, and a user the authorized_*_users parameter allows. */
#ifndef PN_MAIL_SETGIDCMD_H
#define PN_MAIL_SETGIDCMD_H

/* pn_setgid_sanitize: keep TZ, LANG and MAIL_CONFIG only; close descriptors above 2;
 * umask 077. Call first. */
void pn_setgid_sanitize(void);
/* pn_setgid_config_directory: dies unless dir (NULL: the default) may be used. */
void pn_setgid_config_directory(const char *dir);
/* pn_setgid_enter_queue: chdir to queue_directory, before any table is opened: a library
 * must find nothing of the caller's in the working directory (Berkeley DB's DB_CONFIG). */
void pn_setgid_enter_queue(void);
/* pn_setgid_check_user: dies with "User NAME(UID) is not allowed to WHAT" unless the
 * table list in param (authorized_submit_users, ...) has the caller's login name; root and
 * mail_owner always may, unless admins_too. */
void pn_setgid_check_user(const char *param, const char *what, int admins_too);

#endif
