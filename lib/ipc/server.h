/* server.h: the daemon skeletons. A daemon's main() fills in a pn_server and makes one call;
 * the skeleton owns everything between exec and the first client: options, main.cf and -o,
 * logging, the pre-jail hook, chroot, dropping to mail_owner, the master status records,
 * max_use and max_idle, and the accept loop. */
#ifndef PN_IPC_SERVER_H
#define PN_IPC_SERVER_H
#include <stddef.h>

typedef struct pn_server {
    /* Called as root, before chroot: open what needs privileges (keys, tables, sockets). */
    void (*pre_jail)(void *ctx);
    /* Called after the privilege drop, before the first client. */
    void (*post_jail)(void *ctx);
    /* single: serve one client on fd, then return (the skeleton closes fd).
     * multi: a new client on fd; the daemon watches it with pn_event and calls
     * pn_server_disconnect() when done. */
    void (*serve)(int fd, void *ctx);
    /* trigger: the bytes of one trigger request. */
    void (*trigger)(const char *data, size_t len, void *ctx);
    /* Between clients: return 1 when the process should retire (e.g. a table changed). */
    int (*must_retire)(void *ctx);
    void *ctx;
    int max_use;       /* >= 0 replaces the max_use parameter; -1 keeps it */
    int max_idle;      /* >= 0 replaces max_idle (seconds); -1 keeps it */
    int process_limit; /* 1 or 0: the process limit the daemon insists on; -1: any */
    int needs_root;    /* the service must run with unpriv n */
    int argc;          /* the program's own arguments (after the options), for serve */
    char **argv;
} pn_server;

/* Each returns only when the process should exit, with its exit status. */
int pn_single_server_main(int argc, char **argv, pn_server *server);
int pn_multi_server_main(int argc, char **argv, pn_server *server);
int pn_trigger_server_main(int argc, char **argv, pn_server *server);
/* pn_server_disconnect: a multi server's client is gone (the daemon closes fd itself). */
void pn_server_disconnect(int fd);

#endif
