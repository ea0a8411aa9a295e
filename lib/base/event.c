/* event.c: epoll-based event loop. Timers are few (wakeups, throttles, idle limits), so they
 * live in a short linked list ordered by due time. Signals are turned into bytes on a pipe. */
#include "base/event.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"

struct watch {
    pn_event_fn fn;
    void *ctx;
    int events;
};

struct timer {
    struct timer *next;
    pn_timer_fn fn;
    void *ctx;
    long long due;
};

static int epoll_fd = -1;
static struct watch *watches;
static int watch_cap;
static struct timer *timers;
static int signal_pipe[2] = {-1, -1};
static pn_signal_fn signal_handlers[65];

long long pn_event_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void init(void)
{
    if (epoll_fd >= 0)
        return;
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0)
        pn_fatal("epoll_create1: %s", strerror(errno));
}

void pn_event_reset_after_fork(void)
{
    if (epoll_fd >= 0)
        close(epoll_fd);
    epoll_fd = -1;
    if (watches)
        memset(watches, 0, sizeof(struct watch) * (size_t)watch_cap);
    while (timers) {
        struct timer *t = timers;
        timers = t->next;
        free(t);
    }
    if (signal_pipe[0] >= 0) {
        close(signal_pipe[0]);
        close(signal_pipe[1]);
        signal_pipe[0] = signal_pipe[1] = -1;
    }
    for (int i = 1; i < 65; i++) {
        if (signal_handlers[i]) {
            signal(i, SIG_DFL);
            signal_handlers[i] = NULL;
        }
    }
}

void pn_event_watch(int fd, int events, pn_event_fn fn, void *ctx)
{
    init();
    if (fd >= watch_cap) {
        int cap = watch_cap ? watch_cap : 64;
        while (cap <= fd)
            cap *= 2;
        watches = pn_reallocarray(watches, (size_t)cap, sizeof(struct watch));
        memset(watches + watch_cap, 0, sizeof(struct watch) * (size_t)(cap - watch_cap));
        watch_cap = cap;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.data.fd = fd;
    if (events & PN_EVENT_READ)
        ev.events |= EPOLLIN;
    if (events & PN_EVENT_WRITE)
        ev.events |= EPOLLOUT;
    int op = watches[fd].fn ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if ((events & PN_EVENT_EXCLUSIVE) && op == EPOLL_CTL_ADD)
        ev.events |= EPOLLEXCLUSIVE;
    if (epoll_ctl(epoll_fd, op, fd, &ev) < 0)
        pn_fatal("epoll_ctl fd %d: %s", fd, strerror(errno));
    watches[fd] = (struct watch){fn, ctx, events};
}

void pn_event_unwatch(int fd)
{
    if (fd < 0 || fd >= watch_cap || watches[fd].fn == NULL)
        return;
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    memset(&watches[fd], 0, sizeof(watches[fd]));
}

int pn_event_watching(int fd)
{
    return fd >= 0 && fd < watch_cap && watches[fd].fn != NULL;
}

void pn_event_cancel(pn_timer_fn fn, void *ctx)
{
    for (struct timer **tp = &timers; *tp; tp = &(*tp)->next) {
        if ((*tp)->fn == fn && (*tp)->ctx == ctx) {
            struct timer *t = *tp;
            *tp = t->next;
            free(t);
            return;
        }
    }
}

void pn_event_timer(pn_timer_fn fn, void *ctx, long delay_ms)
{
    pn_event_cancel(fn, ctx);
    struct timer *t = pn_malloc(sizeof(*t));
    t->fn = fn;
    t->ctx = ctx;
    t->due = pn_event_now_ms() + (delay_ms < 0 ? 0 : delay_ms);
    struct timer **tp = &timers;
    while (*tp && (*tp)->due <= t->due)
        tp = &(*tp)->next;
    t->next = *tp;
    *tp = t;
}

static void on_signal(int signo)
{
    int saved = errno;
    unsigned char byte = (unsigned char)signo;
    (void)!write(signal_pipe[1], &byte, 1);
    errno = saved;
}

static void read_signals(int fd, int events, void *ctx)
{
    (void)events;
    (void)ctx;
    unsigned char bytes[64];
    ssize_t n = read(fd, bytes, sizeof(bytes));
    for (ssize_t i = 0; i < n; i++)
        if (bytes[i] < 65 && signal_handlers[bytes[i]])
            signal_handlers[bytes[i]](bytes[i]);
}

void pn_event_signal(int signo, pn_signal_fn fn)
{
    if (signal_pipe[0] < 0) {
        if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
            pn_fatal("pipe: %s", strerror(errno));
        pn_event_watch(signal_pipe[0], PN_EVENT_READ, read_signals, NULL);
    }
    signal_handlers[signo] = fn;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(signo, &sa, NULL);
}

static void run_due_timers(void)
{
    long long now = pn_event_now_ms();
    while (timers && timers->due <= now) {
        struct timer *t = timers;
        timers = t->next;
        pn_timer_fn fn = t->fn;
        void *ctx = t->ctx;
        free(t);
        fn(ctx);
    }
}

void pn_event_run_once(long max_wait_ms)
{
    init();
    long wait = max_wait_ms;
    if (timers) {
        long long until = timers->due - pn_event_now_ms();
        if (until < 0)
            until = 0;
        if (wait < 0 || until < wait)
            wait = (long)until;
    }
    struct epoll_event ready[64];
    int n = epoll_wait(epoll_fd, ready, 64, (int)wait);
    if (n < 0 && errno != EINTR)
        pn_fatal("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        int fd = ready[i].data.fd;
        if (fd >= watch_cap || watches[fd].fn == NULL)
            continue; /* unwatched by an earlier callback in this turn */
        int events = 0;
        if (ready[i].events & EPOLLIN)
            events |= PN_EVENT_READ;
        if (ready[i].events & EPOLLOUT)
            events |= PN_EVENT_WRITE;
        if (ready[i].events & (EPOLLERR | EPOLLHUP))
            events |= PN_EVENT_ERROR;
        watches[fd].fn(fd, events, watches[fd].ctx);
    }
    run_due_timers();
}
