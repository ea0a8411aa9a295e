/* main.c: qmgr, the queue manager (public/qmgr, one process, never retired). Triggers: I
 * (new mail in incoming), D and W (also look at deferred mail that is due), A (deferred mail
 * regardless of its time). At start, files left in active/ by a crash go back to incoming/. */
#include <string.h>

#include "base/log.h"
#include "ipc/server.h"
#include "qmgr.h"

static void trigger(const char *data, size_t len, void *ctx)
{
    (void)ctx;
    int incoming = 0, deferred = 0, all = 0;
    for (size_t i = 0; i < len; i++) {
        switch (data[i]) {
        case 'I': incoming = 1; break;
        case 'A': all = 1; /* fall through */
        case 'D': case 'W': incoming = deferred = 1; break;
        default: break;
        }
    }
    if (incoming)
        scan_queue("incoming", 0);
    if (deferred)
        scan_queue("deferred", all);
}

static void post_jail(void *ctx)
{
    (void)ctx;
    scan_recover();
    scan_queue("incoming", 0);
    scan_queue("deferred", 0);
}

int main(int argc, char **argv)
{
    static pn_server server = {.trigger = trigger, .post_jail = post_jail, .max_use = 0,
                               .max_idle = 0, .process_limit = 1};
    return pn_trigger_server_main(argc, argv, &server);
}
