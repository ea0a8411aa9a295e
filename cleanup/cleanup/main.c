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

static const char *const trusted_attrs[] = {
    "rewrite_context",
    "client_name",
    "client_addr",
    "client_port",
    "client_helo",
    "client_proto",
    "sasl_method",
    "sasl_username",
    "sasl_sender",
    "log_ident",
    "encoding",
    "envid",
    "ret",
    "smtputf8",
    "trace_flags",
    "full_name",
    "reverse_client_name",
    NULL,
};

const char *cleanup_attr(const cleanup_msg *msg, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < msg->attrs->len; i++)
        if (strncmp(msg->attrs->items[i], name, n) == 0 && msg->attrs->items[i][n] == '=')
            return msg->attrs->items[i] + n + 1;
    return NULL;
}

static void msg_init(cleanup_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    pn_buf_init(&msg->queue_id);
    pn_buf_init(&msg->reason);
    pn_buf_init(&msg->sender);
    pn_buf_init(&msg->body);
    msg->attrs = pn_argv_new();
    msg->headers = pn_argv_new();
    msg->bcc = pn_argv_new();
    pn_buf_init(&msg->redirect);
    pn_buf_init(&msg->filter);
    msg->fd = -1;
}

static void msg_release(cleanup_msg *msg)
{
    for (size_t i = 0; i < msg->rcpt_count; i++) {
        free(msg->rcpts[i].addr);
        free(msg->rcpts[i].orig);
        free(msg->rcpts[i].orcpt);
    }
    free(msg->rcpts);
    pn_argv_free(msg->attrs);
    pn_argv_free(msg->headers);
    pn_argv_free(msg->bcc);
    pn_buf_release(&msg->redirect);
    pn_buf_release(&msg->filter);
    pn_buf_release(&msg->queue_id);
    pn_buf_release(&msg->reason);
    pn_buf_release(&msg->sender);
    pn_buf_release(&msg->body);
    if (msg->fd >= 0)
        close(msg->fd);
}

static void discard_file(void)
{
    if (current_path[0])
        unlink(current_path);
    current_path[0] = 0;
}

static void replace_stray_cr(char *data, size_t len)
{
    if (!pn_config_get_bool(PN_P(cleanup_replace_stray_cr_lf)))
        return;
    for (char *cp = memchr(data, '\r', len); cp; cp = memchr(cp, '\r', len - (size_t)(cp - data)))
        *cp = ' ';
}

/* take_record: one record of the submission stream; 1 more, 0 end ('.'), -1 lost client. */
static int take_record(pn_stream *client, cleanup_msg *msg, int *aborted)
{
    unsigned char head[5];
    size_t got = 0;
    while (got < 5) {
        ssize_t n = pn_stream_read(client, head + got, 5 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    size_t len = pn_get_be32(head + 1);
    if (len > PN_QF_MAX_RECORD)
        return -1;
    char *payload = pn_malloc(len + 1);
    got = 0;
    while (got < len) {
        ssize_t n = pn_stream_read(client, payload + got, len - got);
        if (n <= 0) {
            free(payload);
            return -1;
        }
        got += (size_t)n;
    }
    payload[len] = 0;
    int more = 1;
    long size_limit = pn_config_get_int(PN_P(message_size_limit));
    switch (head[0]) {
    case 'A': {
        if (!msg->trusted) { /* what a client says of itself counts only from mail_owner */
            pn_warn("%s: attribute %.*s from an untrusted client ignored", msg->queue_id.data,
                    (int)strcspn(payload, "="), payload);
            break;
        }
        if (strncmp(payload, "content_filter=", 15) == 0) { /* the receiving service's */
            pn_buf_set(&msg->filter, payload + 15);
            break;
        }
        /* the actions of smtpd's access tables (HOLD, DISCARD, REDIRECT, BCC) */
        if (strcmp(payload, "action=hold") == 0 || strcmp(payload, "action=discard") == 0) {
            *(payload[7] == 'h' ? &msg->hold : &msg->discard) = 1;
            break;
        }
        if (strncmp(payload, "redirect=", 9) == 0) {
            pn_buf_set(&msg->redirect, payload + 9);
            break;
        }
        if (strncmp(payload, "bcc=", 4) == 0) {
            pn_argv_add(msg->bcc, payload + 4);
            break;
        }
        for (int i = 0; trusted_attrs[i]; i++) {
            size_t n = strlen(trusted_attrs[i]);
            if (strncmp(payload, trusted_attrs[i], n) == 0 && payload[n] == '=')
                pn_argv_add(msg->attrs, payload);
        }
        break;
    }
    case 'S':
        if (pn_addr_has_control(payload, len)) /* a new record, log line or SMTP command */
            msg->status |= CLEANUP_STAT_PROTO;
        pn_buf_set(&msg->sender, payload);
        break;
    case 'R': {
        pn_qrcpt r;
        pn_qrcpt_init(&r);
        if (pn_qfile_rcpt_parse(payload, len, 0, &r) < 0 || r.status != PN_RCPT_TODO ||
            pn_addr_has_control(r.addr.data, r.addr.len) ||
            pn_addr_has_control(pn_buf_str(&r.orcpt), r.orcpt.len))
            msg->status |= CLEANUP_STAT_PROTO;
        else
            envelope_add_rcpt(msg, r.addr.data, r.orcpt.data, r.notify);
        pn_qrcpt_release(&r);
        break;
    }
    case 'M': msg->in_content = 1; break;
    case 'H':
        characters_apply(msg, payload, &len);
        replace_stray_cr(payload, len);
        msg->header_bytes += len + 1;
        if (msg->in_content && memchr(payload, 0, len) == NULL)
            pn_argv_add(msg->headers, payload);
        else
            msg->status |= CLEANUP_STAT_PROTO;
        break;
    case 'B':
        if (size_limit > 0 && msg->body.len + msg->header_bytes + len > (size_t)size_limit) {
            msg->status |= CLEANUP_STAT_SIZE;
            break;
        }
        characters_apply(msg, payload, &len);
        replace_stray_cr(payload, len);
        pn_buf_append(&msg->body, payload, len);
        break;
    case 'X': break;
    case '.': more = 0; break;
    case '!':
        *aborted = 1;
        more = 0;
        break;
    default: msg->status |= CLEANUP_STAT_PROTO;
    }
    free(payload);
    return more;
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
    msg_init(&msg);
    msg.flags = trusted ? flags : PN_CLEANUP_FLAGS_RECEIVED; /* checks for mail from outside */
    msg.trusted = trusted;
    pn_buf why = PN_BUF_INIT, path = PN_BUF_INIT;
    msg.fd = pn_queue_create("incoming", pn_config_get_bool(PN_P(enable_long_queue_ids)),
                             &msg.queue_id, &msg.arrival, &why);
    if (msg.fd < 0) {
        pn_warn("%s", why.data);
        reply(client, CLEANUP_STAT_WRITE, "4.3.0 queue file write error", NULL);
        pn_buf_release(&why);
        msg_release(&msg);
        return -1;
    }
    pn_queue_path("incoming", msg.queue_id.data, &path);
    snprintf(current_path, sizeof(current_path), "%s", path.data);
    reply(client, 0, NULL, msg.queue_id.data);
    int aborted = 0, rc;
    while ((rc = take_record(client, &msg, &aborted)) > 0)
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
    msg_release(&msg);
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
