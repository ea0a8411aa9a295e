/* checks.c: configuration checks run by postfix check and start: master.cf must parse (an
 * error names file and line and stops the start), and warnings for settings that cannot do
 * what they seem to say. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/argv.h"
#include "base/inet.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cflog.h"
#include "config/cfmaster.h"
#include "config/cfparams.h"
#include "postfix.h"

int master_cf_check(void)
{
    pn_buf path = PN_BUF_INIT, err = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/master.cf", pn_config_directory());
    pn_master *m = pn_master_read(path.data, 1, &err);
    if (m == NULL)
        pn_fatal("%s", err.data);
    if (m->count == 0)
        pn_fatal("no %s file found, or it has no services", path.data);
    pn_buf why = PN_BUF_INIT;
    if (pn_config_maillog_check(&why) < 0)
        pn_fatal("%s", why.data);
    pn_buf_release(&why);
    int chrooted = 0;
    for (size_t i = 0; i < m->count; i++) {
        const pn_master_entry *e = m->entries[i];
        if (strcmp(e->field[PN_MF_TYPE], "pass") == 0)
            pn_fatal("%s, line %d: service type \"pass\" is not supported", path.data, e->line);
        chrooted |= pn_master_chroot(e, pn_config_get(PN_P(compatibility_level)));
    }
    pn_master_free(m);
    pn_buf_release(&path);
    pn_buf_release(&err);
    return chrooted;
}

/* mynetworks: an IPv4-mapped IPv6 network never matches, because IPv4 clients are matched as
 * IPv4 addresses (doc/decisions.md, D6). */
static void check_mynetworks(void)
{
    pn_argv *items = pn_argv_split(pn_config_get(PN_P(mynetworks)), PN_SEPARATORS);
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    for (size_t i = 0; i < items->len; i++) {
        const char *item = items->items[i];
        if (item[0] == '/' || strchr(item, ':') == NULL || item[0] == '!')
            continue;
        pn_cidr cidr;
        pn_buf why = PN_BUF_INIT;
        if (pn_cidr_parse(item, &cidr, &why) == 0 && cidr.net.family != AF_INET &&
            cidr.prefix >= 96 && memcmp(cidr.net.bytes, mapped, 12) == 0)
            pn_warn("mynetworks: %s can never match: IPv4 clients are matched as IPv4 "
                    "addresses; list the IPv4 network itself",
                    item);
        pn_buf_release(&why);
    }
    pn_argv_free(items);
}

void config_warnings(void)
{
    check_mynetworks();
    pn_config_warn_unused();
}
