/* queue_dirs.c: the queue directory tree with the reference's owners and modes (as the
 * reference's): created when missing by check and start, corrected by set-permissions, reported
 * otherwise. Without root everything belongs to the invoking user. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/privs.h"
#include "config/cfparams.h"
#include "postfix.h"

enum owner { OWNER_ROOT, OWNER_MAIL, OWNER_MAIL_POSTDROP };

struct dir_rule {
    const char *name;
    enum owner owner;
    mode_t mode;
};

static const struct dir_rule rules[] = {
    {"active", OWNER_MAIL, 0700},
    {"bounce", OWNER_MAIL, 0700},
    {"corrupt", OWNER_MAIL, 0700},
    {"defer", OWNER_MAIL, 0700},
    {"deferred", OWNER_MAIL, 0700},
    {"flush", OWNER_MAIL, 0700},
    {"hold", OWNER_MAIL, 0700},
    {"incoming", OWNER_MAIL, 0700},
    {"maildrop", OWNER_MAIL_POSTDROP, 0730},
    {"pid", OWNER_ROOT, 0755},
    {"private", OWNER_MAIL, 0700},
    {"public", OWNER_MAIL_POSTDROP, 0710},
    {"saved", OWNER_MAIL, 0700},
    {"trace", OWNER_MAIL, 0700},
    {NULL, OWNER_ROOT, 0},
};

static void ids(enum owner owner, uid_t *uid, gid_t *gid)
{
    if (!pn_postfix_privileged) {
        *uid = geteuid();
        *gid = getegid();
        return;
    }
    *uid = 0;
    *gid = 0;
    if (owner == OWNER_ROOT)
        return;
    pn_privs_lookup(pn_config_get(PN_P(mail_owner)), uid, gid);
    if (owner == OWNER_MAIL_POSTDROP) {
        struct group *gr = getgrnam(pn_config_get(PN_P(setgid_group)));
        if (gr == NULL)
            pn_fatal("unknown setgid_group: %s", pn_config_get(PN_P(setgid_group)));
        *gid = gr->gr_gid;
    }
}

static void check_dir(const char *path, enum owner owner, mode_t mode, int fix)
{
    uid_t uid;
    gid_t gid;
    struct stat st;
    ids(owner, &uid, &gid);
    if (lstat(path, &st) < 0) {
        if (errno != ENOENT)
            pn_fatal("lstat %s: %s", path, strerror(errno));
        if (mkdir(path, mode) < 0)
            pn_fatal("mkdir %s: %s", path, strerror(errno));
        fix = 1;
    } else if (!S_ISDIR(st.st_mode)) {
        pn_fatal("%s is not a directory", path);
    } else if (!fix && (st.st_uid != uid || (owner == OWNER_MAIL_POSTDROP && st.st_gid != gid) ||
                        (st.st_mode & 07777) != mode)) {
        pn_warn("%s: owner %ld group %ld mode %04o, expected owner %ld%s mode %04o (run "
                "\"postfix set-permissions\")",
                path, (long)st.st_uid, (long)st.st_gid, (unsigned)(st.st_mode & 07777), (long)uid,
                owner == OWNER_MAIL_POSTDROP ? " group postdrop" : "", (unsigned)mode);
        return;
    }
    if (fix) {
        if (pn_postfix_privileged && chown(path, uid, gid) < 0)
            pn_fatal("chown %s: %s", path, strerror(errno));
        if (chmod(path, mode) < 0)
            pn_fatal("chmod %s: %s", path, strerror(errno));
    }
}

void queue_dirs_check(int fix)
{
    const char *queue = pn_config_get(PN_P(queue_directory));
    check_dir(queue, OWNER_ROOT, 0755, fix);
    pn_buf path = PN_BUF_INIT;
    for (const struct dir_rule *r = rules; r->name; r++) {
        pn_buf_reset(&path);
        pn_buf_printf(&path, "%s/%s", queue, r->name);
        check_dir(path.data, r->owner, r->mode, fix);
    }
    check_dir(pn_config_get(PN_P(data_directory)), OWNER_MAIL, 0700, fix);
    pn_buf_release(&path);
}
