/* bouncelog.c: appending to and reading bounce/ID, defer/ID and trace/ID. Frames are written
 * with a single write(2) on an O_APPEND descriptor, so concurrent agents never interleave
 * within an entry; a batch puts many recipients' entries into that one write. */
#include "mail/bouncelog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "mail/qpath.h"

void pn_bouncelog_batch_init(pn_bouncelog_batch *b, const char *log, const char *queue_id)
{
    b->log = log;
    b->queue_id = queue_id;
    b->count = 0;
    pn_buf_init(&b->frames);
}

void pn_bouncelog_batch_add(pn_bouncelog_batch *b, const char *addr, const char *orig,
                            const char *action, const char *status, const char *reason)
{
    pn_attr_out frame;
    pn_attr_begin(&frame);
    pn_attr_put_cstr(&frame, PN_ATTR_ADDR, addr);
    pn_attr_put_cstr(&frame, PN_ATTR_ORIG, orig);
    if (action)
        pn_attr_put_cstr(&frame, PN_ATTR_ACTION, action);
    pn_attr_put_cstr(&frame, PN_ATTR_STATUS, status);
    pn_attr_put_cstr(&frame, PN_ATTR_REASON, reason);
    size_t len;
    const char *data = pn_attr_frame(&frame, &len);
    pn_buf_append(&b->frames, data, len);
    pn_attr_release(&frame);
    b->count++;
}

int pn_bouncelog_batch_write(pn_bouncelog_batch *b, pn_buf *why)
{
    if (b->count == 0)
        return 0;
    pn_buf path = PN_BUF_INIT;
    pn_queue_path(b->log, b->queue_id, &path);
    int fd = open(path.data, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && pn_queue_make_parent(path.data) == 0)
        fd = open(path.data, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = -1;
    if (fd < 0)
        pn_buf_printf(why, "open %s: %s", path.data, strerror(errno));
    else if (write(fd, b->frames.data, b->frames.len) != (ssize_t)b->frames.len ||
             (strcmp(b->log, "defer") != 0 && fsync(fd) < 0)) /* a defer reason may be lost */
        pn_buf_printf(why, "write %s: %s", path.data, strerror(errno));
    else
        rc = 0;
    if (fd >= 0)
        close(fd);
    pn_buf_release(&path);
    pn_buf_reset(&b->frames);
    b->count = 0;
    return rc;
}

void pn_bouncelog_batch_release(pn_bouncelog_batch *b)
{
    pn_buf_release(&b->frames);
}

int pn_bouncelog_append(const char *log, const char *queue_id, const char *addr, const char *orig,
                        const char *action, const char *status, const char *reason, pn_buf *why)
{
    pn_bouncelog_batch b;
    pn_bouncelog_batch_init(&b, log, queue_id);
    pn_bouncelog_batch_add(&b, addr, orig, action, status, reason);
    int rc = pn_bouncelog_batch_write(&b, why);
    pn_bouncelog_batch_release(&b);
    return rc;
}

int pn_bouncelog_read(const char *log, const char *queue_id, pn_bounce_entry **entries)
{
    pn_buf path = PN_BUF_INIT, data = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_queue_path(log, queue_id, &path);
    int fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    pn_buf_release(&path);
    *entries = NULL;
    if (fd < 0)
        return -1;
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        pn_buf_append(&data, chunk, (size_t)n);
    close(fd);
    int count = 0;
    size_t pos = 0;
    while (data.len - pos >= 4) {
        const unsigned char *p = (const unsigned char *)data.data + pos;
        uint32_t len =
            ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        if (len == 0 || len > data.len - pos - 4)
            break; /* a torn last frame */
        pn_attrs attrs;
        pn_buf_reset(&why);
        if (pn_attr_parse(data.data + pos + 4, len, &attrs, &why) == 0) {
            *entries = pn_reallocarray(*entries, (size_t)count + 1, sizeof(pn_bounce_entry));
            pn_bounce_entry *e = &(*entries)[count++];
            pn_buf_init(&e->addr);
            pn_buf_init(&e->orig);
            pn_buf_init(&e->action);
            pn_buf_init(&e->status);
            pn_buf_init(&e->reason);
            if (pn_attr_copy_str(&attrs, PN_ATTR_ACTION, &e->action) != 1)
                pn_buf_set(&e->action, strcmp(log, "bounce") == 0  ? "failed"
                                       : strcmp(log, "defer") == 0 ? "delayed"
                                                                   : "delivered");
            pn_attr_copy_str(&attrs, PN_ATTR_ADDR, &e->addr);
            pn_attr_copy_str(&attrs, PN_ATTR_ORIG, &e->orig);
            pn_attr_copy_str(&attrs, PN_ATTR_STATUS, &e->status);
            pn_attr_copy_str(&attrs, PN_ATTR_REASON, &e->reason);
        }
        pos += 4 + len;
    }
    pn_buf_release(&data);
    pn_buf_release(&why);
    return count;
}

void pn_bouncelog_free(pn_bounce_entry *entries, int count)
{
    for (int i = 0; i < count; i++) {
        pn_buf_release(&entries[i].addr);
        pn_buf_release(&entries[i].orig);
        pn_buf_release(&entries[i].action);
        pn_buf_release(&entries[i].status);
        pn_buf_release(&entries[i].reason);
    }
    free(entries);
}
