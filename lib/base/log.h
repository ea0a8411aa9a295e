/* log.h: the one logger (doc/logging.md). A line goes to stderr when asked (commands always,
 * daemons with -V), and to one of two places main.cf chooses: with maillog_file set, to
 * postlogd as a datagram (the file's one writer), falling back to a direct append when
 * postlogd cannot take it; otherwise to syslog on a connected /dev/log socket. Control
 * characters in a line are replaced with '?' before it leaves the process. */
#ifndef PN_BASE_LOG_H
#define PN_BASE_LOG_H
#include <stddef.h>

#define PN_LOG_STDERR 1
#define PN_LOG_SYSLOG 2 /* the maillog_file or syslog destination, whichever is configured */

/* The most a datagram to postlogd carries ("tag[pid]: text"). */
#define PN_LOG_DGRAM_MAX 2048

extern int pn_verbose; /* -v count */

/* pn_log_init: progname is what stderr lines start with ("postconf: fatal: ..."). */
void pn_log_init(const char *progname, int destinations);
/* pn_log_set_tag: the syslog tag; "postfix" and "postconf" give "postfix/postconf". */
void pn_log_set_tag(const char *syslog_name, const char *process_name);
/* pn_log_set_full_tag: the whole tag, as postlog -t gives it. */
void pn_log_set_full_tag(const char *tag);
/* pn_log_set_prefix: what stderr lines start with, when it is not the program name. */
void pn_log_set_prefix(const char *prefix);
/* pn_log_set_stderr_level: 0 = every message on stderr (when enabled), 1 = warnings and
 * worse only. */
void pn_log_set_stderr_level(int level);
void pn_log_set_destinations(int destinations);
/* pn_log_set_fatal_hook: called once before a fatal exit (e.g. to remove a temporary file). */
void pn_log_set_fatal_hook(void (*hook)(void));

typedef struct pn_log_target {
    const char *maillog_file;   /* "" or NULL: syslog */
    const char *postlog_socket; /* postlogd's datagram socket (absolute path) */
    const char *hostname;       /* myhostname: its first label is the line's host field */
    int facility;               /* syslog facility (LOG_MAIL, ...) */
    int writer;                 /* this process is postlogd: append to the file itself */
    int direct;                 /* append by path, never through postlogd (master: it starts
                                   and stops postlogd, whose socket dies with it) */
} pn_log_target;

/* pn_log_set_target: where lines go from now on; called again on reload. Opens what a
 * chroot would hide (the socket, the file for the fallback), so it comes before the jail. */
void pn_log_set_target(const pn_log_target *target);
/* pn_log_file_fd: the writer's maillog_file descriptor (-1 when none). pn_log_replace_file:
 * the writer appends to fd from now on (logrotate's new file); the old one is closed. */
int pn_log_file_fd(void);
void pn_log_replace_file(int fd);

/* pn_log_facility: LOG_MAIL etc. for a syslog_facility name; -1 when unknown. */
int pn_log_facility(const char *name);
/* pn_log_stamp: "Mmm dd HH:MM:SS" for t (local time), as maillog_file lines start. */
void pn_log_stamp(long t, char out[16]);
/* pn_log_sanitize: replace control characters and bytes that are not UTF-8 with '?'. */
void pn_log_sanitize(char *text, size_t len);
/* pn_log_file_line: the maillog_file line for a datagram "tag[pid]: text" (sanitized
 * here), with its newline; returns its length (at most cap - 1, NUL terminated). */
size_t pn_log_file_line(char *out, size_t cap, const char *stamp, const char *host,
                        const char *dgram, size_t len);

void pn_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pn_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void pn_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* pn_log_text: one message at a syslog priority (LOG_INFO...) with a level word ("warning",
 * NULL for none), for the postlog command. */
void pn_log_text(int priority, const char *level, const char *text);

#endif
