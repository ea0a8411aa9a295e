/* main.c: qmgr, the queue manager (public/qmgr, one process, never retired). It is event
 * driven: trigger connections (I: new mail in incoming; D, W: also deferred mail that is due;
 * A: deferred mail regardless of its time), timers for the deferred queue, and the replies of
 * the delivery agents all arrive in one loop. At start, files left in active/ by a crash go
 * back to incoming/. */
#include <string.h>
#include <unistd.h>

#include "base/event.h"
#include "base/log.h"
#include "config/cfmaster.h"
#include "config/cfparams.h"
#include "ipc/server.h"
#include "qmgr.h"

static void run_deferred(void *ctx)
{
    (void)ctx;
    scan_queue("deferred", 0);
    pn_event_timer(run_deferred, NULL, pn_config_get_time("queue_run_delay") * 1000);
}

static void trigger_readable(int fd, int events, void *ctx)
{
    char data[256];
    (void)events;
    (void)ctx;
    ssize_t n = read(fd, data, sizeof(data));
    if (n <= 0) {
        pn_event_unwatch(fd);
        close(fd);
        pn_server_disconnect(fd);
        return;
    }
    int incoming = 0, deferred = 0, all = 0;
    for (ssize_t i = 0; i < n; i++) {
        switch (data[i]) {
        case 'I': incoming = 1; break;
        case 'F': sched_forget_dead(); break;
        case 'A': all = 1; /* fall through */
        case 'D':
        case 'W': incoming = deferred = 1; break;
        default: break;
        }
    }
    if (incoming)
        scan_queue("incoming", 0);
    if (deferred)
        scan_queue("deferred", all);
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    pn_event_watch(fd, PN_EVENT_READ, trigger_readable, NULL);
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
    scan_queue("incoming", 0);
    run_deferred(NULL);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .pre_jail = pre_jail,
                               .post_jail = post_jail,
                               .max_use = 0,
                               .max_idle = 0,
                               .process_limit = 1};
    return pn_multi_server_main(argc, argv, &server);
}
