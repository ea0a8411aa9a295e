/* master_proto.h: what master and its children agree on: the descriptor numbers a child
 * inherits and the 12-byte status record it writes to master (doc/processes.md). */
#ifndef PN_IPC_MASTER_PROTO_H
#define PN_IPC_MASTER_PROTO_H
#include <stdint.h>

#define PN_MASTER_FLOW_READ_FD 3
#define PN_MASTER_FLOW_WRITE_FD 4
#define PN_MASTER_STATUS_FD 5
#define PN_MASTER_LISTEN_FD 6

#define PN_STATUS_TAKEN 0
#define PN_STATUS_AVAILABLE 1

typedef struct pn_status_record {
    int32_t pid;
    uint32_t generation;
    int32_t state;
} pn_status_record;

#endif
