/* master.h: master's model of the service table: one pn_service per master.cf entry, with
 * its endpoints, its children and its spawn state. */
#ifndef PN_MASTER_H
#define PN_MASTER_H
#include <sys/types.h>

#include "base/argv.h"
#include "config/cfmaster.h"

typedef struct pn_child pn_child;
typedef struct pn_service pn_service;

struct pn_child {
    pn_child *next;
    pn_service *service;
    pid_t pid;
    unsigned generation;
    int available; /* counted in service->available */
    int served;    /* sent "taken" at least once */
    int signalled; /* master sent it SIGTERM: its death is no failure */
};

struct pn_service {
    pn_service *next;
    char *key;  /* identity across reloads: "name/type", inet names canonical */
    char *name; /* column 1 as written */
    char *type;
    char *endpoint; /* socket or fifo path, or the canonical inet address list */
    int line;
    int max_proc; /* 0 = unlimited */
    int wakeup;   /* seconds, 0 = none */
    int wakeup_conditional;
    int public_inet;
    pn_argv *argv;  /* argv[0] = program path */
    int stress_arg; /* index of the "stress=" -o value in argv, or -1 */
    int *listen_fds;
    int listen_count;
    int status_fd[2]; /* [0] master reads, [1] children write (their fd 5) */
    unsigned generation;
    int total;
    int available;
    int listening;
    int used; /* a child was started at least once (for "N?" wakeups) */
    long long throttle_until;
    long long stress_until;
    long long stress_warned;
    int removed; /* gone from master.cf; freed once its last child is reaped */
};

/* services.c */
/* services_load: read master.cf and merge it with the running table (NULL at start). At
 * start an error is fatal; at reload it is logged and the running table stays. */
int services_load(int initial);
void services_free(pn_service *svc);
void services_reap_removed(void);
extern pn_service *pn_services;

/* children.c */
void children_init(void);
void children_start_service(pn_service *svc);
void children_stop_service(pn_service *svc);
void children_new_generation(pn_service *svc);
void children_move(pn_service *from, pn_service *to);
void children_arm_timers(pn_service *svc);
void children_disarm_timers(pn_service *svc);
void children_update_listening(pn_service *svc);
void children_terminate_all(void);
int children_count(void);
extern int pn_master_debug;
extern int pn_master_privileged;
/* -s: stdout stays open and children inherit it (maillog_file = /dev/stdout, start-fg) */
extern int pn_master_keep_stdout;

#endif
