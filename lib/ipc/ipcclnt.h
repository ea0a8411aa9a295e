/* ipcclnt.h: a client of one internal service (private/NAME or public/NAME): it connects
 * when needed, checks the server's hello (protocol name and version), sends ATTR/1 requests
 * and reads replies on a kept connection, reconnecting after ipc_idle or ipc_ttl, or once
 * when a request provably never reached a server that closed the connection. */
#ifndef PN_IPC_IPCCLNT_H
#define PN_IPC_IPCCLNT_H
#include "base/buf.h"
#include "ipc/attr.h"

typedef struct pn_ipc_client pn_ipc_client;

/* pn_ipc_client_new: path is the endpoint ("private/rewrite", relative to the queue
 * directory where daemons run, or absolute); proto the name the server must announce. */
pn_ipc_client *pn_ipc_client_new(const char *path, const char *proto);
void pn_ipc_client_free(pn_ipc_client *client);
/* pn_ipc_call: send request, wait for the reply (at most ipc_timeout); 0 with the reply in
 * reply (its bytes in storage), -1 with why. */
int pn_ipc_call(pn_ipc_client *client, pn_attr_out *request, pn_buf *storage, pn_attrs *reply,
                pn_buf *why);
/* pn_ipc_generation: the "gen" the server announced in its hello (0 when none). */
long long pn_ipc_generation(const pn_ipc_client *client);
/* pn_ipc_connects: how many connections were made so far (a cache of the server's answers
 * starts anew when this changes: the server may be a new process). */
unsigned long pn_ipc_connects(const pn_ipc_client *client);

/* For protocols that stream more than one frame per request (cleanup's submission): */
/* pn_ipc_client_stream: the connection the next request goes out on (kept, or new and
 * greeted); NULL with why. */
pn_stream *pn_ipc_client_stream(pn_ipc_client *client, pn_buf *why);
/* pn_ipc_client_current: the connection in use, NULL when there is none. */
pn_stream *pn_ipc_client_current(pn_ipc_client *client);
void pn_ipc_client_disconnect(pn_ipc_client *client);

/* Server side: the hello frame every connection starts with. */
int pn_ipc_send_hello(pn_stream *stream, const char *proto, long long generation);

#endif
