/* attr.c: encoding and strict decoding of ATTR/1 frames. The decoder checks every length
 * against what remains before it reads a byte, so no frame can make it read outside the
 * buffer; unknown names are allowed (forward compatibility), repeated non-group names are
 * not. */
#include "ipc/attr.h"

#include <string.h>

#include "base/log.h"

static void put_u32(pn_buf *b, uint32_t v)
{
    unsigned char bytes[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                              (unsigned char)(v >> 8), (unsigned char)v};
    pn_buf_append(b, bytes, 4);
}

static uint32_t get_u32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) | ((uint32_t)u[2] << 8) | u[3];
}

static void set_u32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

void pn_attr_begin(pn_attr_out *out)
{
    pn_buf_init(&out->buf);
    put_u32(&out->buf, 0);
    out->depth = 0;
}

void pn_attr_release(pn_attr_out *out)
{
    pn_buf_release(&out->buf);
}

static void put_header(pn_attr_out *out, char type, const char *name, uint32_t vlen)
{
    size_t nlen = strlen(name);
    pn_buf_putc(&out->buf, type);
    pn_buf_putc(&out->buf, (int)nlen);
    pn_buf_append(&out->buf, name, nlen);
    put_u32(&out->buf, vlen);
}

void pn_attr_put_str(pn_attr_out *out, const char *name, const void *value, size_t len)
{
    put_header(out, 'S', name, (uint32_t)len);
    pn_buf_append(&out->buf, value, len);
}

void pn_attr_put_cstr(pn_attr_out *out, const char *name, const char *value)
{
    pn_attr_put_str(out, name, value, strlen(value));
}

void pn_attr_put_int(pn_attr_out *out, const char *name, int64_t value)
{
    put_header(out, 'I', name, 8);
    uint64_t u = (uint64_t)value;
    put_u32(&out->buf, (uint32_t)(u >> 32));
    put_u32(&out->buf, (uint32_t)u);
}

void pn_attr_group_begin(pn_attr_out *out, const char *name)
{
    if (out->depth >= PN_ATTR_MAX_DEPTH)
        pn_panic("attribute groups nested more than %d deep", PN_ATTR_MAX_DEPTH);
    put_header(out, 'G', name, 0);
    out->groups[out->depth++] = out->buf.len - 4;
}

void pn_attr_group_end(pn_attr_out *out)
{
    size_t at = out->groups[--out->depth];
    set_u32(out->buf.data + at, (uint32_t)(out->buf.len - at - 4));
}

const char *pn_attr_frame(pn_attr_out *out, size_t *len)
{
    set_u32(out->buf.data, (uint32_t)(out->buf.len - 4));
    *len = out->buf.len;
    return out->buf.data;
}

static int valid_name(const char *name, size_t len)
{
    if (len == 0 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* walk: the next attribute at *pos; 1 with fields set, 0 at the end, -1 malformed. */
static int walk(const pn_attrs *a, size_t *pos, char *type, const char **name, size_t *nlen,
                const char **value, uint32_t *vlen)
{
    if (*pos >= a->len)
        return 0;
    if (a->len - *pos < 2)
        return -1;
    *type = a->data[*pos];
    *nlen = (unsigned char)a->data[*pos + 1];
    if (a->len - *pos - 2 < *nlen + 4)
        return -1;
    *name = a->data + *pos + 2;
    *vlen = get_u32(*name + *nlen);
    size_t head = 2 + *nlen + 4;
    if (a->len - *pos - head < *vlen)
        return -1;
    *value = a->data + *pos + head;
    *pos += head + *vlen;
    return 1;
}

/* The names of one level's plain attributes, for the repeated-name check: an open-addressed
 * table, so that a frame of a million tiny attributes costs a million probes, not 10^12
 * comparisons. No level may hold more than PN_ATTR_MAX_NAMES of them. */
#define NAME_SLOTS (2 * PN_ATTR_MAX_NAMES)

struct names_seen {
    const char *name[NAME_SLOTS];
    unsigned char len[NAME_SLOTS];
    int count;
};

/* first_sighting: 1 when name is new at this level (and now remembered), 0 when repeated,
 * -1 when the level has too many names. */
static int first_sighting(struct names_seen *seen, const char *name, size_t nlen)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < nlen; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    for (size_t i = h % NAME_SLOTS;; i = (i + 1) % NAME_SLOTS) {
        if (seen->name[i] == NULL) {
            if (seen->count >= PN_ATTR_MAX_NAMES)
                return -1;
            seen->name[i] = name;
            seen->len[i] = (unsigned char)nlen;
            seen->count++;
            return 1;
        }
        if (seen->len[i] == nlen && memcmp(seen->name[i], name, nlen) == 0)
            return 0;
    }
}

static int validate(const pn_attrs *a, int depth, pn_buf *why)
{
    size_t pos = 0;
    char type;
    const char *name, *value;
    size_t nlen;
    uint32_t vlen;
    int rc;
    struct names_seen seen; /* cleared at the first plain attribute: groups often have none */
    seen.count = -1;
    while ((rc = walk(a, &pos, &type, &name, &nlen, &value, &vlen)) > 0) {
        if (!valid_name(name, nlen)) {
            pn_buf_puts(why, "bad attribute name");
            return -1;
        }
        if (type == 'I' && vlen != 8) {
            pn_buf_printf(why, "integer attribute %.*s has length %u", (int)nlen, name, vlen);
            return -1;
        }
        if (type == 'G') {
            if (depth + 1 > PN_ATTR_MAX_DEPTH) {
                pn_buf_puts(why, "attribute groups nested too deeply");
                return -1;
            }
            pn_attrs inner = {value, vlen};
            if (validate(&inner, depth + 1, why) < 0)
                return -1;
        } else if (type != 'S' && type != 'I') {
            pn_buf_printf(why, "unknown attribute type 0x%02x", (unsigned char)type);
            return -1;
        } else {
            if (seen.count < 0) {
                memset(seen.name, 0, sizeof(seen.name));
                seen.count = 0;
            }
            int first = first_sighting(&seen, name, nlen); /* a repeated plain name is an error */
            if (first <= 0) {
                if (first == 0)
                    pn_buf_printf(why, "repeated attribute %.*s", (int)nlen, name);
                else
                    pn_buf_printf(why, "more than %d attributes in a group", PN_ATTR_MAX_NAMES);
                return -1;
            }
        }
    }
    if (rc < 0) {
        pn_buf_puts(why, "attribute length runs past the end of the frame");
        return -1;
    }
    return 0;
}

int pn_attr_parse(const char *payload, size_t len, pn_attrs *out, pn_buf *why)
{
    out->data = payload;
    out->len = len;
    if (len == 0) {
        pn_buf_puts(why, "empty frame");
        return -1;
    }
    return validate(out, 0, why);
}

static int find(const pn_attrs *a, const char *name, char want, const char **value, uint32_t *vlen)
{
    size_t pos = 0, want_len = strlen(name), nlen;
    char type;
    const char *n;
    while (walk(a, &pos, &type, &n, &nlen, value, vlen) > 0)
        if (nlen == want_len && memcmp(n, name, nlen) == 0)
            return type == want ? 1 : -1;
    return 0;
}

int pn_attr_get_str(const pn_attrs *a, const char *name, const char **value, size_t *len)
{
    uint32_t vlen;
    int rc = find(a, name, 'S', value, &vlen);
    if (rc > 0)
        *len = vlen;
    return rc;
}

int pn_attr_copy_str(const pn_attrs *a, const char *name, pn_buf *out)
{
    const char *value;
    size_t len;
    int rc = pn_attr_get_str(a, name, &value, &len);
    if (rc > 0) {
        pn_buf_reset(out);
        pn_buf_append(out, value, len);
    }
    return rc;
}

int pn_attr_get_int(const pn_attrs *a, const char *name, int64_t *out)
{
    const char *value;
    uint32_t vlen;
    int rc = find(a, name, 'I', &value, &vlen);
    if (rc > 0)
        *out = (int64_t)(((uint64_t)get_u32(value) << 32) | get_u32(value + 4));
    return rc;
}

int pn_attr_next_group(const pn_attrs *a, const char *name, size_t *cursor, pn_attrs *group)
{
    size_t want_len = strlen(name), nlen;
    char type;
    const char *n, *value;
    uint32_t vlen;
    while (walk(a, cursor, &type, &n, &nlen, &value, &vlen) > 0) {
        if (type == 'G' && nlen == want_len && memcmp(n, name, nlen) == 0) {
            group->data = value;
            group->len = vlen;
            return 1;
        }
    }
    return 0;
}

int pn_attr_read_frame(pn_stream *stream, pn_buf *out)
{
    char head[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t n = pn_stream_read(stream, head + got, 4 - got);
        if (n <= 0)
            return got == 0 && n == 0 ? 0 : -1;
        got += (size_t)n;
    }
    uint32_t len = get_u32(head);
    if (len == 0 || len > PN_ATTR_MAX_FRAME)
        return -1;
    pn_buf_reset(out);
    pn_buf_reserve(out, len);
    while (out->len < len) {
        ssize_t n = pn_stream_read(stream, out->data + out->len, len - out->len);
        if (n <= 0)
            return -1;
        out->len += (size_t)n;
    }
    out->data[out->len] = 0;
    return 1;
}

int pn_attr_take_frame(pn_buf *in, pn_buf *out)
{
    if (in->len < 4)
        return 0;
    uint32_t len = get_u32(in->data);
    if (len == 0 || len > PN_ATTR_MAX_FRAME)
        return -1;
    if (in->len < 4 + (size_t)len)
        return 0;
    pn_buf_reset(out);
    pn_buf_append(out, in->data + 4, len);
    memmove(in->data, in->data + 4 + len, in->len - 4 - len);
    pn_buf_truncate(in, in->len - 4 - len);
    return 1;
}

int pn_attr_write_frame(pn_stream *stream, pn_attr_out *out)
{
    size_t len;
    const char *frame = pn_attr_frame(out, &len);
    if (pn_stream_write(stream, frame, len) < 0)
        return -1;
    return pn_stream_flush(stream);
}
