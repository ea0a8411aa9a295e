/* flow.c: the two ends of master's flow-control pipe, inherited as descriptors 3 and 4. A
 * process not started by master has no pipe there, and then takes and adds nothing. */
#include "ipc/flow.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/event.h"
#include "ipc/master_proto.h"

/* have_pipe: descriptor fd is a pipe (checked once). */
static int have_pipe(int fd)
{
    static int known[2] = {-1, -1};
    int i = fd == PN_MASTER_FLOW_READ_FD ? 0 : 1;
    if (known[i] < 0) {
        struct stat st;
        known[i] = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
    }
    return known[i];
}

int pn_flow_take(long wait_ms)
{
    if (!have_pipe(PN_MASTER_FLOW_READ_FD))
        return 0;
    long long deadline = pn_event_now_ms() + wait_ms;
    for (;;) {
        char token;
        ssize_t n = read(PN_MASTER_FLOW_READ_FD, &token, 1);
        if (n == 1)
            return 1;
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            return 0;
        long long left = deadline - pn_event_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = PN_MASTER_FLOW_READ_FD, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            return 0;
    }
}

void pn_flow_fill(long limit)
{
    int count = 0;
    if (!have_pipe(PN_MASTER_FLOW_READ_FD) || !have_pipe(PN_MASTER_FLOW_WRITE_FD) ||
        ioctl(PN_MASTER_FLOW_READ_FD, FIONREAD, &count) < 0)
        return;
    /* topped up when half spent: one write for many messages */
    if (count >= limit / 2)
        return;
    char tokens[1024];
    size_t want =
        (size_t)(limit - count) < sizeof(tokens) ? (size_t)(limit - count) : sizeof(tokens);
    memset(tokens, 'T', want);
    while (write(PN_MASTER_FLOW_WRITE_FD, tokens, want) < 0 && errno == EINTR)
        ;
}
