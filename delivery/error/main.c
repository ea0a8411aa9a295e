/* main.c: error (and retry), the agent that fails on purpose: every recipient bounces with
 * the reason in the next hop ("5.1.1 User unknown in virtual alias table"), or is deferred
 * when the reason is a 4.X.X one or the service is called "retry". It never reads mail. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config/cfparams.h"
#include "ipc/server.h"
#include "mail/agent.h"

static int deliver(const pn_delivreq *req, const pn_delivreq_rcpt *r, const pn_qfile *q,
                   const char **dsn, pn_buf *text, void *ctx)
{
    static char status[16];
    (void)r;
    (void)q;
    (void)ctx;
    const char *reason = req->nexthop.data;
    size_t n = strspn(reason, "0123456789.");
    int retry = strcmp(pn_config_get(PN_P(service_name)), "retry") == 0;
    if (n >= 5 && n < sizeof(status) && isdigit((unsigned char)reason[0]) && reason[1] == '.') {
        memcpy(status, reason, n);
        status[n] = 0;
        reason += n;
        while (*reason == ' ')
            reason++;
    } else {
        snprintf(status, sizeof(status), "%s", retry ? "4.3.0" : "5.0.0");
    }
    if (retry)
        status[0] = '4';
    *dsn = status;
    pn_buf_puts(text, *reason ? reason : "delivery failed");
    return status[0] == '4' ? PN_DELIVER_DEFERRED : PN_DELIVER_BOUNCED;
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
