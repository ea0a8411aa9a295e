/* log.c: formats one line per message and sends it to each destination. It must never
 * allocate on the fatal path's way out beyond the line itself, and never recurse. */
#include "base/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

int pn_verbose;

static char progname[64] = "postern";
static char tag[128] = "postfix/postern";
static int destinations = PN_LOG_STDERR;
static int syslog_open;
static int file_fd = -1;
static void (*fatal_hook)(void);
static int stderr_level;

void pn_log_set_prefix(const char *prefix)
{
    snprintf(progname, sizeof(progname), "%s", prefix);
}

void pn_log_set_stderr_level(int level)
{
    stderr_level = level;
}

void pn_log_init(const char *name, int dest)
{
    const char *base = strrchr(name, '/');
    snprintf(progname, sizeof(progname), "%s", base ? base + 1 : name);
    snprintf(tag, sizeof(tag), "postfix/%s", progname);
    destinations = dest;
}

void pn_log_set_tag(const char *syslog_name, const char *process_name)
{
    snprintf(tag, sizeof(tag), "%s/%s", syslog_name, process_name);
    if (syslog_open) {
        closelog();
        syslog_open = 0;
    }
}

void pn_log_set_file(const char *path)
{
    if (file_fd >= 0)
        close(file_fd);
    file_fd = -1;
    if (path && *path)
        file_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void pn_log_set_destinations(int dest)
{
    destinations = dest;
}

void pn_log_set_fatal_hook(void (*hook)(void))
{
    fatal_hook = hook;
}

static void emit(int priority, const char *level, const char *fmt, va_list ap)
{
    char text[4096];
    vsnprintf(text, sizeof(text), fmt, ap);
    if ((destinations & PN_LOG_STDERR) && !(stderr_level > 0 && priority > LOG_WARNING)) {
        if (level)
            fprintf(stderr, "%s: %s: %s\n", progname, level, text);
        else
            fprintf(stderr, "%s: %s\n", progname, text);
        fflush(stderr);
    }
    if (destinations & PN_LOG_SYSLOG) {
        if (!syslog_open) {
            openlog(tag, LOG_PID | LOG_NDELAY, LOG_MAIL);
            syslog_open = 1;
        }
        if (level)
            syslog(priority, "%s: %s", level, text);
        else
            syslog(priority, "%s", text);
    }
    if (file_fd >= 0) {
        char line[4400];
        char stamp[64];
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
        int n = snprintf(line, sizeof(line), "%s.%06ld %s[%ld]: %s%s%s\n", stamp, (long)tv.tv_usec,
                         tag, (long)getpid(), level ? level : "", level ? ": " : "", text);
        if (n > 0)
            (void)!write(file_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
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
    if (!dying++ && fatal_hook)
        fatal_hook();
    exit(1);
}

void pn_panic(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, "panic");
    abort();
}
