/* message.c: one message in the active queue: read its envelope, resolve its pending
 * recipients through trivial-rewrite (one request for all), hand them to the delivery agents
 * in groups by transport and next hop, then remove the file when nothing is pending, or
 * defer it. This first scheduler delivers one group at a time; per-destination concurrency
 * windows come with the scheduler of DESIGN.md section 7.6. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/htable.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "mail/delivreq.h"
#include "mail/qfile.h"
#include "mail/qpath.h"
#include "mail/resolve.h"
#include "qmgr.h"

typedef struct pending {
    pn_qrcpt rcpt;
    pn_buf transport;
    pn_buf nexthop;
    pn_buf recipient;
    int flags;
    int handled;
} pending;

static pn_ipc_client *rewrite_client;
static pn_htable *agents; /* transport -> pn_ipc_client */

static pn_ipc_client *agent_for(const char *transport)
{
    if (agents == NULL)
        agents = pn_htable_new(16);
    pn_ipc_client *c = pn_htable_get(agents, transport);
    if (c == NULL) {
        pn_buf path = PN_BUF_INIT;
        pn_buf_printf(&path, "private/%s", transport);
        c = pn_ipc_client_new(path.data, "deliver");
        pn_htable_put(agents, transport, c);
        pn_buf_release(&path);
    }
    return c;
}

static long recipient_limit(const char *transport)
{
    pn_buf name = PN_BUF_INIT;
    pn_buf_printf(&name, "%s_destination_recipient_limit", transport);
    long limit = pn_param_find(name.data) ? pn_config_get_int(name.data)
                                          : pn_config_get_int("default_destination_recipient_limit");
    pn_buf_release(&name);
    return limit > 0 ? limit : 1;
}

static int resolve_all(pending *p, size_t n, const char *sender, pn_buf *why)
{
    if (rewrite_client == NULL)
        rewrite_client = pn_ipc_client_new("private/rewrite", "rewrite");
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, "req", "resolve");
    pn_attr_put_cstr(&req, "sender", sender);
    for (size_t i = 0; i < n; i++) {
        pn_attr_group_begin(&req, "rcpt");
        pn_attr_put_cstr(&req, "addr", p[i].rcpt.addr.data);
        pn_attr_group_end(&req);
    }
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    int rc = pn_ipc_call(rewrite_client, &req, &storage, &reply, why);
    pn_attr_release(&req);
    size_t cursor = 0, i = 0;
    pn_attrs g;
    while (rc == 0 && i < n && pn_attr_next_group(&reply, "result", &cursor, &g) > 0) {
        int64_t flags = 0;
        pn_attr_copy_str(&g, "transport", &p[i].transport);
        pn_attr_copy_str(&g, "nexthop", &p[i].nexthop);
        pn_attr_copy_str(&g, "recipient", &p[i].recipient);
        pn_attr_get_int(&g, "flags", &flags);
        p[i].flags = (int)flags;
        i++;
    }
    if (rc == 0 && i != n) {
        pn_buf_puts(why, "short reply from the rewrite service");
        rc = -1;
    }
    pn_buf_release(&storage);
    return rc;
}

static void log_suspended(const char *id, int64_t arrival_us, int64_t active_us, pending *p,
                          const char *why)
{
    pn_delivreq req;
    memset(&req, 0, sizeof(req));
    pn_buf_init(&req.queue_id);
    pn_buf_set(&req.queue_id, id);
    req.arrival_us = arrival_us;
    req.active_us = active_us;
    pn_delivreq_rcpt r;
    memset(&r, 0, sizeof(r));
    r.addr = p->rcpt.addr;
    r.orig = p->rcpt.orig;
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "delivery temporarily suspended: %s", why);
    pn_delivreq_log(&req, &r, "none", PN_DELIVER_DEFERRED, "4.3.0", text.data);
    pn_buf_release(&text);
    pn_buf_release(&req.queue_id);
}

/* deliver_group: recipients [first, end) that share transport and next hop. */
static void deliver_group(const char *id, const pn_qfile *q, const char *sender, pending *p,
                          size_t *members, size_t count, int last, int64_t active_us)
{
    int64_t arrival_us = (int64_t)q->arrival.tv_sec * 1000000 + q->arrival.tv_usec;
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, "req", "deliver");
    pn_attr_put_cstr(&req, "queue", "active");
    pn_attr_put_cstr(&req, "queue_id", id);
    pn_attr_put_str(&req, "nexthop", p[members[0]].nexthop.data, p[members[0]].nexthop.len);
    pn_attr_put_cstr(&req, "sender", sender);
    pn_attr_put_int(&req, "arrival", arrival_us);
    pn_attr_put_int(&req, "active", active_us);
    pn_attr_put_int(&req, "last", last);
    for (size_t i = 0; i < count; i++) {
        pending *r = &p[members[i]];
        pn_attr_group_begin(&req, "rcpt");
        pn_attr_put_str(&req, "addr", r->recipient.data, r->recipient.len);
        pn_attr_put_str(&req, "orig", r->rcpt.orig.len ? r->rcpt.orig.data : r->rcpt.addr.data,
                        r->rcpt.orig.len ? r->rcpt.orig.len : r->rcpt.addr.len);
        pn_attr_put_str(&req, "orcpt", r->rcpt.orcpt.data, r->rcpt.orcpt.len);
        pn_attr_put_int(&req, "notify", r->rcpt.notify);
        pn_attr_put_int(&req, "offset", (int64_t)r->rcpt.offset);
        pn_attr_group_end(&req);
    }
    pn_buf storage = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_attrs reply;
    if (pn_ipc_call(agent_for(p[members[0]].transport.data), &req, &storage, &reply, &why) < 0)
        for (size_t i = 0; i < count; i++)
            log_suspended(id, arrival_us, active_us, &p[members[i]], why.data);
    pn_attr_release(&req);
    pn_buf_release(&storage);
    pn_buf_release(&why);
}

/* pending_count: recipients still to do, read again from the file. */
static int pending_count(int fd, pn_buf *why)
{
    pn_qfile q;
    if (pn_qfile_open(&q, fd, why) < 0) {
        pn_qfile_release(&q);
        return -1;
    }
    size_t pos = 0, len;
    int type, count = 0;
    const char *payload;
    while (pn_qfile_next(&q, &pos, &type, &payload, &len))
        if (type == 'R' && payload[0] == PN_RCPT_TODO)
            count++;
    pn_qfile_release(&q);
    return count;
}

void message_process(const char *id, int64_t active_us)
{
    pn_buf path = PN_BUF_INIT, why = PN_BUF_INIT, sender = PN_BUF_INIT;
    pn_queue_path("active", id, &path);
    int fd = open(path.data, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    pending *p = NULL;
    size_t n = 0;
    if (fd < 0) {
        pn_warn("open %s: cannot open", path.data);
        goto out;
    }
    if (pn_qfile_open(&q, fd, &why) < 0) {
        corrupt_file(id, why.data);
        goto out;
    }
    pn_qfile_sender(&q, &sender);
    size_t pos = 0, len, at = 0;
    int type;
    const char *payload;
    while (pn_qfile_next(&q, &pos, &type, &payload, &len)) {
        if (type == 'R' && payload[0] == PN_RCPT_TODO) {
            p = pn_reallocarray(p, n + 1, sizeof(pending));
            memset(&p[n], 0, sizeof(pending));
            pn_qrcpt_init(&p[n].rcpt);
            pn_buf_init(&p[n].transport);
            pn_buf_init(&p[n].nexthop);
            pn_buf_init(&p[n].recipient);
            pn_qfile_rcpt_parse(payload, len, PN_QF_HEADER_SIZE + at, &p[n].rcpt);
            n++;
        }
        at = pos;
    }
    pn_info("%s: from=<%s>, size=%llu, nrcpt=%u (queue active)", id, sender.data,
            (unsigned long long)q.content_len, q.rcpt_total);
    if (n > 0 && resolve_all(p, n, sender.data, &why) < 0) {
        pn_warn("%s: %s", id, why.data);
        defer_file(id, q.arrival.tv_sec);
        goto out;
    }
    size_t *members = pn_calloc(n + 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        if (p[i].handled || (p[i].flags & PN_RESOLVE_FAIL))
            continue;
        long limit = recipient_limit(p[i].transport.data);
        size_t count = 0;
        for (size_t j = i; j < n && (long)count < limit; j++) {
            if (!p[j].handled && !(p[j].flags & PN_RESOLVE_FAIL) &&
                strcmp(p[j].transport.data, p[i].transport.data) == 0 &&
                strcasecmp(p[j].nexthop.data, p[i].nexthop.data) == 0) {
                members[count++] = j;
                p[j].handled = 1;
            }
        }
        int last = 1;
        for (size_t j = 0; j < n; j++)
            if (!p[j].handled)
                last = 0;
        deliver_group(id, &q, sender.data, p, members, count, last, active_us);
        if (!p[i].handled)
            i--;
    }
    free(members);
    int left = pending_count(fd, &why);
    if (left < 0) {
        corrupt_file(id, why.data);
    } else if (left == 0) {
        if (unlink(path.data) == 0)
            pn_info("%s: removed", id);
    } else {
        defer_file(id, q.arrival.tv_sec);
    }
out:
    for (size_t i = 0; i < n; i++) {
        pn_qrcpt_release(&p[i].rcpt);
        pn_buf_release(&p[i].transport);
        pn_buf_release(&p[i].nexthop);
        pn_buf_release(&p[i].recipient);
    }
    free(p);
    pn_qfile_release(&q);
    if (fd >= 0)
        close(fd);
    pn_buf_release(&path);
    pn_buf_release(&why);
    pn_buf_release(&sender);
}
