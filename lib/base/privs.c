/* privs.c: the one place that changes identity and gives up rights: chroot, uid and groups
 * (every drop verified: a process that believes it gave up root and did not is worse than one
 * that stops), no_new_privs and the seccomp filter of the jailed daemons. */
#include "base/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

/* The architecture whose system call numbers the filter below is written with; elsewhere
 * there is no filter (and a warning). */
#if defined(__x86_64__)
#define PN_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PN_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

void pn_privs_forbid_exec(void)
{
#ifdef PN_AUDIT_ARCH
    /* refused with EPERM: running a program, and the calls that reach into other processes
     * or the kernel's configuration; a call of another architecture's numbering (or of the
     * x32 ABI) is refused whole */
    static const int denied[] = {
        __NR_execve, __NR_execveat, __NR_process_vm_readv, __NR_process_vm_writev, __NR_bpf,
        __NR_kexec_load,
#ifndef __SANITIZE_ADDRESS__ /* LeakSanitizer stops the world with ptrace at exit */
        __NR_ptrace,
#endif
    };
    enum { DENIED = sizeof(denied) / sizeof(denied[0]) };
    struct sock_filter filter[7 + DENIED];
    size_t n = 0;
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                               offsetof(struct seccomp_data, arch));
    filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PN_AUDIT_ARCH, 1, 0);
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                               offsetof(struct seccomp_data, nr));
    /* each test jumps, when it matches, to the refusal at the end */
    filter[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000,
                                             (unsigned char)(DENIED + 1), 0);
    n++;
    for (size_t i = 0; i < DENIED; i++, n++)
        filter[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[i],
                                                 (unsigned char)(DENIED - i), 0);
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = filter};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        pn_fatal("prctl(PR_SET_SECCOMP): %s", strerror(errno));
#else
    pn_warn("no system call filter for this architecture");
#endif
}
