/* attr.h: ATTR/1, the framing of every request and reply between Postern's processes
 * (doc/protocols.md): a 4-byte big-endian length, then typed, named attributes: 'S'
 * strings, 'I' 64-bit integers, 'G' groups (nested at most 4 deep). Decoding is strict. */
#ifndef PN_IPC_ATTR_H
#define PN_IPC_ATTR_H
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/stream.h"

#define PN_ATTR_MAX_FRAME (1024 * 1024)
#define PN_ATTR_MAX_DEPTH 4
#define PN_ATTR_MAX_NAMES 128 /* plain attributes at one level of a frame */

/* Encoder. */
typedef struct pn_attr_out {
    pn_buf buf;
    size_t groups[PN_ATTR_MAX_DEPTH]; /* offsets of open group lengths */
    int depth;
} pn_attr_out;

void pn_attr_begin(pn_attr_out *out);
void pn_attr_release(pn_attr_out *out);
void pn_attr_put_str(pn_attr_out *out, const char *name, const void *value, size_t len);
void pn_attr_put_cstr(pn_attr_out *out, const char *name, const char *value);
void pn_attr_put_int(pn_attr_out *out, const char *name, int64_t value);
void pn_attr_group_begin(pn_attr_out *out, const char *name);
void pn_attr_group_end(pn_attr_out *out);
/* pn_attr_frame: the finished frame (length prefix filled in). */
const char *pn_attr_frame(pn_attr_out *out, size_t *len);

/* Decoder: a view of one validated payload (or group value). */
typedef struct pn_attrs {
    const char *data;
    size_t len;
} pn_attrs;

/* pn_attr_parse: validate a whole payload; -1 with why set when it is malformed. */
int pn_attr_parse(const char *payload, size_t len, pn_attrs *out, pn_buf *why);
/* Lookups in a validated payload: 1 found, 0 absent, -1 present with the wrong type. */
int pn_attr_get_str(const pn_attrs *attrs, const char *name, const char **value, size_t *len);
int pn_attr_get_int(const pn_attrs *attrs, const char *name, int64_t *value);
/* pn_attr_next_group: groups called name in order; *cursor starts at 0. */
int pn_attr_next_group(const pn_attrs *attrs, const char *name, size_t *cursor, pn_attrs *group);
/* pn_attr_copy_str: a string attribute as a NUL-terminated copy in out (0/1/-1 as above). */
int pn_attr_copy_str(const pn_attrs *attrs, const char *name, pn_buf *out);

/* Frames on streams. pn_attr_read_frame: 1 with the payload in out, 0 at a clean end of
 * input, -1 on error or a frame longer than PN_ATTR_MAX_FRAME. */
int pn_attr_read_frame(pn_stream *stream, pn_buf *out);
/* pn_attr_take_frame: for event-driven readers that collect a connection's bytes in in: 1
 * with the first whole frame's payload moved to out, 0 while it is incomplete, -1 when its
 * length is impossible. */
int pn_attr_take_frame(pn_buf *in, pn_buf *out);
int pn_attr_write_frame(pn_stream *stream, pn_attr_out *out);

#endif
