/* main.c: qshape, the queue's shape: per recipient (or -s sender) domain, how many messages
 * are how old, in geometric (or -l linear) age buckets, with the reference's table layout.
 * It reads queue files directly (as root it first becomes mail_owner) and never writes one.
 * Usage: qshape [-s] [-p] [-l] [-b buckets] [-t minutes] [-w width] [queue...]. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/htable.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/privs.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/qfile.h"
#include "mail/qpath.h"

#define MAX_BUCKETS 64

static struct {
    int senders, parents, linear, buckets;
    long first;
    pn_htable *rows; /* domain -> long[MAX_BUCKETS + 1] (total first) */
    long total[MAX_BUCKETS + 1];
} shape;

static int bucket_of(long minutes)
{
    long limit = shape.first;
    for (int b = 0; b < shape.buckets - 1; b++) {
        if (minutes < limit)
            return b;
        limit = shape.linear ? limit + shape.first : limit * 2;
    }
    return shape.buckets - 1;
}

static void count(const char *domain, int bucket)
{
    char *lower = pn_strdup(*domain ? domain : "MAILER-DAEMON");
    for (char *cp = lower; *cp; cp++)
        *cp = (char)tolower((unsigned char)*cp);
    long *row = pn_htable_get(shape.rows, lower);
    if (row == NULL) {
        row = pn_calloc(MAX_BUCKETS + 1, sizeof(long));
        pn_htable_put(shape.rows, lower, row);
    }
    row[0]++;
    row[bucket + 1]++;
    free(lower);
}

static void tally(const char *domain, int bucket)
{
    count(domain, bucket);
    if (shape.parents)
        for (const char *dot = strchr(domain, '.'); dot && strchr(dot + 1, '.');
             dot = strchr(dot + 1, '.'))
            count(dot, bucket);
}

static void file(const char *path, time_t now)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    pn_qfile q;
    pn_buf why = PN_BUF_INIT, domain = PN_BUF_INIT, sender = PN_BUF_INIT;
    memset(&q, 0, sizeof(q));
    if (fd < 0 || pn_qfile_open(&q, fd, &why) < 0)
        goto out;
    int bucket = bucket_of((long)(now - q.arrival.tv_sec) / 60);
    shape.total[0]++;
    shape.total[bucket + 1]++;
    if (shape.senders) {
        pn_qfile_sender(&q, &sender);
        pn_addr_domain(sender.data, &domain);
        tally(domain.data, bucket);
        goto out;
    }
    size_t pos = 0;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next_rcpt(&q, &pos, 1, &r)) {
        pn_addr_domain(r.addr.data, &domain);
        tally(domain.data, bucket);
    }
    pn_qrcpt_release(&r);
out:
    pn_qfile_release(&q);
    if (fd >= 0)
        close(fd);
    pn_buf_release(&why);
    pn_buf_release(&domain);
    pn_buf_release(&sender);
}

/* one_file: pn_queue_walk's visit of one queue file. */
static int one_file(const char *path, const char *id, void *now)
{
    (void)id;
    file(path, *(time_t *)now);
    return 0;
}

static void walk(const char *dir, time_t now)
{
    pn_queue_walk(dir, one_file, &now);
}

static const char **sorted_domains(void)
{
    const char **keys = pn_htable_keys(shape.rows);
    size_t n = 0;
    while (keys[n])
        n++;
    /* most messages first; names break ties */
    for (size_t i = 1; i < n; i++) {
        const char *k = keys[i];
        long t = ((long *)pn_htable_get(shape.rows, k))[0];
        size_t j = i;
        while (j > 0 && ((long *)pn_htable_get(shape.rows, keys[j - 1]))[0] < t) {
            keys[j] = keys[j - 1];
            j--;
        }
        keys[j] = k;
    }
    return keys;
}

int main(int argc, char **argv)
{
    int ch;
    shape.buckets = 10;
    shape.first = 5;
    pn_log_init("qshape", PN_LOG_STDERR);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "b:c:lpst:w:")) != -1) {
        switch (ch) {
        case 'b': shape.buckets = atoi(optarg); break;
        case 'c': pn_config_set_directory(optarg); break;
        case 'l': shape.linear = 1; break;
        case 'p': shape.parents = 1; break;
        case 's': shape.senders = 1; break;
        case 't': shape.first = atol(optarg); break;
        case 'w': break;
        default: pn_fatal("usage: qshape [-s] [-p] [-l] [-b buckets] [-t minutes] [queue...]");
        }
    }
    if (shape.buckets < 2 || shape.buckets > MAX_BUCKETS || shape.first < 1)
        pn_fatal("bad bucket count or width");
    pn_config_load();
    const char *queue_dir = pn_config_get(PN_P(queue_directory));
    if (chdir(queue_dir) < 0)
        pn_fatal("chdir %s: %s", queue_dir, strerror(errno));
    if (geteuid() == 0) {
        uid_t uid;
        gid_t gid;
        pn_privs_lookup(pn_config_get(PN_P(mail_owner)), &uid, &gid);
        pn_privs_drop(uid, gid);
    }
    shape.rows = pn_htable_new(64);
    time_t now = time(NULL);
    if (optind == argc) {
        walk("incoming", now);
        walk("active", now);
    }
    for (int i = optind; i < argc; i++)
        walk(argv[i], now);

    /* the table: column widths from the widest cell */
    const char **domains = sorted_domains();
    size_t name_width = 5;
    for (size_t i = 0; domains[i]; i++)
        if (strlen(domains[i]) > name_width)
            name_width = strlen(domains[i]);
    char heads[MAX_BUCKETS + 1][24];
    snprintf(heads[0], sizeof(heads[0]), "T");
    long limit = shape.first;
    for (int b = 0; b < shape.buckets; b++) {
        if (b == shape.buckets - 1)
            snprintf(heads[b + 1], sizeof(heads[b + 1]), "%ld+",
                     shape.linear ? limit - shape.first : limit / 2);
        else
            snprintf(heads[b + 1], sizeof(heads[b + 1]), "%ld", limit);
        limit = shape.linear ? limit + shape.first : limit * 2;
    }
    int width[MAX_BUCKETS + 1];
    for (int c = 0; c <= shape.buckets; c++) {
        char cell[24];
        width[c] = (int)strlen(heads[c]);
        snprintf(cell, sizeof(cell), "%ld", shape.total[c]);
        if ((int)strlen(cell) > width[c])
            width[c] = (int)strlen(cell);
    }
    printf("%*s", (int)name_width + 1, "");
    for (int c = 0; c <= shape.buckets; c++)
        printf(" %*s", width[c], heads[c]);
    printf("\n%*s", (int)name_width + 1, "TOTAL");
    for (int c = 0; c <= shape.buckets; c++)
        printf(" %*ld", width[c], shape.total[c]);
    printf("\n");
    for (size_t i = 0; domains[i]; i++) {
        long *row = pn_htable_get(shape.rows, domains[i]);
        printf("%*s", (int)name_width + 1, domains[i]);
        for (int c = 0; c <= shape.buckets; c++)
            printf(" %*ld", width[c], row[c]);
        printf("\n");
    }
    free(domains);
    pn_htable_free(shape.rows, free);
    return 0;
}
