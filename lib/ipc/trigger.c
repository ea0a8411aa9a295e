/* trigger.c: sends a trigger. The endpoint kind is found with stat: a fifo is written, a
 * socket is connected to without blocking (a full backlog means "not now"). */
#include "ipc/trigger.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int pn_trigger_send(const char *path, const char *data, size_t len)
{
    struct stat st;
    int fd = -1;
    if (stat(path, &st) < 0)
        return -1;
    if (S_ISFIFO(st.st_mode)) {
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    } else {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sun.sun_path))
            return -1;
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, data, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}
