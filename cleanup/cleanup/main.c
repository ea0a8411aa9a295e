/* main.c: cleanup, the only way into incoming/. A client (smtpd, pickup, bounce) opens a
 * message, streams its records, and gets a reply only after the queue file is complete and
 * fsynced (doc/protocols.md, doc/queue.md). A partial file never survives an error, an abort,
 * a lost client or SIGTERM. Untrusted input costs at most a protocol-error reply. */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/log.h"
#include "base/privs.h"
#include "base/mem.h"
#include "base/sock.h"
#include "base/stream.h"
#include "cleanup.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/flow.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/addr.h"
#include "mail/cleanupclnt.h"
#include "mail/qfile.h"
#include "mail/qpath.h"

static char current_path[256]; /* the file being written, for removal on SIGTERM */
static int qmgr_fd = -1;       /* kept connection to qmgr for "new mail" notices */
static int notice_lost;        /* a notice could not be sent: the next one asks for a scan */

/* notify_qmgr: {req=new, queue_id} on a kept connection (doc/protocols.md): qmgr activates
 * exactly this file. A notice that cannot be sent only delays the mail until qmgr scans
 * incoming/, which the next notice asks for. */
static void notify_qmgr(const char *queue_id)
{
    pn_attr_out notice;
    pn_attr_begin(&notice);
    pn_attr_put_cstr(&notice, PN_ATTR_REQ, PN_REQ_NEW);
    pn_attr_put_cstr(&notice, PN_ATTR_QUEUE_ID, queue_id);
    if (notice_lost)
        pn_attr_put_int(&notice, PN_ATTR_SCAN, 1);
    size_t len;
    const char *frame = pn_attr_frame(&notice, &len);
    int sent = 0;
    for (int attempt = 0; attempt < 2 && !sent; attempt++) {
        if (qmgr_fd < 0) {
            pn_buf why = PN_BUF_INIT;
            qmgr_fd = pn_sock_connect_unix(PN_SVC_QMGR, &why);
            pn_buf_release(&why);
            if (qmgr_fd < 0)
                break;
            pn_sock_send_timeout(qmgr_fd, 1000);
        }
        /* whole or nothing: a frame cut short would garble the connection */
        sent = pn_write_all(qmgr_fd, frame, len) == 0;
        if (!sent) {
            close(qmgr_fd);
            qmgr_fd = -1;
        }
    }
    notice_lost = !sent;
    pn_attr_release(&notice);
}

static void on_term(int signo)
{
    (void)signo;
    if (current_path[0])
        unlink(current_path);
    _exit(0);
}

static void discard_file(void)
{
    if (current_path[0])
        unlink(current_path);
    current_path[0] = 0;
}

static void write_file(cleanup_msg *msg)
{
    /* enable_original_recipient = no: the file keeps only the final address (no orig_to) */
    int keep_orig = pn_config_get_bool(PN_P(enable_original_recipient));
    pn_qwriter w;
    pn_qw_init(&w, &msg->arrival);
    long warn_after = pn_config_get_time(PN_P(delay_warning_time));
    if (warn_after > 0)
        w.warn_time = (int64_t)msg->arrival.tv_sec + warn_after;
    for (size_t i = 0; i < msg->attrs->len; i++) {
        char *copy = pn_strdup(msg->attrs->items[i]);
        char *eq = strchr(copy, '=');
        *eq = 0;
        pn_qw_attr(&w, copy, eq + 1);
        free(copy);
    }
    if (msg->filter.len)
        pn_qw_attr(&w, "content_filter", msg->filter.data);
    pn_qw_sender(&w, msg->sender.data);
    for (size_t i = 0; i < msg->rcpt_count; i++)
        pn_qw_rcpt(&w, msg->rcpts[i].addr, keep_orig ? msg->rcpts[i].orig : "", msg->rcpts[i].orcpt,
                   msg->rcpts[i].notify);
    pn_qw_content(&w);
    for (size_t i = 0; i < msg->headers->len; i++)
        pn_qw_header(&w, msg->headers->items[i], strlen(msg->headers->items[i]));
    pn_qw_body(&w, msg->body.data, msg->body.len);
    pn_qw_finish(&w);
    pn_buf why = PN_BUF_INIT;
    if (pn_qw_install(&w, msg->fd, &why) < 0) {
        pn_warn("%s: %s", msg->queue_id.data, why.data);
        msg->status |= CLEANUP_STAT_WRITE;
    }
    pn_buf_release(&why);
    pn_qw_release(&w);
}

/* to_hold: a complete file goes from incoming/ to hold/, where qmgr does not look (a HOLD
 * action); postsuper -H releases it. A failure leaves it in incoming/: delivered, not lost. */
static void to_hold(cleanup_msg *msg)
{
    pn_buf from = PN_BUF_INIT, to = PN_BUF_INIT;
    pn_queue_path("incoming", msg->queue_id.data, &from);
    pn_queue_path("hold", msg->queue_id.data, &to);
    if (pn_queue_make_parent(to.data) < 0 || rename(from.data, to.data) < 0) {
        pn_warn("%s: cannot move to the hold queue: %s", msg->queue_id.data, strerror(errno));
        msg->hold = 0;
    }
    pn_buf_release(&from);
    pn_buf_release(&to);
}

static void reply(pn_stream *client, int status, const char *reason, const char *queue_id)
{
    pn_attr_out out;
    pn_attr_begin(&out);
    pn_attr_put_int(&out, PN_ATTR_STATUS, status);
    if (reason && *reason)
        pn_attr_put_cstr(&out, PN_ATTR_REASON, reason);
    if (queue_id)
        pn_attr_put_cstr(&out, PN_ATTR_QUEUE_ID, queue_id);
    pn_attr_write_frame(client, &out);
    pn_attr_release(&out);
}

/* one_message: after {req=open}; 0 to go on with the next message, -1 to drop the client.
 * trusted: the client runs as root or mail_owner (its attributes are believed). */
static int one_message(pn_stream *client, int flags, int trusted)
{
    long flow_delay = pn_config_get_time(PN_P(in_flow_delay));
    if (flow_delay > 0) /* slower while qmgr falls behind: it keeps the tokens coming */
        pn_flow_take(flow_delay * 1000);
    cleanup_msg msg;
    cleanup_msg_init(&msg);
    msg.flags = trusted ? flags : PN_CLEANUP_FLAGS_RECEIVED; /* checks for mail from outside */
    msg.trusted = trusted;
    pn_buf why = PN_BUF_INIT, path = PN_BUF_INIT;
    msg.fd = pn_queue_create("incoming", pn_config_get_bool(PN_P(enable_long_queue_ids)),
                             &msg.queue_id, &msg.arrival, &why);
    if (msg.fd < 0) {
        pn_warn("%s", why.data);
        reply(client, CLEANUP_STAT_WRITE, "4.3.0 queue file write error", NULL);
        pn_buf_release(&why);
        cleanup_msg_release(&msg);
        return -1;
    }
    pn_queue_path("incoming", msg.queue_id.data, &path);
    snprintf(current_path, sizeof(current_path), "%s", path.data);
    reply(client, 0, NULL, msg.queue_id.data);
    int aborted = 0, rc;
    while ((rc = cleanup_take_record(client, &msg, &aborted)) > 0)
        ;
    int result = 0;
    if (rc < 0) {
        discard_file(); /* lost client: no reply */
        result = -1;
    } else if (aborted) {
        discard_file();
        reply(client, 0, NULL, NULL);
    } else {
        if (msg.status == 0 && (msg.flags & PN_CLEANUP_FLAG_FILTER) && checks_enabled())
            checks_apply(&msg);
        if (msg.status == 0 && !msg.discard)
            envelope_actions(&msg);
        if (msg.status == 0 && !msg.discard)
            envelope_finish(&msg);
        if (msg.status == 0 && !msg.discard)
            headers_finish(&msg);
        if (msg.status == 0 && !msg.discard)
            write_file(&msg);
        if (msg.status != 0 || msg.discard) {
            discard_file();
        } else {
            current_path[0] = 0;
            if (msg.hold)
                to_hold(&msg);
            if (!msg.hold)
                notify_qmgr(msg.queue_id.data);
        }
        reply(client, msg.status, msg.reason.data, NULL);
    }
    pn_buf_release(&why);
    pn_buf_release(&path);
    cleanup_msg_release(&msg);
    return result;
}

static uid_t mail_owner_uid;

/* trusted_peer: the kernel's word on the client (SO_PEERCRED), not the client's own. */
static int trusted_peer(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
        return 0;
    return cred.uid == 0 || cred.uid == mail_owner_uid;
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    int trusted = trusted_peer(fd);
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, (int)(pn_config_get_time(PN_P(ipc_timeout)) * 1000));
    pn_buf frame = PN_BUF_INIT, why = PN_BUF_INIT, kind = PN_BUF_INIT;
    if (pn_ipc_send_hello(client, PN_PROTO_CLEANUP, 0) == 0) {
        while ((pn_stream_buffered(client) > 0 || pn_server_wait(fd, -1) > 0) &&
               pn_attr_read_frame(client, &frame) > 0) {
            pn_attrs req;
            int64_t flags = 0;
            pn_buf_reset(&why);
            if (pn_attr_parse(frame.data, frame.len, &req, &why) < 0 ||
                pn_attr_copy_str(&req, PN_ATTR_REQ, &kind) != 1 ||
                strcmp(kind.data, PN_REQ_OPEN) != 0) {
                pn_warn("protocol error from client: %s", why.len ? why.data : "expected open");
                break;
            }
            pn_attr_get_int(&req, PN_ATTR_FLAGS, &flags);
            if (one_message(client, (int)flags, trusted) < 0 || pn_server_request_done())
                break;
        }
    }
    pn_buf_release(&frame);
    pn_buf_release(&why);
    pn_buf_release(&kind);
    pn_stream_release(client);
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    gid_t gid;
    pn_privs_lookup(pn_config_get(PN_P(mail_owner)), &mail_owner_uid, &gid);
    envelope_init();
    checks_init();
    characters_init();
}

static void post_jail(void *ctx)
{
    (void)ctx;
    signal(SIGTERM, on_term);
}

static int must_retire(void *ctx)
{
    (void)ctx;
    return envelope_tables_changed() || checks_changed();
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .per_request = 1,
                               .pre_jail = pre_jail,
                               .post_jail = post_jail,
                               .must_retire = must_retire,
                               .max_use = -1,
                               .max_idle = -1,
                               .process_limit = 0};
    return pn_single_server_main(argc, argv, &server);
}
