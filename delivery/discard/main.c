/* main.c: discard, the agent that accepts and drops: every recipient is logged as sent, with
 * the next hop as the reason, and marked done. It never reads mail. */
#include "ipc/server.h"
#include "mail/agent.h"

static int deliver(const pn_delivreq *req, const pn_delivreq_rcpt *r, const pn_qfile *q,
                   const char **dsn, pn_buf *text, void *ctx)
{
    (void)r;
    (void)q;
    (void)ctx;
    *dsn = "2.0.0";
    pn_buf_puts(text, req->nexthop.len ? req->nexthop.data : "discarded");
    return PN_DELIVER_SENT;
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    static const pn_agent agent = {
        .relay = "none", .needs_content = 0, .verifies = 1, .deliver = deliver};
    pn_agent_serve(fd, &agent);
}

int main(int argc, char **argv)
{
    static pn_server server = {
        .serve = serve, .per_request = 1, .max_use = -1, .max_idle = -1, .process_limit = -1};
    return pn_single_server_main(argc, argv, &server);
}
