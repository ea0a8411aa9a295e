/* sock.h: listening and connecting endpoints: inet ([host:]port, [v6]:port), UNIX stream and
 * datagram sockets, fifos; and the resolution of inet service names against
 * inet_interfaces, inet_protocols and known_tcp_ports. */
#ifndef PN_BASE_SOCK_H
#define PN_BASE_SOCK_H
#include <sys/socket.h>

#include "base/buf.h"

typedef struct pn_sockaddr {
    struct sockaddr_storage ss;
    socklen_t len;
} pn_sockaddr;

typedef struct pn_addrlist {
    pn_sockaddr *addrs;
    int count;
} pn_addrlist;

int pn_sock_nonblock(int fd, int on);
/* pn_sock_listen_unix: remove a stale socket, bind, chmod 0666 (the directory controls
 * access), listen (stream). type is SOCK_STREAM or SOCK_DGRAM. */
int pn_sock_listen_unix(const char *path, int type, int backlog, pn_buf *err);
/* pn_sock_listen_fifo: create (mode 0622) and open a fifo for reading without blocking. */
int pn_sock_listen_fifo(const char *path, pn_buf *err);
int pn_sock_listen_addr(const pn_sockaddr *addr, int backlog, pn_buf *err);
int pn_sock_connect_unix(const char *path, pn_buf *err);
/* pn_sock_connect_inet: a TCP connection to host (name or address) and port, each address in
 * turn, each within timeout_ms; a blocking descriptor, or -1 with err. */
int pn_sock_connect_inet(const char *host, const char *port, int timeout_ms, pn_buf *err);
/* pn_sock_send_timeout: writes to sock fail (EAGAIN) after timeout_ms without progress. */
void pn_sock_send_timeout(int sock, int timeout_ms);

/* pn_inet_service_resolve: the addresses an inet master.cf service listens on.
 * service: "port", "host:port", "[ipv6]:port"; symbolic ports via known_ports
 * ("smtp=25, smtps=submissions=465") and then /etc/services. */
int pn_inet_service_resolve(const char *service, const char *interfaces, const char *protocols,
                            const char *known_ports, pn_addrlist *out, pn_buf *err);
/* pn_inet_port: a symbolic or numeric port; -1 when unknown. */
int pn_inet_port(const char *name, const char *known_ports);
void pn_addrlist_free(pn_addrlist *list);
/* pn_sock_send_fd: data with a descriptor attached (SCM_RIGHTS); 0 or -1. */
int pn_sock_send_fd(int sock, const void *data, size_t len, int fd);
/* pn_sock_recv_fd: up to len bytes and, when one came with them, a descriptor in *fd (else
 * -1). Returns the byte count, 0 at end, -1 on error. */
ssize_t pn_sock_recv_fd(int sock, void *data, size_t len, int *fd);
/* pn_sockaddr_format: "1.2.3.4:25" or "[::1]:25". */
void pn_sockaddr_format(const pn_sockaddr *addr, pn_buf *out);
/* pn_sockaddr_address: the address alone ("192.0.2.1", "2001:db8::1"), appended to out. */
void pn_sockaddr_address(const pn_sockaddr *addr, pn_buf *out);

#endif
