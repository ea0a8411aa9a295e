/* main.c: postsuper, the queue superintendent: delete (-d), hold (-h), release (-H) and
 * requeue (-r) messages by queue ID or ALL, reading IDs from standard input for "-", mark
 * them for expiry (-e, and -f which also releases them from hold), repair the queue's
 * structure (-s, structure.c, also without options) and remove leftover temporary files
 * (-p). Run as root, it
 * becomes mail_owner before it touches the queue. It only renames, unlinks and changes modes: it
 * never writes a queue file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/privs.h"
#include "config/cflog.h"
#include "config/cfparams.h"
#include "ipc/proto.h"
#include "ipc/trigger.h"
#include "mail/qpath.h"
#include "postsuper.h"

enum action { DELETE, HOLD, RELEASE, REQUEUE, EXPIRE, EXPIRE_RELEASE };
#define ACTIONS 6

static const char *const all_queues[] = {"incoming", "active",   "deferred",
                                         "hold",     "maildrop", NULL};

/* find: the path of ID in one of queues, or 0. */
static int find(const char *id, const char *const *queues, pn_buf *path, const char **queue)
{
    for (int i = 0; queues[i]; i++) {
        pn_queue_path(queues[i], id, path);
        struct stat st;
        if (lstat(path->data, &st) == 0 && S_ISREG(st.st_mode)) {
            *queue = queues[i];
            return 1;
        }
    }
    return 0;
}

/* act: 1 when the message was changed. */
static int act(enum action what, const char *id, const char *const *queues)
{
    pn_buf path = PN_BUF_INIT, to = PN_BUF_INIT;
    const char *queue = NULL;
    int done = 0;
    if (!pn_qid_valid(id) || !find(id, queues, &path, &queue))
        goto out;
    switch (what) {
    case DELETE:
        if (unlink(path.data) == 0) {
            static const char *const logs[] = {"bounce", "defer", "trace", NULL};
            for (int i = 0; logs[i]; i++) {
                pn_queue_path(logs[i], id, &to);
                unlink(to.data);
            }
            pn_info("%s: removed", id);
            done = 1;
        }
        break;
    case HOLD:
        if (strcmp(queue, "hold") != 0 && strcmp(queue, "maildrop") != 0) {
            pn_queue_path("hold", id, &to);
            if (rename(path.data, to.data) == 0) {
                pn_info("%s: placed on hold", id);
                done = 1;
            }
        }
        break;
    case RELEASE:
        if (strcmp(queue, "hold") == 0) {
            pn_queue_path("deferred", id, &to);
            pn_queue_make_parent(to.data);
            struct timespec now[2] = {{time(NULL), 0}, {time(NULL), 0}};
            utimensat(AT_FDCWD, path.data, now, 0);
            if (rename(path.data, to.data) == 0) {
                pn_info("%s: released from hold", id);
                done = 1;
            }
        }
        break;
    case EXPIRE:
    case EXPIRE_RELEASE: {
        /* the group-execute bit: qmgr returns the message at its next attempt, and mailq
         * shows '#'; -f also takes it off hold */
        struct stat st;
        if (strcmp(queue, "maildrop") == 0 || stat(path.data, &st) < 0 ||
            chmod(path.data, (st.st_mode & 07777) | 0010) < 0)
            break;
        pn_info("%s: force-expired", id);
        done = 1;
        if (what == EXPIRE_RELEASE && strcmp(queue, "hold") == 0) {
            pn_queue_path("deferred", id, &to);
            pn_queue_make_parent(to.data);
            if (rename(path.data, to.data) == 0)
                pn_info("%s: released from hold", id);
        }
        break;
    }
    case REQUEUE:
        if (strcmp(queue, "maildrop") != 0) {
            pn_queue_path("maildrop", id, &to);
            if (rename(path.data, to.data) == 0 && chmod(to.data, 0744) == 0) {
                pn_queue_path("defer", id, &to); /* it returns under a new ID */
                unlink(to.data);
                pn_info("%s: requeued", id);
                done = 1;
            }
        }
        break;
    }
out:
    pn_buf_release(&path);
    pn_buf_release(&to);
    return done;
}

static int add_id(const char *path, const char *id, void *ids)
{
    (void)path;
    pn_argv_add(ids, id);
    return 1;
}

static void collect(const char *queue, pn_argv *ids)
{
    pn_queue_walk(queue, add_id, ids);
}

/* purge_one: a temporary file left by a crash (a name that is not a queue ID). */
static int purge_one(const char *path, const char *id, void *ctx)
{
    (void)ctx;
    struct stat st;
    if (id == NULL && lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        time(NULL) - st.st_mtime > 60 && unlink(path) == 0)
        pn_info("Deleted: %s", path);
    return 0;
}

static void purge(void)
{
    pn_queue_walk_all("incoming", purge_one, NULL);
    pn_queue_walk_all("maildrop", purge_one, NULL);
}

int main(int argc, char **argv)
{
    static const char *const names[ACTIONS] = {
        "Deleted",  "Placed on hold", "Released from hold",
        "Requeued", "Expired",        "Expired and released"};
    pn_argv *requests[ACTIONS];
    for (int a = 0; a < ACTIONS; a++)
        requests[a] = pn_argv_new();
    int ch, do_purge = 0, do_structure = 0, actions = 0;
    pn_log_init("postsuper", PN_LOG_STDERR | PN_LOG_SYSLOG);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "c:d:e:f:h:H:r:psSv")) != -1) {
        actions += ch != 'c' && ch != 'v';
        switch (ch) {
        case 'c': pn_config_set_directory(optarg); break;
        case 'd': pn_argv_add(requests[DELETE], optarg); break;
        case 'h': pn_argv_add(requests[HOLD], optarg); break;
        case 'H': pn_argv_add(requests[RELEASE], optarg); break;
        case 'r': pn_argv_add(requests[REQUEUE], optarg); break;
        case 'e': pn_argv_add(requests[EXPIRE], optarg); break;
        case 'f': pn_argv_add(requests[EXPIRE_RELEASE], optarg); break;
        case 'p': do_purge = 1; break;
        case 's':
        case 'S': do_structure = 1; break;
        case 'v': pn_verbose++; break;
        default:
            pn_fatal("usage: postsuper [-c config_dir] [-d queue_id] [-e queue_id] "
                     "[-f queue_id] [-h queue_id] [-H queue_id] [-p] [-r queue_id] [-s] "
                     "[queue...]");
        }
    }
    pn_config_load();
    pn_config_set_process("postsuper", NULL);
    pn_config_logging("postsuper", 0);
    if (geteuid() != 0)
        pn_fatal("need root privileges");
    const char *queue_dir = pn_config_get(PN_P(queue_directory));
    uid_t uid;
    gid_t gid;
    pn_privs_lookup(pn_config_get(PN_P(mail_owner)), &uid, &gid);
    if (chdir(queue_dir) < 0)
        pn_fatal("chdir %s: %s", queue_dir, strerror(errno));
    pn_privs_drop(uid, gid);
    const char *const *queues = all_queues;
    const char *selected[8] = {NULL};
    if (optind < argc) {
        int n = 0;
        for (int i = optind; i < argc && n < 7; i++)
            selected[n++] = argv[i];
        queues = selected;
    }
    if (do_structure || actions == 0) /* -s is what postsuper does without options */
        structure_repair(); /* first, so that the other operations find what they look for */
    int requeued = 0;
    for (int a = 0; a < ACTIONS; a++) {
        pn_argv *ids = pn_argv_new();
        for (size_t i = 0; i < requests[a]->len; i++) {
            const char *id = requests[a]->items[i];
            if (strcmp(id, "ALL") == 0) {
                for (int q = 0; queues[q]; q++)
                    if (a != REQUEUE || strcmp(queues[q], "maildrop") != 0)
                        collect(queues[q], ids);
            } else if (strcmp(id, "-") == 0) {
                char line[256];
                while (fgets(line, sizeof(line), stdin)) {
                    line[strcspn(line, " \t\r\n")] = 0;
                    if (*line)
                        pn_argv_add(ids, line);
                }
            } else {
                pn_argv_add(ids, id);
            }
        }
        int count = 0;
        for (size_t i = 0; i < ids->len; i++)
            count += act((enum action)a, ids->items[i], queues);
        if (requests[a]->len)
            fprintf(stderr, "postsuper: %s: %d message%s\n", names[a], count,
                    count == 1 ? "" : "s");
        if (a == REQUEUE)
            requeued = count;
        pn_argv_free(ids);
    }
    if (do_purge)
        purge();
    if (requeued)
        pn_trigger_send(PN_SVC_PICKUP, "W", 1);
    return 0;
}
