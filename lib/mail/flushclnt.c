/* flushclnt.c: requests to the flush service, on one kept connection per process. */
#include "mail/flushclnt.h"

#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"

static int request(const char *path, const char *kind, const char *name, const char *value,
                   pn_buf *why)
{
    static pn_ipc_client *flush;
    if (flush == NULL)
        flush = pn_ipc_client_new(path, "flush");
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_REQ, kind);
    pn_attr_put_cstr(&req, name, value);
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = PN_FLUSH_FAIL;
    if (pn_ipc_call(flush, &req, &storage, &reply, why) == 0 &&
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status) != 1) {
        pn_buf_set(why, "malformed reply from the flush service");
        status = PN_FLUSH_FAIL;
    }
    pn_attr_release(&req);
    pn_buf_release(&storage);
    return (int)status;
}

int pn_flush_send_site(const char *path, const char *site, pn_buf *why)
{
    return request(path, "send_site", "site", site, why);
}

int pn_flush_send_file(const char *path, const char *queue_id, pn_buf *why)
{
    return request(path, "send_file", "queue_id", queue_id, why);
}
