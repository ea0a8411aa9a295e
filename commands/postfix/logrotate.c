/* logrotate.c: postfix logrotate (doc/logging.md). maillog_file is renamed with the
 * strftime suffix maillog_file_rotate_suffix, a new file is opened here (as root, as postlogd
 * first opened it) and handed to postlogd with SCM_RIGHTS, together with a pipe that
 * postlogd closes once every line before the request is in the old file. Only then is the
 * old file compressed with maillog_file_compressor: no line is lost in between. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "config/cfparams.h"
#include "postfix.h"

#define HANDOVER_LIMIT_MS 10000

/* hand_over: 0 when postlogd took fd and finished the old file; -1 when no postlogd
 * listens (nothing to wait for); fatal when it does not answer in time. */
static int hand_over(int fd)
{
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/public/%s", pn_config_get(PN_P(queue_directory)),
                  pn_config_get(PN_P(postlog_service_name)));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (path.len >= sizeof(sun.sun_path))
        pn_fatal("%s: path too long", path.data);
    memcpy(sun.sun_path, path.data, path.len + 1);
    int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        if (sock >= 0)
            close(sock);
        pn_buf_release(&path);
        return -1;
    }
    int done[2];
    if (pipe2(done, O_CLOEXEC) < 0)
        pn_fatal("pipe: %s", strerror(errno));
    char request[] = "\0reopen";
    struct iovec iov = {.iov_base = request, .iov_len = 7};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = {fd, done[1]};
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    struct pollfd out = {.fd = sock, .events = POLLOUT};
    ssize_t sent;
    while ((sent = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 &&
           (errno == EAGAIN || errno == EINTR) && poll(&out, 1, HANDOVER_LIMIT_MS) > 0)
        ;
    close(done[1]);
    close(sock);
    if (sent < 0) {
        close(done[0]);
        pn_buf_release(&path);
        return -1;
    }
    /* postlogd closes its copy of the pipe after the switch: end of file here */
    struct pollfd in = {.fd = done[0], .events = POLLIN};
    int ready = poll(&in, 1, HANDOVER_LIMIT_MS);
    char byte;
    if (ready <= 0 || read(done[0], &byte, 1) != 0)
        pn_fatal("could not rotate file \"%s\": postlogd did not take the new file through %s",
                 pn_config_get(PN_P(maillog_file)), path.data);
    close(done[0]);
    pn_buf_release(&path);
    return 0;
}

static void compress(const char *command, const char *file)
{
    pid_t pid = fork();
    if (pid < 0)
        pn_fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        execlp(command, command, file, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        pn_fatal("could not rotate file \"%s\": %s %s failed", pn_config_get(PN_P(maillog_file)),
                 command, file);
}

/* rotated_exists: path, or path with the compressor's extension, is there already (two
 * rotations within the suffix's resolution). */
static int rotated_exists(const char *path)
{
    if (access(path, F_OK) == 0)
        return 1;
    const char *slash = strrchr(path, '/');
    pn_buf dir = PN_BUF_INIT;
    pn_buf_append(&dir, path, slash ? (size_t)(slash - path) + (slash == path) : 1);
    if (!slash)
        pn_buf_set(&dir, ".");
    const char *base = slash ? slash + 1 : path;
    size_t len = strlen(base);
    int found = 0;
    DIR *d = opendir(dir.data);
    for (struct dirent *e; d && !found && (e = readdir(d)) != NULL;)
        found = strncmp(e->d_name, base, len) == 0 && e->d_name[len] == '.';
    if (d)
        closedir(d);
    pn_buf_release(&dir);
    return found;
}

void logrotate(void)
{
    static const char *const needed[] = {PN_P(maillog_file), PN_P(maillog_file_compressor),
                                         PN_P(maillog_file_rotate_suffix)};
    for (size_t i = 0; i < 3; i++)
        if (*pn_config_get(needed[i]) == 0)
            pn_fatal("empty '%s' parameter value - logfile rotation failed", needed[i]);
    const char *file = pn_config_get(PN_P(maillog_file));
    if (strncmp(file, "/dev/", 5) == 0)
        pn_fatal("not rotating '%s'", file);
    char suffix[256];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    if (strftime(suffix, sizeof(suffix), pn_config_get(PN_P(maillog_file_rotate_suffix)), &tm) == 0)
        pn_fatal("bad maillog_file_rotate_suffix: \"%s\"",
                 pn_config_get(PN_P(maillog_file_rotate_suffix)));
    pn_buf rotated = PN_BUF_INIT;
    pn_buf_printf(&rotated, "%s.%s", file, suffix);
    if (rotated_exists(rotated.data))
        pn_fatal("could not rotate file \"%s\": %s (or a compressed copy) already exists", file,
                 rotated.data);
    if (rename(file, rotated.data) < 0)
        pn_fatal("could not rotate file \"%s\": rename to %s: %s", file, rotated.data,
                 strerror(errno));
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        pn_fatal("could not rotate file \"%s\": %s", file, strerror(errno));
    (void)hand_over(fd);
    close(fd);
    compress(pn_config_get(PN_P(maillog_file_compressor)), rotated.data);
    pn_buf_release(&rotated);
}
