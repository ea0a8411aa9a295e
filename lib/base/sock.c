/* sock.c: creating and connecting endpoints. Listening sockets are close-on-exec; master
 * clears that flag only on the descriptors it hands to a child. IPv6 listeners are
 * IPV6_V6ONLY, so IPv4 clients always arrive as IPv4 addresses. */
#include "base/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/mem.h"
#include "base/strutil.h"

int pn_sock_nonblock(int fd, int on)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    return fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

static int unix_addr(const char *path, struct sockaddr_un *sun, pn_buf *err)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
        pn_buf_printf(err, "unix-domain name too long: %s", path);
        return -1;
    }
    memcpy(sun->sun_path, path, strlen(path) + 1);
    return 0;
}

int pn_sock_listen_unix(const char *path, int type, int backlog, pn_buf *err)
{
    struct sockaddr_un sun;
    if (unix_addr(path, &sun, err) < 0)
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        pn_buf_printf(err, "socket: %s", strerror(errno));
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0666) < 0 ||
        (type == SOCK_STREAM && listen(fd, backlog) < 0)) {
        pn_buf_printf(err, "bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    pn_sock_nonblock(fd, 1);
    return fd;
}

int pn_sock_listen_fifo(const char *path, pn_buf *err)
{
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode))
        unlink(path);
    if (mkfifo(path, 0622) < 0 && errno != EEXIST) {
        pn_buf_printf(err, "mkfifo %s: %s", path, strerror(errno));
        return -1;
    }
    /* Read-write, so that the fifo never reports end-of-file when writers come and go. */
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        pn_buf_printf(err, "open %s: %s", path, strerror(errno));
        return -1;
    }
    fchmod(fd, 0622);
    return fd;
}

int pn_sock_listen_addr(const pn_sockaddr *addr, int backlog, pn_buf *err)
{
    int family = addr->ss.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    pn_buf where = PN_BUF_INIT;
    pn_sockaddr_format(addr, &where);
    if (fd < 0) {
        pn_buf_printf(err, "socket %s: %s", where.data, strerror(errno));
        pn_buf_release(&where);
        return -1;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 || listen(fd, backlog) < 0) {
        pn_buf_printf(err, "bind %s: %s", where.data, strerror(errno));
        close(fd);
        fd = -1;
    } else {
        pn_sock_nonblock(fd, 1);
    }
    pn_buf_release(&where);
    return fd;
}

int pn_sock_connect_unix(const char *path, pn_buf *err)
{
    struct sockaddr_un sun;
    if (unix_addr(path, &sun, err) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        pn_buf_printf(err, "connect to %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int pn_sock_connect_inet(const char *host, const char *port, int timeout_ms, pn_buf *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        pn_buf_printf(err, "connect to %s:%s: %s", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        int ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
        if (!ok && errno == EINPROGRESS) { /* within the timeout */
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int err_code = 0;
            socklen_t len = sizeof(err_code);
            if (poll(&pfd, 1, timeout_ms) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err_code, &len) == 0)
                errno = err_code;
            else
                errno = ETIMEDOUT;
            ok = errno == 0;
        }
        if (!ok) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        pn_buf_printf(err, "connect to %s:%s: %s", host, port, strerror(saved));
        return -1;
    }
    pn_sock_nonblock(fd, 0);
    return fd;
}

void pn_sockaddr_address(const pn_sockaddr *addr, pn_buf *out)
{
    char text[INET6_ADDRSTRLEN] = "";
    if (addr->ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&addr->ss)->sin_addr, text, sizeof(text));
    else if (addr->ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&addr->ss)->sin6_addr, text,
                  sizeof(text));
    pn_buf_puts(out, text);
}

void pn_sockaddr_format(const pn_sockaddr *addr, pn_buf *out)
{
    char text[INET6_ADDRSTRLEN];
    if (addr->ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&addr->ss;
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
        pn_buf_printf(out, "%s:%d", text, ntohs(sin->sin_port));
    } else if (addr->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&addr->ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
        pn_buf_printf(out, "[%s]:%d", text, ntohs(sin6->sin6_port));
    } else {
        pn_buf_puts(out, "(unknown address family)");
    }
}

int pn_inet_port(const char *name, const char *known_ports)
{
    long port;
    if (pn_parse_long(name, &port) == 0)
        return port > 0 && port < 65536 ? (int)port : -1;
    /* known_tcp_ports: "name=name2=port, ..." */
    pn_argv *items = pn_argv_split(known_ports ? known_ports : "", ",");
    int found = -1;
    for (size_t i = 0; i < items->len && found < 0; i++) {
        pn_argv *names = pn_argv_split(items->items[i], "= \t");
        if (names->len >= 2 && pn_parse_long(names->items[names->len - 1], &port) == 0)
            for (size_t j = 0; j + 1 < names->len; j++)
                if (strcmp(names->items[j], name) == 0)
                    found = (int)port;
        pn_argv_free(names);
    }
    pn_argv_free(items);
    if (found < 0) {
        struct servent *se = getservbyname(name, "tcp");
        if (se)
            found = ntohs((unsigned short)se->s_port);
    }
    return found;
}

static void add_addr(pn_addrlist *list, const struct sockaddr *sa, socklen_t len, int port)
{
    list->addrs = pn_reallocarray(list->addrs, (size_t)list->count + 1, sizeof(pn_sockaddr));
    pn_sockaddr *a = &list->addrs[list->count++];
    memset(a, 0, sizeof(*a));
    memcpy(&a->ss, sa, len);
    a->len = len;
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((unsigned short)port);
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((unsigned short)port);
}

static int family_allowed(int family, const char *protocols)
{
    if (protocols == NULL || *protocols == 0 || strstr(protocols, "all"))
        return 1;
    if (family == AF_INET)
        return strstr(protocols, "ipv4") != NULL;
    return strstr(protocols, "ipv6") != NULL;
}

static int resolve_host(const char *host, int port, const char *protocols, pn_addrlist *out,
                        pn_buf *err)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        pn_buf_printf(err, "host/service %s not found: %s", host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            family_allowed(ai->ai_family, protocols))
            add_addr(out, ai->ai_addr, ai->ai_addrlen, port);
    freeaddrinfo(res);
    return 0;
}

int pn_inet_service_resolve(const char *service, const char *interfaces, const char *protocols,
                            const char *known_ports, pn_addrlist *out, pn_buf *err)
{
    memset(out, 0, sizeof(*out));
    char *copy = pn_strdup(service);
    char *host = NULL, *port_name = copy;
    if (copy[0] == '[') {
        char *close = strchr(copy, ']');
        if (close == NULL || close[1] != ':') {
            pn_buf_printf(err, "bad inet service name: \"%s\"", service);
            free(copy);
            return -1;
        }
        *close = 0;
        host = copy + 1;
        port_name = close + 2;
    } else {
        char *colon = strrchr(copy, ':');
        if (colon) {
            *colon = 0;
            host = copy;
            port_name = colon + 1;
        }
    }
    int rc = 0;
    int port = pn_inet_port(port_name, known_ports);
    if (port < 0) {
        pn_buf_printf(err, "unknown service: %s/tcp", port_name);
        rc = -1;
    } else if (host && *host) {
        rc = resolve_host(host, port, NULL, out, err);
    } else if (interfaces == NULL || strcmp(interfaces, "all") == 0 || *interfaces == 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
        if (family_allowed(AF_INET, protocols))
            add_addr(out, (struct sockaddr *)&sin, sizeof(sin), port);
        if (family_allowed(AF_INET6, protocols))
            add_addr(out, (struct sockaddr *)&sin6, sizeof(sin6), port);
    } else {
        const char *list = strcmp(interfaces, "loopback-only") == 0 ? "127.0.0.1, ::1" : interfaces;
        pn_argv *names = pn_argv_split(list, PN_SEPARATORS);
        for (size_t i = 0; rc == 0 && i < names->len; i++) {
            char *name = names->items[i];
            size_t len = strlen(name);
            if (len > 2 && name[0] == '[' && name[len - 1] == ']') {
                name[len - 1] = 0;
                name++;
            }
            rc = resolve_host(name, port, protocols, out, err);
        }
        pn_argv_free(names);
    }
    free(copy);
    if (rc == 0 && out->count == 0) {
        pn_buf_printf(err, "no address to listen on for service \"%s\"", service);
        rc = -1;
    }
    if (rc < 0)
        pn_addrlist_free(out);
    return rc;
}

void pn_addrlist_free(pn_addrlist *list)
{
    free(list->addrs);
    list->addrs = NULL;
    list->count = 0;
}

int pn_sock_send_fd(int sock, const void *data, size_t len, int fd)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec iov = {(void *)data, len};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    memset(&control, 0, sizeof(control));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        msg.msg_control = control.space;
        msg.msg_controllen = sizeof(control.space);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if ((size_t)n == len)
            return 0;
        /* the descriptor went with the first bytes; the rest follows plainly */
        const char *rest = (const char *)data + n;
        size_t left = len - (size_t)n;
        while (left > 0) {
            ssize_t m = send(sock, rest, left, MSG_NOSIGNAL);
            if (m < 0 && errno == EINTR)
                continue;
            if (m < 0)
                return -1;
            rest += m;
            left -= (size_t)m;
        }
        return 0;
    }
}

ssize_t pn_sock_recv_fd(int sock, void *data, size_t len, int *fd)
{
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * 4)];
    } control;
    struct iovec iov = {data, len};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof(control.space);
    *fd = -1;
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int got;
                memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (*fd < 0)
                    *fd = got;
                else
                    close(got); /* only one was expected */
            }
        }
    }
    return n;
}

void pn_sock_send_timeout(int sock, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}
