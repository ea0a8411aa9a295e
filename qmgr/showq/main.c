/* main.c: showq, the queue lister behind postqueue -p and mailq (public/showq). It reads the
 * queue as mail_owner, so that users who may not read the queue can still list it, and sends
 * one {msg:G} frame per message (queue, queue_id, arrival, size, sender, forced_expire, and a
 * {rcpt:G} per pending recipient with the reason of its last deferral from defer/ID, if any),
 * then {status}. It never writes a queue file. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/bouncelog.h"
#include "mail/qfile.h"
#include "mail/qpath.h"

static void list_file(pn_stream *client, const char *queue, const char *dir, const char *name)
{
    pn_buf path = PN_BUF_INIT, why = PN_BUF_INIT, sender = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/%s", dir, name);
    int fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    pn_qfile q;
    memset(&q, 0, sizeof(q));
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0700) != 0700 ||
        pn_qfile_open(&q, fd, &why) < 0)
        goto out; /* incomplete or being written: not listed */
    pn_qfile_sender(&q, &sender);
    pn_bounce_entry *reasons;
    int nreasons = pn_bouncelog_read("defer", name, &reasons);
    pn_attr_out out;
    pn_attr_begin(&out);
    pn_attr_group_begin(&out, PN_ATTR_MSG);
    pn_attr_put_cstr(&out, PN_ATTR_QUEUE, queue);
    pn_attr_put_cstr(&out, PN_ATTR_QUEUE_ID, name);
    pn_attr_put_int(&out, PN_ATTR_ARRIVAL, (int64_t)q.arrival.tv_sec);
    pn_attr_put_int(&out, PN_ATTR_SIZE, (int64_t)q.content_len);
    pn_attr_put_str(&out, PN_ATTR_SENDER, sender.data, sender.len);
    pn_attr_put_int(&out, PN_ATTR_FORCED_EXPIRE, (st.st_mode & 0010) != 0);
    size_t pos = 0;
    pn_qrcpt r;
    pn_qrcpt_init(&r);
    while (pn_qfile_next_rcpt(&q, &pos, 1, &r)) {
        pn_attr_group_begin(&out, PN_ATTR_RCPT);
        pn_attr_put_str(&out, PN_ATTR_ADDR, r.addr.data, r.addr.len);
        for (int i = nreasons - 1; i >= 0; i--) {
            if (strcmp(pn_buf_str(&reasons[i].addr), pn_buf_str(&r.addr)) == 0) {
                pn_attr_put_cstr(&out, PN_ATTR_REASON, pn_buf_str(&reasons[i].reason));
                break;
            }
        }
        pn_attr_group_end(&out);
    }
    pn_qrcpt_release(&r);
    pn_bouncelog_free(reasons, nreasons < 0 ? 0 : nreasons);
    pn_attr_group_end(&out);
    pn_attr_write_frame(client, &out);
    pn_attr_release(&out);
out:
    pn_qfile_release(&q);
    if (fd >= 0)
        close(fd);
    pn_buf_release(&path);
    pn_buf_release(&why);
    pn_buf_release(&sender);
}

static void list_dir(pn_stream *client, const char *queue, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    pn_buf sub = PN_BUF_INIT;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (e->d_type == DT_DIR && strlen(e->d_name) == 1) {
            pn_buf_reset(&sub);
            pn_buf_printf(&sub, "%s/%s", dir, e->d_name);
            list_dir(client, queue, sub.data);
        } else if (pn_qid_valid(e->d_name)) {
            list_file(client, queue, dir, e->d_name);
        }
    }
    pn_buf_release(&sub);
    closedir(d);
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    static const char *const queues[] = {"incoming", "active", "deferred", "hold", NULL};
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, 60000);
    for (int i = 0; queues[i]; i++)
        list_dir(client, queues[i], queues[i]);
    pn_attr_out end;
    pn_attr_begin(&end);
    pn_attr_put_int(&end, PN_ATTR_STATUS, 0);
    pn_attr_write_frame(client, &end);
    pn_attr_release(&end);
    pn_stream_release(client);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve, .max_use = -1, .max_idle = -1, .process_limit = -1};
    return pn_single_server_main(argc, argv, &server);
}
