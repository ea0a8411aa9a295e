/* trigger.h: one-byte (or few-byte) wake-up requests to a trigger service over a UNIX
 * socket or a fifo, without ever blocking the sender. */
#ifndef PN_IPC_TRIGGER_H
#define PN_IPC_TRIGGER_H
#include <stddef.h>

/* pn_trigger_send: 0, or -1 when the service cannot be reached right now. */
int pn_trigger_send(const char *path, const char *data, size_t len);

#endif
