/* main.c: virtual, the delivery agent for virtual mailbox domains (private/virtual). For
 * each recipient it looks up the mailbox (virtual_mailbox_maps), the owner
 * (virtual_uid_maps, virtual_gid_maps, at least virtual_minimum_uid) and lets a child with
 * that identity write it (mailbox.c). It then logs the outcome and marks the recipient done in
 * the queue file. Runs as root without chroot, as master.cf's unpriv column "n" says. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/lock.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/server.h"
#include "mail/delivreq.h"
#include "mail/maps.h"
#include "mail/qfile.h"
#include "mail/qpath.h"
#include "virtual.h"

static pn_maps *mailbox_maps, *uid_maps, *gid_maps;

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
    int rc = pn_maps_find_addr(maps, addr, pn_config_get("recipient_delimiter"), 0, &value);
    if (rc < 0)
        id = -2;
    else if (rc > 0 && pn_parse_long(pn_trim(value.data), &id) < 0)
        id = -1;
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
    int rc = pn_maps_find_addr(mailbox_maps, r->addr.data, pn_config_get("recipient_delimiter"),
                               0, &mailbox);
    if (rc < 0) {
        pn_buf_set(text, "virtual_mailbox_maps lookup failure");
        goto out;
    }
    if (rc == 0) {
        *dsn = "5.1.1";
        pn_buf_printf(text, "unknown user: \"%s\"", r->addr.data);
        outcome = PN_DELIVER_BOUNCED;
        goto out;
    }
    long uid = lookup_id(uid_maps, r->addr.data), gid = lookup_id(gid_maps, r->addr.data);
    long minimum = pn_config_get_int("virtual_minimum_uid");
    if (uid < 0 || gid < 0 || uid < minimum) {
        *dsn = "4.3.5";
        pn_buf_printf(text, "mail system configuration error: %s for \"%s\"",
                      uid < 0 || uid < minimum ? "bad or missing uid in virtual_uid_maps"
                                               : "bad or missing gid in virtual_gid_maps",
                      r->addr.data);
        goto out;
    }
    pn_buf_printf(&path, "%s/%s", pn_config_get("virtual_mailbox_base"), pn_trim(mailbox.data));
    switch (mailbox_deliver(q, path.data, (uid_t)uid, (gid_t)gid, req->sender.data,
                            r->addr.data, text)) {
    case MAILBOX_SENT:
        *dsn = "2.0.0";
        outcome = PN_DELIVER_SENT;
        break;
    case MAILBOX_BOUNCE:
        *dsn = "5.4.6";
        outcome = PN_DELIVER_BOUNCED;
        break;
    default:
        *dsn = "4.2.0";
    }
out:
    pn_buf_release(&mailbox);
    pn_buf_release(&path);
    return outcome;
}

/* deliver: 0 when every recipient finished, 1 when one was deferred. */
static int deliver(const pn_delivreq *req)
{
    pn_buf path = PN_BUF_INIT, why = PN_BUF_INIT, text = PN_BUF_INIT;
    if (!pn_qid_valid(req->queue_id.data) || strcmp(req->queue.data, "active") != 0) {
        pn_warn("bad queue file name in request: %s/%s", req->queue.data, req->queue_id.data);
        return 1;
    }
    pn_queue_path(req->queue.data, req->queue_id.data, &path);
    int fd = open(path.data, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    int deferred = 0, finished_all = 1;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        pn_warn("%s: cannot open queue file: %s", req->queue_id.data, strerror(errno));
        deferred = 1;
        goto out;
    }
    pn_lock_fd(fd, PN_LOCK_SHARED);
    if (pn_qfile_open(&q, fd, &why) < 0) {
        pn_warn("%s: %s", req->queue_id.data, why.data);
        fchmod(fd, 0400); /* qmgr moves it to corrupt/ */
        deferred = 1;
        goto out;
    }
    for (size_t i = 0; i < req->rcpt_count; i++) {
        const pn_delivreq_rcpt *r = &req->rcpts[i];
        const char *dsn;
        pn_buf_reset(&text);
        int outcome = deliver_one(req, r, &q, &dsn, &text);
        pn_delivreq_log(req, r, "virtual", outcome, dsn, text.data);
        if (outcome == PN_DELIVER_DEFERRED) {
            deferred = 1;
            finished_all = 0;
        } else if (pn_qfile_mark(fd, (size_t)r->offset, PN_RCPT_DONE, &why) < 0) {
            pn_warn("%s: %s", req->queue_id.data, why.data);
            deferred = 1;
            finished_all = 0;
        }
    }
    if (!(req->last && finished_all))
        fdatasync(fd);
out:
    pn_qfile_release(&q);
    if (fd >= 0)
        close(fd);
    pn_buf_release(&path);
    pn_buf_release(&why);
    pn_buf_release(&text);
    return deferred;
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, (int)(pn_config_get_time("ipc_timeout") * 1000));
    pn_buf frame = PN_BUF_INIT, why = PN_BUF_INIT;
    if (pn_ipc_send_hello(client, "deliver", 0) == 0) {
        while (pn_attr_read_frame(client, &frame) > 0) {
            pn_attrs attrs;
            pn_delivreq req;
            pn_buf_reset(&why);
            if (pn_attr_parse(frame.data, frame.len, &attrs, &why) < 0) {
                pn_warn("malformed delivery request: %s", why.data);
                break;
            }
            if (pn_delivreq_parse(&attrs, &req) < 0) {
                pn_warn("malformed delivery request: missing attributes");
                pn_delivreq_release(&req);
                break;
            }
            int status = deliver(&req);
            pn_delivreq_release(&req);
            pn_attr_out reply;
            pn_attr_begin(&reply);
            pn_attr_put_int(&reply, "status", status);
            int rc = pn_attr_write_frame(client, &reply);
            pn_attr_release(&reply);
            if (rc < 0)
                break;
        }
    }
    pn_buf_release(&frame);
    pn_buf_release(&why);
    pn_stream_release(client);
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    mailbox_maps = open_maps("virtual_mailbox_maps");
    uid_maps = open_maps("virtual_uid_maps");
    gid_maps = open_maps("virtual_gid_maps");
}

static int must_retire(void *ctx)
{
    (void)ctx;
    return pn_maps_changed(mailbox_maps) || pn_maps_changed(uid_maps) ||
           pn_maps_changed(gid_maps);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve, .pre_jail = pre_jail, .must_retire = must_retire,
                               .max_use = -1, .max_idle = -1, .process_limit = -1,
                               .needs_root = 1};
    return pn_single_server_main(argc, argv, &server);
}
