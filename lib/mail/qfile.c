/* qfile.c: writing and reading MQ1 queue files. Readers trust nothing: every length is
 * checked against the file before use, the envelope chain must end exactly at the M record
 * and the extracted chain exactly at E, whose recorded offset and the file size must agree.
 * Only status bytes of R records are ever written after installation. */
#include "mail/qfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/codec.h"
#include "base/lock.h"
#include "base/mem.h"
#include "base/stream.h"

#define MAX_ENVELOPE (64 * 1024 * 1024)

static const char magic[4] = {'M', 'Q', '1', 0};

static void put_record_head(pn_buf *b, int type, uint32_t len)
{
    unsigned char head[5];
    head[0] = (unsigned char)type;
    pn_put_be32(head + 1, len);
    pn_buf_append(b, head, 5);
}

static void record(pn_qwriter *w, int type, const void *payload, size_t len)
{
    put_record_head(&w->file, type, (uint32_t)len);
    pn_buf_append(&w->file, payload, len);
}

void pn_qw_init(pn_qwriter *w, const struct timeval *arrival)
{
    memset(w, 0, sizeof(*w));
    pn_buf_init(&w->file);
    char zero[PN_QF_HEADER_SIZE] = {0};
    pn_buf_append(&w->file, zero, sizeof(zero));
    w->arrival = *arrival;
}

void pn_qw_release(pn_qwriter *w)
{
    pn_buf_release(&w->file);
}

void pn_qw_attr(pn_qwriter *w, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    put_record_head(&w->file, 'A', (uint32_t)(nlen + 1 + vlen));
    pn_buf_append(&w->file, name, nlen);
    pn_buf_putc(&w->file, '=');
    pn_buf_append(&w->file, value, vlen);
}

void pn_qw_sender(pn_qwriter *w, const char *sender)
{
    record(w, 'S', sender, strlen(sender));
}

static void put_string16(pn_buf *b, const char *text)
{
    size_t len = strlen(text);
    if (len > 65535)
        len = 65535;
    unsigned char head[2];
    pn_put_be16(head, (uint16_t)len);
    pn_buf_append(b, head, 2);
    pn_buf_append(b, text, len);
}

void pn_qw_rcpt(pn_qwriter *w, const char *addr, const char *orig, const char *orcpt, int notify)
{
    pn_buf payload = PN_BUF_INIT;
    pn_buf_putc(&payload, PN_RCPT_TODO);
    pn_buf_putc(&payload, notify);
    put_string16(&payload, addr);
    put_string16(&payload, orig ? orig : "");
    put_string16(&payload, orcpt ? orcpt : "");
    record(w, 'R', payload.data, payload.len);
    pn_buf_release(&payload);
    w->rcpt_total++;
}

void pn_qw_content(pn_qwriter *w)
{
    w->content_off = w->file.len;
    record(w, 'M', "", 0);
}

void pn_qw_header(pn_qwriter *w, const char *field, size_t len)
{
    record(w, 'H', field, len);
    w->content_len += len + 1;
}

static void close_body(pn_qwriter *w)
{
    if (w->body_record == 0)
        return;
    size_t len = w->file.len - w->body_record - 5;
    pn_put_be32((unsigned char *)w->file.data + w->body_record + 1, (uint32_t)len);
    w->body_record = 0;
}

void pn_qw_body(pn_qwriter *w, const char *data, size_t len)
{
    while (len > 0) {
        if (w->body_record == 0) {
            w->body_record = w->file.len;
            put_record_head(&w->file, 'B', 0);
        }
        size_t used = w->file.len - w->body_record - 5;
        size_t take = PN_QF_BODY_PIECE - used < len ? PN_QF_BODY_PIECE - used : len;
        pn_buf_append(&w->file, data, take);
        w->content_len += take;
        data += take;
        len -= take;
        if (used + take == PN_QF_BODY_PIECE)
            close_body(w);
    }
}

void pn_qw_finish(pn_qwriter *w)
{
    close_body(w);
    w->content_len += 1; /* the empty line between header and body */
    w->extract_off = w->file.len;
    record(w, 'X', "", 0);
    size_t end_off = w->file.len;
    uint32_t crc = pn_crc32c(0, w->file.data + w->content_off, w->extract_off - w->content_off);
    unsigned char end[12];
    pn_put_be64(end, end_off);
    pn_put_be32(end + 8, crc);
    record(w, 'E', end, sizeof(end));
    unsigned char *h = (unsigned char *)w->file.data;
    memcpy(h, magic, 4);
    pn_put_be32(h + 4, 1);
    pn_put_be64(h + 8, (uint64_t)w->arrival.tv_sec);
    pn_put_be32(h + 16, (uint32_t)w->arrival.tv_usec);
    pn_put_be32(h + 20, 0);
    pn_put_be64(h + 24, w->content_off);
    pn_put_be64(h + 32, w->content_len);
    pn_put_be64(h + 40, w->extract_off);
    pn_put_be32(h + 48, w->rcpt_total);
    pn_put_be64(h + 52, (uint64_t)w->warn_time);
    pn_put_be32(h + 60, pn_crc32c(0, h, 60));
}

int pn_qw_install(pn_qwriter *w, int fd, pn_buf *why)
{
    if (pn_write_all(fd, w->file.data, w->file.len) < 0) {
        pn_buf_printf(why, "write queue file: %s", strerror(errno));
        return -1;
    }
    /* The file becomes complete (owner x) only once its bytes are on disk, so that no
     * reader ever takes a file whose fsync failed; the creator's lock goes first, so a
     * scan never sees a complete file locked (which means: still in delivery). A crash
     * can lose the mode change that followed the fsync: queue scans then find a complete,
     * valid file with mode 0600, and activate it (doc/queue.md, "Debris"). */
    if (fsync(fd) < 0) {
        pn_buf_printf(why, "sync queue file: %s", strerror(errno));
        return -1;
    }
    if (pn_lock_fd(fd, PN_LOCK_NONE) < 0 || fchmod(fd, 0700) < 0) {
        pn_buf_printf(why, "complete queue file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static int corrupt(pn_buf *why, const char *what)
{
    pn_buf_printf(why, "corrupt queue file: %s", what);
    return -1;
}

/* walk_chain: records in data[0..len) must chain to exactly len; types checked by allowed. */
static int walk_chain(const unsigned char *data, size_t len, const char *allowed, pn_buf *why)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < 5)
            return corrupt(why, "truncated record header");
        uint32_t rlen = pn_get_be32(data + pos + 1);
        if (strchr(allowed, data[pos]) == NULL || data[pos] == 0)
            return corrupt(why, "unexpected record type");
        if (rlen > PN_QF_MAX_RECORD || rlen > len - pos - 5)
            return corrupt(why, "record length out of range");
        pos += 5 + rlen;
    }
    return 0;
}

int pn_qfile_open(pn_qfile *q, int fd, pn_buf *why)
{
    memset(q, 0, sizeof(*q));
    q->fd = fd;
    pn_buf_init(&q->envelope);
    unsigned char h[PN_QF_HEADER_SIZE];
    struct stat st;
    if (fstat(fd, &st) < 0)
        return corrupt(why, strerror(errno));
    if (read_at(fd, h, sizeof(h), 0) < 0)
        return corrupt(why, "short header");
    if (memcmp(h, magic, 4) != 0 || pn_get_be32(h + 4) != 1)
        return corrupt(why, "bad magic or version");
    if (pn_crc32c(0, h, 60) != pn_get_be32(h + 60))
        return corrupt(why, "header checksum mismatch");
    if (pn_get_be32(h + 20) != 0)
        return corrupt(why, "unknown flags");
    q->arrival.tv_sec = (time_t)pn_get_be64(h + 8);
    q->arrival.tv_usec = (suseconds_t)pn_get_be32(h + 16);
    q->content_off = pn_get_be64(h + 24);
    q->content_len = pn_get_be64(h + 32);
    q->extract_off = pn_get_be64(h + 40);
    q->rcpt_total = pn_get_be32(h + 48);
    q->warn_time = (int64_t)pn_get_be64(h + 52);
    uint64_t size = (uint64_t)st.st_size;
    if (q->content_off < PN_QF_HEADER_SIZE || q->content_off - PN_QF_HEADER_SIZE > MAX_ENVELOPE ||
        q->extract_off < q->content_off + 5 || q->extract_off > size ||
        size - q->extract_off < 5 + 17 || size - q->extract_off > MAX_ENVELOPE)
        return corrupt(why, "segment offsets out of range");
    size_t env_len = (size_t)(q->content_off - PN_QF_HEADER_SIZE) + 5;
    pn_buf_reserve(&q->envelope, env_len);
    if (read_at(fd, q->envelope.data, env_len, PN_QF_HEADER_SIZE) < 0)
        return corrupt(why, "short envelope");
    q->envelope.len = env_len;
    const unsigned char *env = (const unsigned char *)q->envelope.data;
    if (walk_chain(env, env_len - 5, "ASR", why) < 0)
        return -1;
    if (env[env_len - 5] != 'M' || pn_get_be32(env + env_len - 4) != 0)
        return corrupt(why, "no M record at the content offset");
    size_t ext_len = (size_t)(size - q->extract_off);
    unsigned char *ext = pn_malloc(ext_len);
    int rc = -1;
    if (read_at(fd, ext, ext_len, q->extract_off) < 0) {
        corrupt(why, "short extracted segment");
    } else if (ext[0] != 'X' || pn_get_be32(ext + 1) != 0) {
        corrupt(why, "no X record at the extracted offset");
    } else if (walk_chain(ext + 5, ext_len - 5 - 17, "AR", why) == 0) {
        const unsigned char *e = ext + ext_len - 17;
        q->file_len = pn_get_be64(e + 5);
        q->content_crc = pn_get_be32(e + 13);
        if (e[0] != 'E' || pn_get_be32(e + 1) != 12 || q->file_len != size - 17)
            corrupt(why, "bad E record");
        else
            rc = 0;
    }
    free(ext);
    return rc;
}

void pn_qfile_release(pn_qfile *q)
{
    pn_buf_release(&q->envelope);
}

int pn_qfile_next(const pn_qfile *q, size_t *pos, int *type, const char **payload, size_t *len)
{
    const unsigned char *env = (const unsigned char *)q->envelope.data;
    if (*pos + 5 > q->envelope.len || env[*pos] == 'M')
        return 0;
    *type = env[*pos];
    *len = pn_get_be32(env + *pos + 1);
    *payload = q->envelope.data + *pos + 5;
    *pos += 5 + *len;
    return 1;
}

int pn_qfile_next_rcpt(const pn_qfile *q, size_t *pos, int todo_only, pn_qrcpt *r)
{
    int type;
    const char *payload;
    size_t len, at = *pos;
    while (pn_qfile_next(q, pos, &type, &payload, &len)) {
        if (type == 'R' && pn_qfile_rcpt_parse(payload, len, PN_QF_HEADER_SIZE + at, r) == 0 &&
            (!todo_only || r->status == PN_RCPT_TODO))
            return 1;
        at = *pos;
    }
    return 0;
}

const char *pn_qfile_attr(const pn_qfile *q, const char *name, pn_buf *out)
{
    size_t pos = 0, len, nlen = strlen(name);
    int type;
    const char *payload;
    while (pn_qfile_next(q, &pos, &type, &payload, &len)) {
        if (type == 'A' && len > nlen && memcmp(payload, name, nlen) == 0 && payload[nlen] == '=') {
            pn_buf_reset(out);
            pn_buf_append(out, payload + nlen + 1, len - nlen - 1);
            return out->data;
        }
    }
    return NULL;
}

int pn_qfile_sender(const pn_qfile *q, pn_buf *out)
{
    size_t pos = 0, len;
    int type;
    const char *payload;
    while (pn_qfile_next(q, &pos, &type, &payload, &len)) {
        if (type == 'S') {
            pn_buf_reset(out);
            pn_buf_append(out, payload, len);
            return 1;
        }
    }
    return 0;
}

void pn_qrcpt_init(pn_qrcpt *r)
{
    memset(r, 0, sizeof(*r));
    pn_buf_init(&r->addr);
    pn_buf_init(&r->orig);
    pn_buf_init(&r->orcpt);
}

void pn_qrcpt_release(pn_qrcpt *r)
{
    pn_buf_release(&r->addr);
    pn_buf_release(&r->orig);
    pn_buf_release(&r->orcpt);
}

int pn_qfile_rcpt_parse(const char *payload, size_t len, size_t offset, pn_qrcpt *r)
{
    const unsigned char *p = (const unsigned char *)payload;
    if (len < 2)
        return -1;
    r->offset = offset;
    r->status = p[0];
    r->notify = p[1];
    size_t pos = 2;
    pn_buf *fields[3] = {&r->addr, &r->orig, &r->orcpt};
    for (int i = 0; i < 3; i++) {
        if (len - pos < 2)
            return -1;
        size_t n = pn_get_be16(p + pos);
        pos += 2;
        if (n > len - pos)
            return -1;
        pn_buf_reset(fields[i]);
        pn_buf_append(fields[i], payload + pos, n);
        pos += n;
    }
    return pos == len ? 0 : -1;
}

int pn_qfile_read_content(const pn_qfile *q, pn_buf *out, pn_buf *why)
{
    size_t len = (size_t)(q->extract_off - q->content_off);
    unsigned char *data = pn_malloc(len);
    int rc = -1;
    pn_buf_reset(out);
    if (read_at(q->fd, data, len, q->content_off) < 0) {
        corrupt(why, "short content");
    } else if (pn_crc32c(0, data, len) != q->content_crc) {
        corrupt(why, "content checksum mismatch");
    } else if (walk_chain(data, len, "MHB", why) == 0) {
        size_t pos = 5; /* past M */
        int in_body = 0;
        while (pos < len) {
            uint32_t rlen = pn_get_be32(data + pos + 1);
            if (data[pos] == 'H') {
                pn_buf_append(out, data + pos + 5, rlen);
                pn_buf_putc(out, '\n');
            } else {
                if (!in_body)
                    pn_buf_putc(out, '\n');
                in_body = 1;
                pn_buf_append(out, data + pos + 5, rlen);
            }
            pos += 5 + rlen;
        }
        if (!in_body)
            pn_buf_putc(out, '\n');
        rc = 0;
    }
    free(data);
    return rc;
}

int pn_qfile_mark(int fd, size_t offset, int status, pn_buf *why)
{
    unsigned char head[6];
    if (read_at(fd, head, sizeof(head), offset) < 0 || head[0] != 'R' ||
        head[PN_RCPT_STATUS_OFFSET] != PN_RCPT_TODO)
        return corrupt(why, "status update does not name a pending recipient");
    unsigned char byte = (unsigned char)status;
    if (pwrite(fd, &byte, 1, (off_t)offset + PN_RCPT_STATUS_OFFSET) != 1) {
        pn_buf_printf(why, "update queue file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int pn_qfile_set_warn_time(int fd, int64_t when, pn_buf *why)
{
    unsigned char h[PN_QF_HEADER_SIZE];
    if (read_at(fd, h, sizeof(h), 0) < 0 || pn_crc32c(0, h, 60) != pn_get_be32(h + 60)) {
        pn_buf_puts(why, "queue file header unreadable or damaged");
        return -1;
    }
    pn_put_be64(h + 52, (uint64_t)when);
    pn_put_be32(h + 60, pn_crc32c(0, h, 60));
    if (pwrite(fd, h + 52, 12, 52) != 12) {
        pn_buf_printf(why, "write queue file header: %s", strerror(errno));
        return -1;
    }
    return 0;
}
