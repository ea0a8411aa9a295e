/* anvil_client.c: smtpd's requests to anvil on one kept connection. When anvil is not
 * there (no anvil service in master.cf, or it died) the limits are not applied: a warning
 * once a minute, and anvil is not asked again for that long. */
#include "mail/anvil_client.h"

#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"

#define RETRY_SECONDS 60

static pn_ipc_client *anvil;
static time_t down_until;

int pn_anvil_event(const char *req, const char *ident, int *count, int *rate)
{
    time_t now = time(NULL);
    if (now < down_until)
        return -1;
    if (anvil == NULL)
        anvil = pn_ipc_client_new(PN_SVC_ANVIL, PN_PROTO_ANVIL);
    pn_attr_out out;
    pn_attr_begin(&out);
    pn_attr_put_cstr(&out, PN_ATTR_REQ, req);
    pn_attr_put_cstr(&out, PN_ATTR_IDENT, ident);
    pn_buf storage = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = -1, value = 0;
    int rc = pn_ipc_call(anvil, &out, &storage, &reply, &why);
    if (rc == 0 && (pn_attr_get_int(&reply, PN_ATTR_STATUS, &status) != 1 || status != 0))
        rc = -1;
    if (rc == 0 && count)
        *count = pn_attr_get_int(&reply, PN_ATTR_COUNT, &value) == 1 ? (int)value : 0;
    if (rc == 0 && rate)
        *rate = pn_attr_get_int(&reply, PN_ATTR_RATE, &value) == 1 ? (int)value : 0;
    if (rc < 0) {
        pn_warn("%s: %s: client limits are not applied for %d seconds", PN_SVC_ANVIL,
                why.len ? why.data : "bad reply", RETRY_SECONDS);
        down_until = now + RETRY_SECONDS;
    }
    pn_attr_release(&out);
    pn_buf_release(&storage);
    pn_buf_release(&why);
    return rc;
}
