/* chroot_sync.c: what Debian's start script copies into the queue directory when a daemon is
 * chrooted there: name service and time zone files, so that resolvers and timestamps work
 * inside the jail. Copies are replaced atomically; a missing source is skipped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "config/cfparams.h"
#include "postfix.h"

static const char *const files[] = {
    "etc/localtime", "etc/services",      "etc/resolv.conf",     "etc/hosts",
    "etc/host.conf", "etc/nsswitch.conf", "etc/nss_mdns.config", NULL,
};

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return;
    pn_buf tmp = PN_BUF_INIT;
    pn_buf_printf(&tmp, "%s.tmp", to);
    int out = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0)
        pn_fatal("open %s: %s", tmp.data, strerror(errno));
    char data[65536];
    ssize_t n;
    while ((n = read(in, data, sizeof(data))) > 0)
        if (write(out, data, (size_t)n) != n)
            pn_fatal("write %s: %s", tmp.data, strerror(errno));
    fchmod(out, 0644);
    close(in);
    if (close(out) < 0 || rename(tmp.data, to) < 0)
        pn_fatal("install %s: %s", to, strerror(errno));
    pn_buf_release(&tmp);
}

void chroot_sync(void)
{
    const char *queue = pn_config_get(PN_P(queue_directory));
    pn_buf dir = PN_BUF_INIT, from = PN_BUF_INIT, to = PN_BUF_INIT;
    pn_buf_printf(&dir, "%s/etc", queue);
    if (mkdir(dir.data, 0755) < 0 && errno != EEXIST)
        pn_fatal("mkdir %s: %s", dir.data, strerror(errno));
    for (int i = 0; files[i]; i++) {
        pn_buf_reset(&from);
        pn_buf_reset(&to);
        pn_buf_printf(&from, "/%s", files[i]);
        pn_buf_printf(&to, "%s/%s", queue, files[i]);
        copy_file(from.data, to.data);
    }
    pn_buf_release(&dir);
    pn_buf_release(&from);
    pn_buf_release(&to);
}
