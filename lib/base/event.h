/* event.h: the single-threaded event loop: descriptor callbacks (epoll, level-triggered),
 * one-shot timers, and signals delivered through a self-pipe so that handlers run in the loop
 * and never in signal context. */
#ifndef PN_BASE_EVENT_H
#define PN_BASE_EVENT_H

#define PN_EVENT_READ 1
#define PN_EVENT_WRITE 2
#define PN_EVENT_ERROR 4
#define PN_EVENT_EXCLUSIVE 8 /* wake one waiter of many (shared listening sockets) */

typedef void (*pn_event_fn)(int fd, int events, void *ctx);
typedef void (*pn_timer_fn)(void *ctx);
typedef void (*pn_signal_fn)(int signo);

/* pn_event_watch: call fn when fd is ready for what events asks (READ and/or WRITE);
 * replaces an earlier watch of the same fd. */
void pn_event_watch(int fd, int events, pn_event_fn fn, void *ctx);
void pn_event_unwatch(int fd);
int pn_event_watching(int fd);
/* pn_event_timer: run fn(ctx) once after delay_ms; the same (fn, ctx) pair is rescheduled,
 * not duplicated. */
void pn_event_timer(pn_timer_fn fn, void *ctx, long delay_ms);
void pn_event_cancel(pn_timer_fn fn, void *ctx);
/* pn_event_signal: run fn(signo) from the loop when signo arrives. */
void pn_event_signal(int signo, pn_signal_fn fn);
/* pn_event_run_once: wait at most max_wait_ms (-1: until an event) and dispatch. */
void pn_event_run_once(long max_wait_ms);
/* pn_event_now_ms: a monotonic clock. */
long long pn_event_now_ms(void);
/* pn_event_reset_after_fork: a child must not share the parent's epoll set. */
void pn_event_reset_after_fork(void);

#endif
