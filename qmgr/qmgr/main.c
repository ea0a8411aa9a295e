/* main.c: qmgr, the queue manager (public/qmgr, one process; it retires only at a reload or
 * when master is gone). It is event driven: cleanup's notices ({req=new, queue_id}: that one
 * file is complete), trigger connections (I: scan incoming; D, W: also deferred mail that is
 * due; A: deferred mail regardless of its time; F: forget dead destinations), the periodic
 * scan, and the replies of the delivery agents all arrive in one loop. At start, files left
 * in active/ by a crash go back to incoming/. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/event.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfmaster.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "qmgr.h"

static void run_queues(void *ctx)
{
    (void)ctx;
    scan_queue("incoming", 0);
    scan_queue("deferred", 0);
    pn_event_timer(run_queues, NULL, pn_config_get_time(PN_P(queue_run_delay)) * 1000);
}

/* A client of public/qmgr sends either trigger bytes (postqueue, flush, master's wakeup) or,
 * on a kept connection, ATTR/1 frames (cleanup's notices). A frame starts with its length,
 * whose first byte is zero for any frame we accept; a trigger byte never is. */
typedef struct client {
    int fd;
    pn_buf in;
} client;

static void client_close(client *c)
{
    pn_event_unwatch(c->fd);
    close(c->fd);
    pn_server_disconnect(c->fd);
    pn_buf_release(&c->in);
    free(c);
}

static void drop(int fd, void *data)
{
    (void)fd;
    client_close(data);
}

int qmgr_flushing;

static void triggers(const char *data, size_t n)
{
    int incoming = 0, deferred = 0, all = 0, flush = 0;
    for (size_t i = 0; i < n; i++) {
        switch (data[i]) {
        case PN_TRIGGER_INCOMING: incoming = 1; break;
        case PN_TRIGGER_FLUSH:
            sched_forget_dead();
            flush = 1;
            break;
        case PN_TRIGGER_ALL: all = 1; /* fall through */
        case PN_TRIGGER_DEFERRED:
        case PN_TRIGGER_WAKEUP: incoming = deferred = 1; break;
        default: break;
        }
    }
    qmgr_flushing = flush;
    if (incoming)
        scan_queue("incoming", 0);
    if (deferred)
        scan_queue("deferred", all);
    qmgr_flushing = 0;
}

/* notices: the whole frames in c->in; -1 on a malformed one. */
static int notices(client *c)
{
    pn_buf payload = PN_BUF_INIT, why = PN_BUF_INIT, id = PN_BUF_INIT, kind = PN_BUF_INIT;
    int rc;
    while ((rc = pn_attr_take_frame(&c->in, &payload)) > 0) {
        pn_attrs attrs;
        int64_t scan = 0;
        if (pn_attr_parse(payload.data, payload.len, &attrs, &why) < 0 ||
            pn_attr_copy_str(&attrs, PN_ATTR_REQ, &kind) != 1 ||
            strcmp(kind.data, PN_REQ_NEW) != 0) {
            rc = -1;
            break;
        }
        pn_attr_get_int(&attrs, PN_ATTR_SCAN, &scan);
        if (scan)
            scan_queue("incoming", 0); /* the client lost notices */
        if (pn_attr_copy_str(&attrs, PN_ATTR_QUEUE_ID, &id) == 1)
            scan_activate(id.data);
    }
    pn_buf_release(&payload);
    pn_buf_release(&why);
    pn_buf_release(&id);
    pn_buf_release(&kind);
    return rc;
}

static void client_readable(int fd, int events, void *ctx)
{
    client *c = ctx;
    char data[4096];
    (void)events;
    pn_server_request_ready();
    ssize_t n = read(fd, data, sizeof(data));
    if (n <= 0) {
        client_close(c);
        return;
    }
    if (c->in.len == 0 && data[0] != 0) {
        triggers(data, (size_t)n); /* a trigger client: its bytes, as they come */
    } else {
        pn_buf_append(&c->in, data, (size_t)n);
        if (notices(c) < 0) {
            pn_warn("malformed notice on %s", PN_SVC_QMGR);
            client_close(c);
            return;
        }
    }
    if (pn_server_client_done(fd))
        client_close(c);
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    client *c = pn_calloc(1, sizeof(*c));
    c->fd = fd;
    pn_buf_init(&c->in);
    pn_server_client_data(fd, c);
    pn_event_watch(fd, PN_EVENT_READ, client_readable, c);
}

/* drain: a reload or master's exit: no new deliveries; exit once those in flight are done
 * (sched calls pn_server_drained), so that no message waits for a lock after a restart. */
static int drain(void *ctx)
{
    (void)ctx;
    return sched_drain();
}

/* pre_jail: the per-transport parameters (relay_destination_concurrency_limit, ...) exist
 * for the delivery services of master.cf, so qmgr learns those services. */
static void pre_jail(void *ctx)
{
    (void)ctx;
    pn_buf err = PN_BUF_INIT;
    if (pn_master_learn_services(&err) < 0)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
}

static void post_jail(void *ctx)
{
    (void)ctx;
    scan_recover();
    run_queues(NULL);
    /* notices that cleanup sent a predecessor in its last seconds may be lost: incoming/
     * once more when that predecessor is surely gone (it stops within 10 s) */
    scan_incoming_later(11000);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .pre_jail = pre_jail,
                               .post_jail = post_jail,
                               .drain = drain,
                               .drop = drop,
                               .max_use = 0,
                               .max_idle = 0,
                               .process_limit = 1};
    return pn_multi_server_main(argc, argv, &server);
}
