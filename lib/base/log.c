/* log.c: formats one line per message and sends it to each destination (doc/logging.md). It
 * never allocates, so the fatal path can use it, and never recurses. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/event.h"

int pn_verbose;

static struct {
    char progname[64];
    char tag[128];
    int destinations;
    int stderr_level;
    void (*fatal_hook)(void);
    /* maillog_file */
    char file[1024];
    char socket[256];
    char host[64];
    int file_fd;    /* the writer's file; others: the fallback when the path cannot be opened */
    int postlog_fd; /* connected to postlogd's socket */
    int writer;
    int direct;
    time_t postlog_retry; /* no reconnect before this time */
    /* syslog */
    int facility;
    int syslog_fd;
    time_t syslog_retry;
} lg = {.progname = "postern",
        .tag = "postfix/postern",
        .destinations = PN_LOG_STDERR,
        .file_fd = -1,
        .postlog_fd = -1,
        .facility = LOG_MAIL,
        .syslog_fd = -1};

void pn_log_set_prefix(const char *prefix)
{
    snprintf(lg.progname, sizeof(lg.progname), "%s", prefix);
}

void pn_log_set_stderr_level(int level)
{
    lg.stderr_level = level;
}

void pn_log_init(const char *name, int dest)
{
    const char *base = strrchr(name, '/');
    snprintf(lg.progname, sizeof(lg.progname), "%s", base ? base + 1 : name);
    snprintf(lg.tag, sizeof(lg.tag), "postfix/%s", lg.progname);
    lg.destinations = dest;
}

void pn_log_set_tag(const char *syslog_name, const char *process_name)
{
    snprintf(lg.tag, sizeof(lg.tag), "%s/%s", syslog_name, process_name);
}

void pn_log_set_full_tag(const char *tag)
{
    snprintf(lg.tag, sizeof(lg.tag), "%s", tag);
}

void pn_log_set_destinations(int dest)
{
    lg.destinations = dest;
}

void pn_log_set_fatal_hook(void (*hook)(void))
{
    lg.fatal_hook = hook;
}

int pn_log_facility(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } names[] = {{"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
                 {"daemon", LOG_DAEMON}, {"kern", LOG_KERN},         {"lpr", LOG_LPR},
                 {"mail", LOG_MAIL},     {"news", LOG_NEWS},         {"syslog", LOG_SYSLOG},
                 {"user", LOG_USER},     {"uucp", LOG_UUCP},         {"local0", LOG_LOCAL0},
                 {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},     {"local3", LOG_LOCAL3},
                 {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},     {"local6", LOG_LOCAL6},
                 {"local7", LOG_LOCAL7}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i].name) == 0)
            return names[i].code;
    return -1;
}

static int connect_dgram(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        return -1;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* open_log_file: maillog_file for appending, never through a link an unprivileged user could
 * have planted; a /dev/ path (/dev/stdout, the way a container logs) is the system's own and
 * is followed. */
static int open_log_file(const char *path)
{
    int follow = strncmp(path, "/dev/", 5) == 0;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | (follow ? 0 : O_NOFOLLOW) | O_CLOEXEC, 0644);
}

void pn_log_set_target(const pn_log_target *t)
{
    const char *file = t->maillog_file ? t->maillog_file : "";
    close_fd(&lg.file_fd);
    close_fd(&lg.postlog_fd);
    close_fd(&lg.syslog_fd);
    snprintf(lg.file, sizeof(lg.file), "%s", file);
    snprintf(lg.socket, sizeof(lg.socket), "%s", t->postlog_socket ? t->postlog_socket : "");
    const char *host = t->hostname && *t->hostname ? t->hostname : NULL;
    struct utsname uts;
    if (host == NULL && uname(&uts) == 0)
        host = uts.nodename;
    snprintf(lg.host, sizeof(lg.host), "%.*s", (int)strcspn(host ? host : "localhost", "."),
             host ? host : "localhost");
    lg.facility = t->facility;
    lg.writer = t->writer;
    lg.direct = t->direct;
    lg.postlog_retry = lg.syslog_retry = 0;
    if (*lg.file) {
        /* opened now: a chrooted process cannot reach the path later */
        lg.file_fd = open_log_file(lg.file);
        if (!lg.writer && !lg.direct && *lg.socket)
            lg.postlog_fd = connect_dgram(lg.socket);
    } else {
        lg.syslog_fd = connect_dgram("/dev/log");
    }
}

int pn_log_file_fd(void)
{
    return lg.file_fd;
}

void pn_log_replace_file(int fd)
{
    close_fd(&lg.file_fd);
    lg.file_fd = fd;
}

void pn_log_stamp(long t, char out[16])
{
    static long cached = -1;
    static char text[16];
    if (t != cached) {
        struct tm tm;
        time_t now = (time_t)t;
        localtime_r(&now, &tm);
        strftime(text, sizeof(text), "%b %d %H:%M:%S", &tm);
        cached = t;
    }
    memcpy(out, text, sizeof(text));
}

/* utf8_length: the length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0; /* overlong */
    else if (s[0] == 0xed)
        hi = 0x9f; /* surrogates */
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

void pn_log_sanitize(char *text, size_t len)
{
    unsigned char *s = (unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            s[i++] = '?';
        } else if (s[i] < 0x80) {
            i++;
        } else {
            size_t n = utf8_length(s + i, len - i);
            if (n == 0)
                s[i++] = '?';
            else
                i += n;
        }
    }
}

size_t pn_log_file_line(char *out, size_t cap, const char *stamp, const char *host,
                        const char *dgram, size_t len)
{
    int head = snprintf(out, cap, "%s %s ", stamp, host);
    if (head < 0 || (size_t)head + 2 > cap)
        return 0;
    size_t room = cap - (size_t)head - 2;
    if (len > room)
        len = room;
    memcpy(out + head, dgram, len);
    pn_log_sanitize(out + head, len);
    out[head + len] = '\n';
    out[head + len + 1] = 0;
    return (size_t)head + len + 1;
}

/* append: the writer's own lines and every process's fallback. The path is opened for each
 * line, so a renamed file is followed; the descriptor opened before a chroot is the last
 * resort. */
static void append(const char *dgram, size_t len)
{
    char line[PN_LOG_DGRAM_MAX + 128];
    char stamp[16];
    pn_log_stamp((long)time(NULL), stamp);
    size_t n = pn_log_file_line(line, sizeof(line), stamp, lg.host, dgram, len);
    int fd = lg.writer ? -1 : open_log_file(lg.file);
    if (fd >= 0) {
        (void)!write(fd, line, n);
        close(fd);
    } else if (lg.file_fd >= 0) {
        (void)!write(lg.file_fd, line, n);
    } else if (!(lg.destinations & PN_LOG_STDERR)) {
        (void)!write(2, line, n); /* the last place left (a command's user may see it) */
    }
}

/* to_postlogd: 1 when postlogd's socket took the datagram. A full socket is waited for at
 * most a second (postlogd drains it). */
static int to_postlogd(const char *dgram, size_t len)
{
    time_t now = time(NULL);
    if (lg.direct)
        return 0;
    if (lg.postlog_fd < 0 && *lg.socket && now >= lg.postlog_retry) {
        lg.postlog_fd = connect_dgram(lg.socket);
        if (lg.postlog_fd < 0)
            lg.postlog_retry = now + 1;
    }
    if (lg.postlog_fd < 0)
        return 0;
    long long start = pn_event_now_ms();
    for (;;) {
        if (send(lg.postlog_fd, dgram, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            close_fd(&lg.postlog_fd); /* postlogd's socket is gone: reconnect next time */
            return 0;
        }
        /* postlogd's queue is full: wait for room, a second at most in all */
        long long spent = pn_event_now_ms() - start;
        struct pollfd pfd = {.fd = lg.postlog_fd, .events = POLLOUT};
        if (spent >= 1000 || poll(&pfd, 1, (int)(1000 - spent)) <= 0)
            return 0;
    }
}

static void to_syslog(int priority, const char *text)
{
    time_t now = time(NULL);
    if (lg.syslog_fd < 0 && now >= lg.syslog_retry) {
        lg.syslog_fd = connect_dgram("/dev/log");
        if (lg.syslog_fd < 0)
            lg.syslog_retry = now + 10;
    }
    if (lg.syslog_fd < 0)
        return;
    char record[PN_LOG_DGRAM_MAX + 128];
    char stamp[16];
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
    int n = snprintf(record, sizeof(record), "<%d>%s %s[%ld]: %s", lg.facility | priority, stamp,
                     lg.tag, (long)getpid(), text);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(record))
        n = sizeof(record) - 1;
    if (send(lg.syslog_fd, record, (size_t)n, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
        close_fd(&lg.syslog_fd);
}

static void emit_text(int priority, const char *level, const char *message)
{
    char text[PN_LOG_DGRAM_MAX];
    int n = snprintf(text, sizeof(text), "%s%s%s", level ? level : "", level ? ": " : "", message);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof(text) ? sizeof(text) - 1 : (size_t)n;
    pn_log_sanitize(text, len);
    if ((lg.destinations & PN_LOG_STDERR) && !(lg.stderr_level > 0 && priority > LOG_WARNING)) {
        fprintf(stderr, "%s: %.*s\n", lg.progname, (int)len, text);
        fflush(stderr);
    }
    if (!(lg.destinations & PN_LOG_SYSLOG))
        return;
    if (!*lg.file) {
        to_syslog(priority, text);
        return;
    }
    char dgram[PN_LOG_DGRAM_MAX];
    n = snprintf(dgram, sizeof(dgram), "%s[%ld]: %.*s", lg.tag, (long)getpid(), (int)len, text);
    size_t dlen = n < 0 ? 0 : (size_t)n >= sizeof(dgram) ? sizeof(dgram) - 1 : (size_t)n;
    if (lg.writer || !to_postlogd(dgram, dlen))
        append(dgram, dlen);
}

static void emit(int priority, const char *level, const char *fmt, va_list ap)
{
    char message[PN_LOG_DGRAM_MAX];
    vsnprintf(message, sizeof(message), fmt, ap);
    emit_text(priority, level, message);
}

void pn_log_text(int priority, const char *level, const char *text)
{
    emit_text(priority, level, text);
}

#define LOG_BODY(prio, level)                                                                      \
    va_list ap;                                                                                    \
    va_start(ap, fmt);                                                                             \
    emit(prio, level, fmt, ap);                                                                    \
    va_end(ap)

void pn_info(const char *fmt, ...)
{
    LOG_BODY(LOG_INFO, NULL);
}

void pn_warn(const char *fmt, ...)
{
    LOG_BODY(LOG_WARNING, "warning");
}

void pn_error(const char *fmt, ...)
{
    LOG_BODY(LOG_ERR, "error");
}

void pn_debug(const char *fmt, ...)
{
    if (pn_verbose) {
        LOG_BODY(LOG_DEBUG, NULL);
    }
}

void pn_fatal(const char *fmt, ...)
{
    static int dying;
    LOG_BODY(LOG_CRIT, "fatal");
    if (!dying++ && lg.fatal_hook)
        lg.fatal_hook();
    exit(1);
}

void pn_panic(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, "panic");
    abort();
}
