/* main.c: trivial-rewrite, the address rewriting and resolving service (private/rewrite).
 * Many clients per process on kept connections: {req=rewrite, rule, addr} -> {status, addr};
 * {req=resolve, sender, rcpt:G{addr}...} -> {status, result:G{transport, nexthop, recipient,
 * flags}...}. Tables are opened before the jail; a changed table retires the process. A
 * malformed request drops that client and nothing else. */
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/addr.h"
#include "mail/resolve.h"

static pn_resolver *resolver;
static long long generation;

static void resolve_all(const pn_attrs *req, pn_attr_out *reply)
{
    size_t cursor = 0;
    pn_attrs rcpt;
    pn_buf addr = PN_BUF_INIT, sender = PN_BUF_INIT;
    pn_resolved res;
    pn_resolved_init(&res);
    if (pn_attr_copy_str(req, PN_ATTR_SENDER, &sender) != 1)
        pn_buf_reset(&sender);
    pn_attr_put_int(reply, PN_ATTR_STATUS, 0);
    while (pn_attr_next_group(req, PN_ATTR_RCPT, &cursor, &rcpt) > 0) {
        if (pn_attr_copy_str(&rcpt, PN_ATTR_ADDR, &addr) != 1)
            pn_buf_reset(&addr);
        pn_resolve(resolver, pn_buf_str(&sender), pn_buf_str(&addr), &res);
        pn_attr_group_begin(reply, PN_ATTR_RESULT);
        pn_attr_put_str(reply, PN_ATTR_TRANSPORT, res.transport.data, res.transport.len);
        pn_attr_put_str(reply, PN_ATTR_NEXTHOP, res.nexthop.data, res.nexthop.len);
        pn_attr_put_str(reply, PN_ATTR_RECIPIENT, res.recipient.data, res.recipient.len);
        pn_attr_put_int(reply, PN_ATTR_FLAGS, res.flags);
        pn_attr_group_end(reply);
    }
    pn_resolved_release(&res);
    pn_buf_release(&addr);
    pn_buf_release(&sender);
}

/* handle: one request; -1 drops the client. */
static int handle(const pn_attrs *req, pn_attr_out *reply, void *ctx)
{
    (void)ctx;
    pn_buf kind = PN_BUF_INIT, addr = PN_BUF_INIT, out = PN_BUF_INIT;
    int rc = 0;
    if (pn_attr_copy_str(req, PN_ATTR_REQ, &kind) != 1) {
        pn_warn("malformed request: no req attribute");
        rc = -1;
    } else if (strcmp(kind.data, PN_REQ_REWRITE) == 0 &&
               pn_attr_copy_str(req, PN_ATTR_ADDR, &addr) == 1) {
        pn_addr_rewrite_local(addr.data, &out);
        pn_attr_put_int(reply, PN_ATTR_STATUS, 0);
        pn_attr_put_str(reply, PN_ATTR_ADDR, out.data, out.len);
    } else if (strcmp(kind.data, PN_REQ_RESOLVE) == 0 || strcmp(kind.data, PN_REQ_VERIFY) == 0) {
        resolve_all(req, reply);
    } else {
        pn_attr_put_int(reply, PN_ATTR_STATUS, -1);
        pn_attr_put_cstr(reply, PN_ATTR_REASON, "unknown request");
    }
    pn_buf_release(&kind);
    pn_buf_release(&addr);
    pn_buf_release(&out);
    return rc;
}

static void serve(int fd, void *ctx)
{
    pn_server_multi_requests(fd, PN_PROTO_REWRITE, generation, handle, ctx);
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    pn_buf err = PN_BUF_INIT;
    resolver = pn_resolver_open(&err);
    if (resolver == NULL)
        pn_fatal("%s", err.data);
    struct stat st;
    if (stat(pn_config_main_path(), &st) == 0)
        generation = (long long)st.st_mtime;
}

static int must_retire(void *ctx)
{
    (void)ctx;
    return pn_resolver_changed(resolver);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .drop = pn_server_multi_drop,
                               .pre_jail = pre_jail,
                               .must_retire = must_retire,
                               .max_use = -1,
                               .max_idle = -1,
                               .process_limit = -1};
    return pn_multi_server_main(argc, argv, &server);
}
