/* cfedit.c: rewrites a configuration file through a temporary file and rename(2). It must
 * never leave a partial file in place of the original, whatever happens half-way. */
#include "config/cfedit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/mem.h"
#include "base/stream.h"
#include "config/cfline.h"

struct entry {
    size_t first; /* physical line index of the entry's first line */
    size_t last;  /* index of its last continuation line */
    char *replacement;
    int changed;
};

struct pn_cfedit {
    char *path;
    pn_argv *lines; /* physical lines without newline */
    struct entry *entries;
    size_t count;
    pn_argv *appended;
};

static int is_continuation(const char *line)
{
    return (line[0] == ' ' || line[0] == '\t') && !pn_cfline_is_skipped(line);
}

pn_cfedit *pn_cfedit_open(const char *path, pn_buf *err)
{
    pn_cfedit *e = pn_calloc(1, sizeof(*e));
    e->path = pn_strdup(path);
    e->lines = pn_argv_new();
    e->appended = pn_argv_new();
    pn_stream *stream = pn_stream_open(path, O_RDONLY, 0);
    if (stream == NULL && errno != ENOENT) {
        pn_buf_printf(err, "open %s: %s", path, strerror(errno));
        pn_cfedit_free(e);
        return NULL;
    }
    pn_buf line = PN_BUF_INIT;
    int rc = PN_LINE_EOF;
    while (stream && (rc = pn_stream_get_line(stream, &line, PN_CFLINE_MAX)) > 0) {
        if (rc == PN_LINE_TOO_LONG || memchr(line.data, 0, line.len)) {
            pn_buf_printf(err, "%s, line %zu: %s", path, e->lines->len + 1,
                          rc == PN_LINE_TOO_LONG ? "line too long" : "line contains a NUL byte");
            rc = PN_LINE_ERROR;
            break;
        }
        pn_argv_add(e->lines, line.data);
    }
    if (rc == PN_LINE_ERROR && err->len == 0)
        pn_buf_printf(err, "read %s: %s", path, strerror(errno));
    pn_buf_release(&line);
    if (stream)
        pn_stream_close(stream);
    if (rc == PN_LINE_ERROR) {
        pn_cfedit_free(e);
        return NULL;
    }
    for (size_t i = 0; i < e->lines->len; i++) {
        const char *text = e->lines->items[i];
        if (pn_cfline_is_skipped(text))
            continue;
        if (is_continuation(text) && e->count > 0) {
            e->entries[e->count - 1].last = i;
            continue;
        }
        e->entries = pn_reallocarray(e->entries, e->count + 1, sizeof(struct entry));
        e->entries[e->count++] = (struct entry){i, i, NULL, 0};
    }
    return e;
}

void pn_cfedit_free(pn_cfedit *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->count; i++)
        free(e->entries[i].replacement);
    free(e->entries);
    pn_argv_free(e->lines);
    pn_argv_free(e->appended);
    free(e->path);
    free(e);
}

size_t pn_cfedit_count(const pn_cfedit *e)
{
    return e->count;
}

void pn_cfedit_logical(const pn_cfedit *e, size_t i, pn_buf *out)
{
    pn_buf_reset(out);
    const struct entry *ent = &e->entries[i];
    for (size_t l = ent->first; l <= ent->last; l++)
        if (l == ent->first || is_continuation(e->lines->items[l]))
            pn_cfline_join(out, e->lines->items[l], PN_CFLINE_JOIN_SPACE);
}

void pn_cfedit_replace(pn_cfedit *e, size_t i, const char *text)
{
    struct entry *ent = &e->entries[i];
    free(ent->replacement);
    ent->replacement = text ? pn_strdup(text) : NULL;
    ent->changed = 1;
}

void pn_cfedit_append(pn_cfedit *e, const char *text)
{
    pn_argv_add(e->appended, text);
}

int pn_cfedit_commit(pn_cfedit *e, pn_buf *err)
{
    pn_buf out = PN_BUF_INIT, tmp = PN_BUF_INIT;
    pn_buf_init(&out);
    size_t next_entry = 0;
    for (size_t l = 0; l < e->lines->len; l++) {
        while (next_entry < e->count && e->entries[next_entry].last < l)
            next_entry++;
        const struct entry *ent = next_entry < e->count ? &e->entries[next_entry] : NULL;
        const char *text = e->lines->items[l];
        if (ent && ent->changed && l >= ent->first && l <= ent->last) {
            if (l == ent->first && ent->replacement)
                pn_buf_printf(&out, "%s\n", ent->replacement);
            if (l == ent->first || is_continuation(text))
                continue;
        }
        pn_buf_printf(&out, "%s\n", text);
    }
    for (size_t i = 0; i < e->appended->len; i++)
        pn_buf_printf(&out, "%s\n", e->appended->items[i]);

    struct stat st;
    int have_stat = stat(e->path, &st) == 0;
    pn_buf_printf(&tmp, "%s.tmp", e->path);
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                  have_stat ? (st.st_mode & 07777) : 0644);
    int rc = -1;
    if (fd < 0) {
        pn_buf_printf(err, "open %s: %s", tmp.data, strerror(errno));
        goto done;
    }
    if (have_stat) {
        (void)!fchown(fd, st.st_uid, st.st_gid);
        fchmod(fd, st.st_mode & 07777);
    }
    if (pn_write_all(fd, out.data, out.len) < 0 || fsync(fd) < 0) {
        pn_buf_printf(err, "write %s: %s", tmp.data, strerror(errno));
        close(fd);
        unlink(tmp.data);
        goto done;
    }
    if (close(fd) < 0 || rename(tmp.data, e->path) < 0) {
        pn_buf_printf(err, "rename %s to %s: %s", tmp.data, e->path, strerror(errno));
        unlink(tmp.data);
        goto done;
    }
    rc = 0;
done:
    pn_buf_release(&out);
    pn_buf_release(&tmp);
    return rc;
}
