/* privs.c: the one place that changes identity. Every drop is verified: a process that
 * believes it gave up root and did not is worse than one that stops. */
#include "base/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

void pn_privs_lookup(const char *user, uid_t *uid, gid_t *gid)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL)
        pn_fatal("unknown user: %s", user);
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
}

void pn_privs_chroot(const char *dir)
{
    if (chroot(dir) < 0)
        pn_fatal("chroot(%s): %s", dir, strerror(errno));
    if (chdir("/") < 0)
        pn_fatal("chdir(/): %s", strerror(errno));
}

void pn_privs_drop(uid_t uid, gid_t gid)
{
    pn_privs_drop_groups(uid, gid, NULL, 0);
}

void pn_privs_drop_groups(uid_t uid, gid_t gid, const gid_t *groups, size_t count)
{
    if (geteuid() == 0 && setgroups(count, groups) < 0)
        pn_fatal("setgroups: %s", strerror(errno));
    if (setresgid(gid, gid, gid) < 0)
        pn_fatal("setresgid(%ld): %s", (long)gid, strerror(errno));
    if (setresuid(uid, uid, uid) < 0)
        pn_fatal("setresuid(%ld): %s", (long)uid, strerror(errno));
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        pn_panic("privileges could be regained after dropping to uid %ld", (long)uid);
}
