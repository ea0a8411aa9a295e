/* privs.c: the one place that changes identity. Every drop is verified: a process that
 * believes it gave up root and did not is worse than one that stops. */
#include "base/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
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

static int group_listed(gid_t gid, const gid_t *groups, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (groups[i] == gid)
            return 1;
    return 0;
}

void pn_privs_drop_groups(uid_t uid, gid_t gid, const gid_t *groups, size_t count)
{
    /* -1 means "leave as it is" to setres[ug]id: never an identity to become */
    if (uid == (uid_t)-1 || gid == (gid_t)-1)
        pn_fatal("refusing to run as uid %ld gid %ld", (long)uid, (long)gid);
    for (size_t i = 0; i < count; i++)
        if (groups[i] == (gid_t)-1)
            pn_fatal("refusing to run with group %ld", (long)groups[i]);
    int root = geteuid() == 0;
    if (root && setgroups(count, groups) < 0)
        pn_fatal("setgroups: %s", strerror(errno));
    if (setresgid(gid, gid, gid) < 0)
        pn_fatal("setresgid(%ld): %s", (long)gid, strerror(errno));
    if (setresuid(uid, uid, uid) < 0)
        pn_fatal("setresuid(%ld): %s", (long)uid, strerror(errno));
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        pn_panic("privileges could be regained after dropping to uid %ld", (long)uid);
    /* what the kernel says now, not what was asked */
    uid_t ru, eu, su;
    gid_t rg, eg, sg, now[64];
    int n = getgroups(64, now);
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid || eu != uid ||
        su != uid || rg != gid || eg != gid || sg != gid || n < 0 ||
        (root && (size_t)n != count))
        pn_panic("not running as uid %ld gid %ld after dropping privileges", (long)uid,
                 (long)gid);
    for (int i = 0; root && i < n; i++)
        if (!group_listed(now[i], groups, count))
            pn_panic("group %ld left after dropping privileges", (long)now[i]);
}

void pn_privs_no_new_privs(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        pn_fatal("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}
