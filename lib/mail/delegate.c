/* delegate.c: one recipient passed to another transport's agent on private/TRANSPORT, with
 * the request qmgr would have sent for it ("last" never set: the file has other work). The
 * connection is kept per transport for the next recipient. */
#include "mail/delegate.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"

/* The kept clients, one per transport. */
typedef struct kept {
    struct kept *next;
    char *transport;
    pn_ipc_client *client;
} kept;

static kept *clients;

static pn_ipc_client *client_for(const char *transport)
{
    for (kept *k = clients; k; k = k->next)
        if (strcmp(k->transport, transport) == 0)
            return k->client;
    kept *k = pn_calloc(1, sizeof(*k));
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "private/%s", transport);
    k->transport = pn_strdup(transport);
    k->client = pn_ipc_client_new(path.data, PN_PROTO_DELIVER);
    k->next = clients;
    clients = k;
    pn_buf_release(&path);
    return k->client;
}

int pn_delegate(const char *spec, const pn_delivreq *req, const pn_delivreq_rcpt *rcpt,
                int *deferred, pn_buf *why)
{
    const char *colon = strchr(spec, ':');
    char *transport = colon ? pn_strndup(spec, (size_t)(colon - spec)) : pn_strdup(spec);
    const char *nexthop = colon && colon[1] ? colon + 1 : req->nexthop.data;
    pn_attr_out out;
    pn_attr_begin(&out);
    pn_attr_put_cstr(&out, PN_ATTR_REQ, "deliver");
    pn_attr_put_cstr(&out, PN_ATTR_QUEUE, req->queue.data);
    pn_attr_put_cstr(&out, PN_ATTR_QUEUE_ID, req->queue_id.data);
    pn_attr_put_cstr(&out, PN_ATTR_NEXTHOP, nexthop);
    pn_attr_put_cstr(&out, PN_ATTR_SENDER, req->sender.data);
    pn_attr_put_int(&out, PN_ATTR_ARRIVAL, req->arrival_us);
    pn_attr_put_int(&out, PN_ATTR_ACTIVE, req->active_us);
    pn_attr_put_int(&out, PN_ATTR_LAST, 0);
    if (req->flags)
        pn_attr_put_int(&out, PN_ATTR_FLAGS, req->flags);
    pn_attr_group_begin(&out, PN_ATTR_RCPT);
    pn_attr_put_str(&out, PN_ATTR_ADDR, rcpt->addr.data, rcpt->addr.len);
    pn_attr_put_str(&out, PN_ATTR_ORIG, rcpt->orig.data, rcpt->orig.len);
    pn_attr_put_str(&out, PN_ATTR_ORCPT, rcpt->orcpt.len ? rcpt->orcpt.data : "", rcpt->orcpt.len);
    pn_attr_put_int(&out, PN_ATTR_NOTIFY, rcpt->notify);
    pn_attr_put_int(&out, PN_ATTR_OFFSET, rcpt->offset);
    pn_attr_group_end(&out);
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    int rc = pn_ipc_call(client_for(transport), &out, &storage, &reply, why);
    if (rc == 0) {
        int64_t status = 1;
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status);
        *deferred = status != 0;
    }
    pn_attr_release(&out);
    pn_buf_release(&storage);
    free(transport);
    return rc;
}
