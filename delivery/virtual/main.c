/* main.c: virtual, the delivery agent for virtual mailbox domains (private/virtual). Started
 * as root (master.cf's unpriv "n"): it opens its tables, starts its worker spawner, and
 * becomes mail_owner. For each recipient it looks up the mailbox (virtual_mailbox_maps) and
 * its owner (virtual_uid_maps, virtual_gid_maps, at least virtual_minimum_uid) and has the
 * kept worker of that identity write it (worker.c); then it logs the outcome and marks the
 * recipient done in the queue file. */
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "ipc/server.h"
#include "mail/agent.h"
#include "mail/delivreq.h"
#include "mail/maps.h"
#include "mail/qfile.h"
#include "mail/mailbox.h"
#include "mail/worker.h"

static pn_maps *mailbox_maps, *uid_maps, *gid_maps;
static pn_worker_pool *workers;

/* The groups no mailbox is written with: root's, mail_owner's (the queue) and
 * setgid_group's (maildrop/, public/); found before the jail. */
static long system_gids[3] = {0, -1, -1};

static int system_gid(long gid)
{
    for (size_t i = 0; i < sizeof(system_gids) / sizeof(system_gids[0]); i++)
        if (gid == system_gids[i])
            return 1;
    return 0;
}

/* policy: the spawner starts workers only for uids at or above virtual_minimum_uid, with no
 * group of the mail system's and no extra group. */
static int policy(uid_t uid, gid_t gid, long extra_gid)
{
    return (long)uid >= pn_config_get_int(PN_P(virtual_minimum_uid)) && !system_gid((long)gid) &&
                   extra_gid == -1
               ? 0
               : -1;
}

static pn_maps *open_maps(const char *name)
{
    pn_buf err = PN_BUF_INIT;
    pn_maps *maps = pn_maps_open(name, pn_config_get(name), PN_DICT_DEFAULT_FLAGS, &err);
    if (maps == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    return maps;
}

/* lookup_id: a numeric uid or gid for the recipient; -1 not found or bad, -2 table error. */
static long lookup_id(pn_maps *maps, const char *addr)
{
    pn_buf value = PN_BUF_INIT;
    long id = -1;
    int rc = pn_maps_find_addr(maps, addr, pn_config_get(PN_P(recipient_delimiter)), 0, &value);
    if (rc < 0)
        id = -2;
    else if (rc > 0 && (pn_parse_long(pn_trim(value.data), &id) < 0 || id < 0 ||
                        id >= (long)UINT32_MAX))
        id = -1; /* and never a number that would wrap into another id */
    pn_buf_release(&value);
    return id;
}

/* deliver_one: the outcome for one recipient, with dsn and text. */
static int deliver_one(const pn_delivreq *req, const pn_delivreq_rcpt *r, const pn_qfile *q,
                       const char **dsn, pn_buf *text)
{
    pn_buf mailbox = PN_BUF_INIT, path = PN_BUF_INIT;
    int outcome = PN_DELIVER_DEFERRED;
    *dsn = "4.3.0";
    int rc = pn_maps_find_addr(mailbox_maps, r->addr.data, pn_config_get(PN_P(recipient_delimiter)),
                               0, &mailbox);
    if (rc < 0) {
        pn_buf_set(text, "virtual_mailbox_maps lookup failure");
        goto out;
    }
    if (rc == 0 && pn_maps_changed(mailbox_maps)) {
        /* postmap replaced the table since this process opened it: never bounce on its
         * old contents; a fresh agent looks again */
        pn_buf_set(text, "virtual_mailbox_maps has changed: try again");
        goto out;
    }
    if (rc == 0) {
        *dsn = "5.1.1";
        pn_buf_printf(text, "unknown user: \"%s\"", r->addr.data);
        outcome = PN_DELIVER_BOUNCED;
        goto out;
    }
    long uid = lookup_id(uid_maps, r->addr.data), gid = lookup_id(gid_maps, r->addr.data);
    long minimum = pn_config_get_int(PN_P(virtual_minimum_uid));
    if (uid < 0 || gid < 0 || uid < minimum || system_gid(gid)) {
        *dsn = "4.3.5";
        pn_buf_printf(text, "mail system configuration error: %s for \"%s\"",
                      uid < 0 || uid < minimum ? "bad or missing uid in virtual_uid_maps"
                      : gid < 0                ? "bad or missing gid in virtual_gid_maps"
                                               : "a group of the mail system in virtual_gid_maps",
                      r->addr.data);
        goto out;
    }
    pn_buf_printf(&path, "%s/%s", pn_config_get(PN_P(virtual_mailbox_base)), pn_trim(mailbox.data));
    if (req->flags & PN_DELIVREQ_VERIFY) { /* sendmail -bv: this far, and no further */
        *dsn = "2.0.0";
        pn_buf_printf(text, "delivers to %s",
                      path.data[path.len - 1] == '/' ? "maildir" : "mailbox");
        outcome = PN_DELIVER_SENT;
        goto out;
    }
    static pn_buf dsn_text = PN_BUF_INIT;
    pn_buf_reset(&dsn_text);
    pn_mailbox_job job = {path.data,
                          req->sender.data,
                          r->addr.data,
                          r->orig.data, /* empty with enable_original_recipient = no */
                          pn_config_get_int(PN_P(virtual_mailbox_limit)),
                          0,
                          pn_config_get(PN_P(virtual_mailbox_lock)),
                          0};
    rc = pn_worker_deliver(workers, (uid_t)uid, (gid_t)gid, -1, q->fd, &job, text, &dsn_text);
    *dsn = pn_buf_str(&dsn_text);
    outcome = rc == MAILBOX_SENT     ? PN_DELIVER_SENT
              : rc == MAILBOX_BOUNCE ? PN_DELIVER_BOUNCED
                                     : PN_DELIVER_DEFERRED;
out:
    pn_buf_release(&mailbox);
    pn_buf_release(&path);
    return outcome;
}

static int deliver(const pn_delivreq *req, const pn_delivreq_rcpt *r, const pn_qfile *q,
                   const char **dsn, pn_buf *text, void *ctx)
{
    (void)ctx;
    return deliver_one(req, r, q, dsn, text);
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    static const pn_agent agent = {
        .relay = "virtual", .needs_content = 1, .verifies = 1, .deliver = deliver};
    pn_agent_serve(fd, &agent);
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    mailbox_maps = open_maps(PN_P(virtual_mailbox_maps));
    struct passwd *owner = getpwnam(pn_config_get(PN_P(mail_owner)));
    struct group *setgid = getgrnam(pn_config_get(PN_P(setgid_group)));
    system_gids[1] = owner ? (long)owner->pw_gid : -1;
    system_gids[2] = setgid ? (long)setgid->gr_gid : -1;
    uid_maps = open_maps(PN_P(virtual_uid_maps));
    gid_maps = open_maps(PN_P(virtual_gid_maps));
    workers = pn_worker_pool_start(policy);
    pn_agent_drop_privileges();
}

static int must_retire(void *ctx)
{
    (void)ctx;
    return pn_maps_changed(mailbox_maps) || pn_maps_changed(uid_maps) ||
           pn_maps_changed(gid_maps) || pn_worker_pool_broken(workers);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .per_request = 1,
                               .pre_jail = pre_jail,
                               .must_retire = must_retire,
                               .max_use = -1,
                               .max_idle = -1,
                               .process_limit = -1,
                               .needs_root = 1};
    return pn_single_server_main(argc, argv, &server);
}
