/* main.c: flush, the fast-flush service (public/flush) behind ETRN, sendmail -qR, postqueue
 * -s and postqueue -i. {req=send_site, site} moves the deferred messages with a pending
 * recipient in that domain back to incoming/ and wakes qmgr, for a site that
 * fast_flush_domains lists; {req=send_file, queue_id} does the same for one message.
 * Instead of keeping a log of queue IDs per site, send_site reads the deferred queue's
 * envelopes (so add, refresh and purge have nothing to do and succeed). Replies: the
 * PN_FLUSH_* status codes of mail/flushclnt.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "ipc/trigger.h"
#include "mail/domlist.h"
#include "mail/flushclnt.h"
#include "mail/qfile.h"
#include "mail/qpath.h"

/* release: deferred/ID back to incoming/, due now; 1 when moved. */
static int release(const char *id)
{
    pn_buf from = PN_BUF_INIT, to = PN_BUF_INIT;
    pn_queue_path("deferred", id, &from);
    pn_queue_path("incoming", id, &to);
    int moved = utimes(from.data, NULL) == 0 && rename(from.data, to.data) == 0;
    if (moved && pn_verbose)
        pn_info("%s: released for delivery", id);
    pn_buf_release(&from);
    pn_buf_release(&to);
    return moved;
}

/* for_site: does the file at path have a pending recipient in site? */
static int for_site(const char *path, const char *site)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    pn_buf why = PN_BUF_INIT;
    int found = 0;
    if (pn_qfile_open(&q, fd, &why) == 0) {
        size_t pos = 0;
        pn_qrcpt r;
        pn_qrcpt_init(&r);
        while (!found && pn_qfile_next_rcpt(&q, &pos, 1, &r)) {
            const char *at_sign = strrchr(pn_buf_str(&r.addr), '@');
            found = at_sign && strcasecmp(at_sign + 1, site) == 0;
        }
        pn_qrcpt_release(&r);
    }
    pn_qfile_release(&q);
    pn_buf_release(&why);
    close(fd);
    return found;
}

/* release_for_site: a deferred message with a recipient in site (ctx) goes back; 1 when it
 * did. */
static int release_for_site(const char *path, const char *id, void *ctx)
{
    return for_site(path, ctx) && release(id);
}

static int send_site(const char *site)
{
    pn_buf err = PN_BUF_INIT;
    pn_domlist *eligible =
        pn_domlist_open(PN_P(fast_flush_domains), pn_config_get(PN_P(fast_flush_domains)), &err);
    if (eligible == NULL) {
        pn_warn("%s", err.data);
        pn_buf_release(&err);
        return PN_FLUSH_BAD;
    }
    int rc = pn_domlist_match(eligible, site) == 1 ? PN_FLUSH_OK : PN_FLUSH_DENY;
    pn_domlist_free(eligible);
    pn_buf_release(&err);
    if (rc == PN_FLUSH_OK && pn_queue_walk("deferred", release_for_site, (void *)site) > 0)
        pn_trigger_send(PN_SVC_QMGR, "FI", 2);
    return rc;
}

static int send_file(const char *id)
{
    if (!pn_qid_valid(id))
        return PN_FLUSH_BAD;
    if (!release(id))
        return PN_FLUSH_UNKNOWN;
    pn_trigger_send(PN_SVC_QMGR, "FI", 2);
    return PN_FLUSH_OK;
}

/* handle: one request; smtpd keeps its connection for the next. */
static int handle(const pn_attrs *req, pn_attr_out *reply, void *ctx)
{
    (void)ctx;
    pn_buf kind = PN_BUF_INIT, arg = PN_BUF_INIT;
    int status = PN_FLUSH_BAD;
    if (pn_attr_copy_str(req, PN_ATTR_REQ, &kind) == 1) {
        if (strcmp(kind.data, PN_REQ_SEND_SITE) == 0 &&
            pn_attr_copy_str(req, PN_ATTR_SITE, &arg) == 1)
            status = send_site(arg.data);
        else if (strcmp(kind.data, PN_REQ_SEND_FILE) == 0 &&
                 pn_attr_copy_str(req, PN_ATTR_QUEUE_ID, &arg) == 1)
            status = send_file(arg.data);
        else if (strcmp(kind.data, PN_REQ_ADD) == 0 || strcmp(kind.data, PN_REQ_REFRESH) == 0 ||
                 strcmp(kind.data, PN_REQ_PURGE) == 0)
            status = PN_FLUSH_OK;
    }
    if (status == PN_FLUSH_BAD)
        pn_warn("malformed flush request");
    pn_attr_put_int(reply, PN_ATTR_STATUS, status);
    pn_buf_release(&kind);
    pn_buf_release(&arg);
    return 0;
}

static void serve(int fd, void *ctx)
{
    pn_server_serve_requests(fd, PN_PROTO_FLUSH, handle, ctx);
}

int main(int argc, char **argv)
{
    static pn_server server = {
        .serve = serve, .per_request = 1, .max_use = -1, .max_idle = -1, .process_limit = 0};
    return pn_single_server_main(argc, argv, &server);
}
