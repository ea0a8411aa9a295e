/* server.h: the daemon skeletons. A daemon's main() fills in a pn_server and makes one call;
 * the skeleton owns everything between exec and the first client: options, main.cf and -o,
 * logging, the pre-jail hook, chroot, dropping to mail_owner, the master status records,
 * max_use and max_idle, and the accept loop. */
#ifndef PN_IPC_SERVER_H
#define PN_IPC_SERVER_H
#include <stddef.h>

#include "ipc/attr.h"

typedef struct pn_server {
    /* Called as root, before chroot: open what needs privileges (keys, tables, sockets). */
    void (*pre_jail)(void *ctx);
    /* Called after the privilege drop, before the first client. */
    void (*post_jail)(void *ctx);
    /* single: serve one client on fd, then return (the skeleton closes fd).
     * multi: a new client on fd; the daemon watches it with pn_event and calls
     * pn_server_disconnect() when done. */
    void (*serve)(int fd, void *ctx);
    /* dgram: read the datagrams waiting on listener (non-blocking) and handle them. */
    void (*datagrams)(int listener, void *ctx);
    /* trigger: the bytes of one trigger request. */
    void (*trigger)(const char *data, size_t len, void *ctx);
    /* Between requests: return 1 when the process should retire (e.g. a table changed). */
    int (*must_retire)(void *ctx);
    /* multi: end the client on fd now (unwatch, close, pn_server_disconnect); the process
     * retires and the client is between two requests. data: pn_server_client_data's. */
    void (*drop)(int fd, void *data);
    /* multi, optional: the process retires; return 1 when nothing is in flight, else 0 and
     * call pn_server_drained() once the work in flight is done (bounded by the skeleton). */
    int (*drain)(void *ctx);
    void *ctx;
    /* single: a use (max_use) is one request on a kept connection, counted by
     * pn_server_request_done(), not one connection */
    int per_request;
    int max_use;       /* >= 0 replaces the max_use parameter; -1 keeps it */
    int max_idle;      /* >= 0 replaces max_idle (seconds); -1 keeps it */
    int process_limit; /* 1 or 0: the process limit the daemon insists on; -1: any */
    int needs_root;    /* the service must run with unpriv n */
    int log_writer;    /* postlogd: appends its own lines to maillog_file */
    int drain_on_term; /* dgram: SIGTERM reads what is queued before the exit */
    int argc;          /* the program's own arguments (after the options), for serve */
    char **argv;
} pn_server;

/* Each returns only when the process should exit, with its exit status. */
int pn_single_server_main(int argc, char **argv, pn_server *server);
int pn_multi_server_main(int argc, char **argv, pn_server *server);
int pn_trigger_server_main(int argc, char **argv, pn_server *server);
/* pn_dgram_server_main: a unix-dgram service; datagrams(listener) reads what is waiting. */
int pn_dgram_server_main(int argc, char **argv, pn_server *server);
/* pn_server_process_limit: the service's process limit as master.cf sets it (master passes
 * -p), 0 when unlimited or not known. */
int pn_server_process_limit(void);
/* pn_server_disconnect: a multi server's client is gone (the daemon closes fd itself). */
void pn_server_disconnect(int fd);

/* Kept connections (doc/processes.md, "Retirement"). A single server that serves many
 * requests per connection calls pn_server_wait() before it reads a request and
 * pn_server_request_done() after it wrote the reply; either one telling it to retire means:
 * close the connection, unread, and return from serve. */
/* pn_server_wait: wait at most timeout_ms (-1: no limit) for the client's next request.
 * 1: it is there; 0: timeout; -1: retire now, or the wait failed. */
int pn_server_wait(int fd, int timeout_ms);
/* pn_server_request_done: one request finished; 1 when the process must retire. */
int pn_server_request_done(void);
/* Multi servers: pn_server_request_ready() before reading a client's request (it checks
 * whether the process must retire; the request is served either way), and
 * pn_server_client_done() after the reply: 1 means close this client now. */
void pn_server_request_ready(void);
int pn_server_client_done(int fd);
/* pn_server_client_data: what drop gets for the client on fd (the daemon's state of it). */
void pn_server_client_data(int fd, void *data);
/* pn_server_drained: a retiring multi server finished its work in flight. */
void pn_server_drained(void);

/* pn_request_fn: one request of a request/reply service; fills reply; -1 drops the client. */
typedef int (*pn_request_fn)(const pn_attrs *req, pn_attr_out *reply, void *ctx);
/* pn_server_serve_requests: a single server's serve hook for a request/reply service on a
 * kept connection: the hello with proto, then each request to handle, the retirement
 * checks between requests. */
void pn_server_serve_requests(int fd, const char *proto, pn_request_fn handle, void *ctx);
/* pn_server_multi_requests: the same for a multi server's serve hook: the hello (with the
 * generation), then each client's requests as they arrive; pn_server_multi_drop is the drop
 * hook that goes with it. */
void pn_server_multi_requests(int fd, const char *proto, long long generation, pn_request_fn handle,
                              void *ctx);
void pn_server_multi_drop(int fd, void *client);
/* pn_server_multi_client: in the request handler, the descriptor of the client that sent
 * the request (the key of what the daemon keeps per client). */
int pn_server_multi_client(void);
/* pn_server_multi_on_close: closed(fd) runs when a client's connection ends, whatever ended
 * it (the client went away, a malformed request, retirement). */
void pn_server_multi_on_close(void (*closed)(int fd));

#endif
