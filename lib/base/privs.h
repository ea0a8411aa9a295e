/* privs.h: giving up privileges for good: chroot, then supplementary groups, gid and uid,
 * with no way back; then the right to gain any (no_new_privs) or to run a program at all. */
#ifndef PN_BASE_PRIVS_H
#define PN_BASE_PRIVS_H
#include <sys/types.h>

/* pn_privs_lookup: uid and gid of a user name; fatal when unknown. */
void pn_privs_lookup(const char *user, uid_t *uid, gid_t *gid);
/* pn_privs_chroot: chroot(dir) and chdir("/"); fatal on failure. */
void pn_privs_chroot(const char *dir);
/* pn_privs_drop: setgroups(none), setresgid, setresuid; fatal on failure, and fatal when
 * root could be regained. */
void pn_privs_drop(uid_t uid, gid_t gid);
/* pn_privs_drop_groups: the same, keeping exactly these supplementary groups. */
void pn_privs_drop_groups(uid_t uid, gid_t gid, const gid_t *groups, size_t count);
/* pn_privs_no_new_privs: no program this process (or a child forked from now on) runs can
 * gain privileges through set-user-ID or set-group-ID bits or file capabilities. */
void pn_privs_no_new_privs(void);
/* pn_privs_forbid_exec: from now on this process (and what it forks) cannot run a program,
 * trace or read another process, load BPF programs or a kernel: a seccomp filter makes those
 * calls fail with EPERM. Needs pn_privs_no_new_privs (or root) first. */
void pn_privs_forbid_exec(void);

#endif
