/* main.c: postcat, a queue file shown as text: the envelope (arrival, attributes, sender,
 * recipients with their state), the message, and the section labels the reference prints.
 * "postcat -q ID" finds the file in the queues; otherwise the arguments are file names.
 * Started as root it becomes mail_owner before it opens a queue file (doc/queue.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/privs.h"
#include "config/cfparams.h"
#include "mail/qfile.h"
#include "mail/qpath.h"

#define SHOW_ENVELOPE 1
#define SHOW_HEADER 2
#define SHOW_BODY 4

static void print_time(const char *label, time_t when)
{
    char text[64];
    struct tm tm;
    localtime_r(&when, &tm);
    strftime(text, sizeof(text), "%a %b %e %H:%M:%S %Y", &tm);
    printf("%s: %s\n", label, text);
}

static void show_envelope(const pn_qfile *q)
{
    printf("message_size: %16llu %15llu %15u\n", (unsigned long long)q->content_len,
           (unsigned long long)q->content_off, q->rcpt_total);
    print_time("message_arrival_time", q->arrival.tv_sec);
    size_t pos = 0, len, at = 0;
    int type;
    const char *payload;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next(q, &pos, &type, &payload, &len)) {
        switch (type) {
        case 'A': printf("named_attribute: %.*s\n", (int)len, payload); break;
        case 'S': printf("sender: %.*s\n", (int)len, payload); break;
        case 'R':
            if (pn_qfile_rcpt_parse(payload, len, at, &r) < 0)
                break;
            if (r.orcpt.len)
                printf("dsn_orig_rcpt: %s\n", r.orcpt.data);
            if (r.orig.len)
                printf("original_recipient: %s\n", r.orig.data);
            printf("%s: %s\n", r.status == PN_RCPT_TODO ? "recipient" : "done_recipient",
                   pn_buf_str(&r.addr));
            break;
        default: break;
        }
        at = pos;
    }
    pn_qrcpt_release(&r);
    if (q->warn_time > 0)
        print_time("warning_message_time", (time_t)q->warn_time);
}

/* show_content: the header (up to the first empty line) and/or the body, as selected. */
static void show_content(const pn_buf *content, int what)
{
    const char *data = content->data ? content->data : "";
    size_t split = content->len;
    if (content->len > 0 && data[0] == '\n') {
        split = 0;
    } else {
        const char *blank = memmem(data, content->len, "\n\n", 2);
        if (blank)
            split = (size_t)(blank - data) + 1;
    }
    if (what & SHOW_HEADER)
        fwrite(data, 1, split, stdout);
    if (what & SHOW_BODY)
        fwrite(data + split, 1, content->len - split, stdout);
}

/* show: one queue file; 0, or -1 after a message naming it. */
static int show(const char *path, int what)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        pn_warn("open %s: %s", path, strerror(errno));
        return -1;
    }
    pn_qfile q;
    pn_buf why = PN_BUF_INIT, content = PN_BUF_INIT;
    memset(&q, 0, sizeof(q));
    int rc = -1;
    if (pn_qfile_open(&q, fd, &why) < 0) {
        pn_warn("%s: %s", path, why.data);
        goto out;
    }
    if (what & SHOW_ENVELOPE) {
        printf("*** ENVELOPE RECORDS %s ***\n", path);
        show_envelope(&q);
    }
    if (what & (SHOW_HEADER | SHOW_BODY)) {
        if (pn_qfile_read_content(&q, &content, &why) < 0) {
            fflush(stdout);
            pn_warn("%s: %s", path, why.data);
            goto out;
        }
        printf("*** MESSAGE CONTENTS %s ***\n", path);
        show_content(&content, what);
    }
    if (what & SHOW_ENVELOPE)
        printf("*** HEADER EXTRACTED %s ***\n", path);
    printf("*** MESSAGE FILE END %s ***\n", path);
    rc = 0;
out:
    fflush(stdout);
    pn_qfile_release(&q);
    close(fd);
    pn_buf_release(&why);
    pn_buf_release(&content);
    return rc;
}

/* find: the queue file of id, as a path relative to the queue directory. */
static int find(const char *id, pn_buf *path)
{
    static const char *const queues[] = {"incoming", "active",   "deferred",
                                         "hold",     "maildrop", NULL};
    if (!pn_qid_valid(id))
        return 0;
    for (int i = 0; queues[i]; i++) {
        pn_queue_path(queues[i], id, path);
        if (access(path->data, F_OK) == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int ch, by_id = 0, what = 0, failed = 0;
    pn_log_init("postcat", PN_LOG_STDERR);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "bc:dehoqrs:v")) != -1) {
        switch (ch) {
        case 'b': what |= SHOW_BODY; break;
        case 'c': pn_config_set_directory(optarg); break;
        case 'e': what |= SHOW_ENVELOPE; break;
        case 'h': what |= SHOW_HEADER; break;
        case 'q': by_id = 1; break;
        case 'v': pn_verbose++; break;
        case 'd':
        case 'o':
        case 'r':
        case 's': break; /* record-level views of the reference */
        default: pn_fatal("usage: postcat [-behqv] [-c config_dir] [files or queue IDs...]");
        }
    }
    if (what == 0)
        what = SHOW_ENVELOPE | SHOW_HEADER | SHOW_BODY;
    if (optind == argc)
        pn_fatal("usage: postcat [-behqv] [-c config_dir] [files or queue IDs...]");
    pn_config_load();
    if (by_id) {
        const char *queue_dir = pn_config_get(PN_P(queue_directory));
        if (chdir(queue_dir) < 0)
            pn_fatal("chdir %s: %s", queue_dir, strerror(errno));
    }
    if (geteuid() == 0) {
        uid_t uid;
        gid_t gid;
        pn_privs_lookup(pn_config_get(PN_P(mail_owner)), &uid, &gid);
        pn_privs_drop(uid, gid);
    }
    pn_buf path = PN_BUF_INIT;
    for (int i = optind; i < argc; i++) {
        if (!by_id) {
            failed |= show(argv[i], what) < 0;
        } else if (find(argv[i], &path)) {
            failed |= show(path.data, what) < 0;
        } else {
            pn_warn("open queue file %s: No such file or directory", argv[i]);
            failed = 1;
        }
    }
    pn_buf_release(&path);
    return failed ? 1 : 0;
}
