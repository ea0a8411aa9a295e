/* agent.c: what every delivery agent does around the delivery itself. The queue file is
 * opened read-write without following links, must be a regular file with one link, and is
 * held with a shared lock while recipients are delivered; only status bytes are written. */
#include "mail/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/lock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/privs.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/bouncelog.h"
#include "mail/dsn.h"
#include "mail/qpath.h"

static pn_buf dead_reason; /* set by pn_agent_destination_dead during one request */

void pn_agent_destination_dead(const char *reason)
{
    pn_buf_set(&dead_reason, reason);
}

/* handle: one request; 0 every recipient finished, 1 one was deferred. */
static int handle(const pn_agent *agent, const pn_delivreq *req)
{
    pn_buf path = PN_BUF_INIT, why = PN_BUF_INIT, text = PN_BUF_INIT;
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    int fd = -1, deferred = 0, finished_all = 1;
    if (!pn_qid_valid(req->queue_id.data) || strcmp(req->queue.data, "active") != 0) {
        pn_warn("bad queue file name in request: %s/%s", req->queue.data, req->queue_id.data);
        return 1;
    }
    pn_queue_path(req->queue.data, req->queue_id.data, &path);
    fd = open(path.data, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        pn_warn("%s: cannot open queue file: %s", req->queue_id.data, strerror(errno));
        deferred = 1;
        goto out;
    }
    pn_lock_fd(fd, PN_LOCK_SHARED);
    if (agent->needs_content && pn_qfile_open(&q, fd, &why) < 0) {
        pn_warn("%s: %s", req->queue_id.data, why.data);
        fchmod(fd, 0400); /* qmgr moves it to corrupt/ */
        deferred = 1;
        goto out;
    }
    int *outcomes = pn_calloc(req->rcpt_count + 1, sizeof(int));
    pn_buf *dsns = pn_calloc(req->rcpt_count + 1, sizeof(pn_buf));
    pn_buf *texts = pn_calloc(req->rcpt_count + 1, sizeof(pn_buf));
    pn_buf *relays = pn_calloc(req->rcpt_count + 1, sizeof(pn_buf));
    for (size_t i = 0; i < req->rcpt_count; i++) {
        pn_buf_init(&dsns[i]);
        pn_buf_init(&texts[i]);
        pn_buf_init(&relays[i]);
    }
    int verify = (req->flags & PN_DELIVREQ_VERIFY) != 0;
    if (verify && !agent->verifies) {
        for (size_t i = 0; i < req->rcpt_count; i++) {
            outcomes[i] = PN_DELIVER_SENT;
            pn_buf_set(&dsns[i], "2.0.0");
            pn_buf_printf(&texts[i], "delivers via the %s service",
                          pn_config_get(PN_P(service_name)));
        }
    } else if (agent->deliver_all) {
        agent->deliver_all(req, &q, outcomes, dsns, texts, relays, agent->ctx);
    } else {
        for (size_t i = 0; i < req->rcpt_count; i++) {
            const char *dsn = "4.3.0";
            outcomes[i] = agent->deliver(req, &req->rcpts[i], &q, &dsn, &texts[i], agent->ctx);
            pn_buf_set(&dsns[i], dsn);
        }
    }
    if (pn_config_get_bool(PN_P(soft_bounce))) {
        /* nothing goes back to the sender: a permanent failure stays queued, as 4.x.x */
        for (size_t i = 0; i < req->rcpt_count; i++) {
            if ((outcomes[i] & PN_DELIVER_OUTCOME) != PN_DELIVER_BOUNCED ||
                (outcomes[i] & PN_DELIVER_DELEGATED))
                continue;
            outcomes[i] = (outcomes[i] & ~PN_DELIVER_OUTCOME) | PN_DELIVER_DEFERRED;
            if (dsns[i].len && dsns[i].data[0] == '5')
                dsns[i].data[0] = '4';
        }
    }
    pn_bouncelog_batch defers;
    pn_bouncelog_batch_init(&defers, "defer", req->queue_id.data);
    for (size_t i = 0; i < req->rcpt_count; i++) {
        const pn_delivreq_rcpt *r = &req->rcpts[i];
        int outcome = outcomes[i] & PN_DELIVER_OUTCOME;
        const char *relay = relays[i].len ? relays[i].data : agent->relay;
        pn_buf_reset(&why);
        if (outcomes[i] & PN_DELIVER_DELEGATED) {
            /* logged and recorded by the agent that took it; a deferral keeps the file */
            if (outcome == PN_DELIVER_DEFERRED) {
                deferred = 1;
                finished_all = 0;
            }
            continue;
        }
        if (verify) {
            /* a verification: reported, never delivered, bounced or retried */
            pn_delivreq_log(req, r, relay,
                            outcome == PN_DELIVER_SENT      ? PN_DELIVER_DELIVERABLE
                            : outcome == PN_DELIVER_BOUNCED ? PN_DELIVER_UNDELIVERABLE
                                                            : PN_DELIVER_DEFERRED,
                            pn_buf_str(&dsns[i]), pn_buf_str(&texts[i]));
            if (pn_bouncelog_append("trace", req->queue_id.data, r->addr.data, r->orig.data,
                                    outcome == PN_DELIVER_SENT      ? "deliverable"
                                    : outcome == PN_DELIVER_BOUNCED ? "undeliverable"
                                                                    : "delayed",
                                    pn_buf_str(&dsns[i]), pn_buf_str(&texts[i]), &why) < 0 ||
                pn_qfile_mark(fd, (size_t)r->offset, PN_RCPT_DONE, &why) < 0) {
                pn_warn("%s: %s", req->queue_id.data, why.data);
                deferred = 1;
                finished_all = 0;
            }
            continue;
        }
        pn_delivreq_log(req, r, relay, outcome, pn_buf_str(&dsns[i]), pn_buf_str(&texts[i]));
        if (req->flags & PN_DELIVREQ_RECORD) {
            /* sendmail -v: every outcome goes into the sender's report; losing it loses no
             * mail */
            const char *action = outcome == PN_DELIVER_BOUNCED      ? "failed"
                                 : outcome == PN_DELIVER_DEFERRED   ? "delayed"
                                 : outcomes[i] & PN_DELIVER_RELAYED ? "relayed"
                                                                    : "delivered";
            if (pn_bouncelog_append("trace", req->queue_id.data, r->addr.data, r->orig.data, action,
                                    pn_buf_str(&dsns[i]), pn_buf_str(&texts[i]), &why) < 0)
                pn_warn("%s: %s", req->queue_id.data, why.data);
            pn_buf_reset(&why);
        }
        if (outcome == PN_DELIVER_BOUNCED &&
            pn_bouncelog_append("bounce", req->queue_id.data, r->addr.data, r->orig.data, NULL,
                                pn_buf_str(&dsns[i]), pn_buf_str(&texts[i]), &why) < 0) {
            /* the bounce could not be recorded: keep the recipient, try again later */
            pn_warn("%s: %s", req->queue_id.data, why.data);
            outcome = PN_DELIVER_DEFERRED;
        }
        if (outcome == PN_DELIVER_DEFERRED) {
            /* the reason mailq shows, written below with the others */
            pn_bouncelog_batch_add(&defers, r->addr.data, r->orig.data, NULL, pn_buf_str(&dsns[i]),
                                   pn_buf_str(&texts[i]));
            deferred = 1;
            finished_all = 0;
        } else if (outcome == PN_DELIVER_SENT && !(req->flags & PN_DELIVREQ_RECORD) &&
                   pn_dsn_wants(r->notify, PN_NOTIFY_SUCCESS) &&
                   !(outcomes[i] & PN_DELIVER_DSN_PASSED) &&
                   pn_bouncelog_append("trace", req->queue_id.data, r->addr.data, r->orig.data,
                                       outcomes[i] & PN_DELIVER_RELAYED ? "relayed" : NULL,
                                       pn_buf_str(&dsns[i]), pn_buf_str(&texts[i]), &why) < 0) {
            /* the success notice could not be recorded: the recipient stays pending (a
             * second delivery rather than a promise broken) */
            pn_warn("%s: %s", req->queue_id.data, why.data);
            deferred = 1;
            finished_all = 0;
        } else if (pn_qfile_mark(fd, (size_t)r->offset, PN_RCPT_DONE, &why) < 0) {
            pn_warn("%s: %s", req->queue_id.data, why.data);
            deferred = 1;
            finished_all = 0;
        }
    }
    /* one write for every deferral of this request; losing them loses no mail */
    pn_buf_reset(&why);
    if (pn_bouncelog_batch_write(&defers, &why) < 0)
        pn_warn("%s: %s", req->queue_id.data, why.data);
    pn_bouncelog_batch_release(&defers);
    for (size_t i = 0; i < req->rcpt_count; i++) {
        pn_buf_release(&dsns[i]);
        pn_buf_release(&texts[i]);
        pn_buf_release(&relays[i]);
    }
    free(outcomes);
    free(dsns);
    free(texts);
    free(relays);
    /* Status bytes reach the disk before qmgr hears of them, except when qmgr will remove
     * the file next anyway (doc/queue.md, step 4). */
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

void pn_agent_drop_privileges(void)
{
    if (geteuid() != 0)
        return;
    uid_t uid;
    gid_t gid;
    pn_privs_lookup(pn_config_get(PN_P(mail_owner)), &uid, &gid);
    pn_privs_drop(uid, gid);
}

/* wait_for_request: until a request starts to arrive, running the agent's idle work when its
 * time comes; 0 when the connection must end instead (the process retires: a table changed,
 * a reload, max_use), with the request, if any, left unread for a fresh agent. */
static int wait_for_request(const pn_agent *agent, pn_stream *client)
{
    if (pn_stream_buffered(client) > 0)
        return 1;
    for (;;) {
        int ms = agent->idle_ms ? agent->idle_ms(agent->ctx) : -1;
        int rc = pn_server_wait(pn_stream_fd(client), ms > 0 ? ms : -1);
        if (rc != 0)
            return rc > 0;
        agent->idle(agent->ctx);
    }
}

void pn_agent_serve(int fd, const pn_agent *agent)
{
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, (int)(pn_config_get_time(PN_P(ipc_timeout)) * 1000));
    pn_buf frame = PN_BUF_INIT, why = PN_BUF_INIT;
    if (pn_ipc_send_hello(client, PN_PROTO_DELIVER, 0) == 0) {
        while (wait_for_request(agent, client) && pn_attr_read_frame(client, &frame) > 0) {
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
            pn_buf_reset(&dead_reason);
            int status = handle(agent, &req);
            pn_delivreq_release(&req);
            pn_attr_out reply;
            pn_attr_begin(&reply);
            pn_attr_put_int(&reply, PN_ATTR_STATUS, status);
            if (dead_reason.len)
                pn_attr_put_cstr(&reply, PN_ATTR_DEAD, dead_reason.data);
            int rc = pn_attr_write_frame(client, &reply);
            pn_attr_release(&reply);
            if (rc < 0 || pn_server_request_done())
                break;
        }
    }
    if (agent->idle)
        agent->idle(agent->ctx);
    pn_buf_release(&frame);
    pn_buf_release(&why);
    pn_stream_release(client);
}
