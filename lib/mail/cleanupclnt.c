/* cleanupclnt.c: the client side of the cleanup protocol. Records are buffered in the stream
 * and flushed when a reply is awaited, so a message costs a few writes, not one per line. */
#include "mail/cleanupclnt.h"

#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/mem.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"
#include "mail/qfile.h"

struct pn_cleanup_client {
    pn_ipc_client *ipc; /* the kept connection, with its retirement and retry rules */
    pn_stream *stream;  /* while a message is open */
};

pn_cleanup_client *pn_cleanup_client_new(const char *path)
{
    pn_cleanup_client *c = pn_calloc(1, sizeof(*c));
    c->ipc = pn_ipc_client_new(path, "cleanup");
    return c;
}

static void disconnect(pn_cleanup_client *c)
{
    pn_ipc_client_disconnect(c->ipc);
    c->stream = NULL;
}

void pn_cleanup_client_free(pn_cleanup_client *c)
{
    if (c == NULL)
        return;
    pn_ipc_client_free(c->ipc);
    free(c);
}

static void record(pn_cleanup_client *c, int type, const void *data, size_t len)
{
    unsigned char head[5];
    if (c->stream == NULL)
        return;
    head[0] = (unsigned char)type;
    pn_put_be32(head + 1, (uint32_t)len);
    pn_stream_write(c->stream, head, 5);
    if (len)
        pn_stream_write(c->stream, data, len);
}

/* read_reply: cleanup's answer to the message; the message is closed either way. */
static int read_reply(pn_cleanup_client *c, pn_attrs *reply, pn_buf *storage, pn_buf *why)
{
    pn_stream *stream = c->stream;
    c->stream = NULL;
    if (stream == NULL || pn_stream_flush(stream) < 0 || pn_attr_read_frame(stream, storage) <= 0 ||
        pn_attr_parse(storage->data, storage->len, reply, why) < 0) {
        if (why->len == 0)
            pn_buf_puts(why, "lost connection to the cleanup service");
        disconnect(c);
        return -1;
    }
    return 0;
}

int pn_cleanup_received_flags(void)
{
    int flags = PN_CLEANUP_FLAGS_RECEIVED;
    if (pn_config_list_has(PN_P(receive_override_options), "no_header_body_checks"))
        flags &= ~PN_CLEANUP_FLAG_FILTER;
    if (pn_config_list_has(PN_P(receive_override_options), "no_address_mappings"))
        flags = (flags & ~PN_CLEANUP_FLAG_BCC_OK) | PN_CLEANUP_FLAG_NO_MAP;
    return flags;
}

void pn_cleanup_filter(pn_cleanup_client *c)
{
    const char *filter = pn_config_get(PN_P(content_filter));
    if (*filter)
        pn_cleanup_attr(c, "content_filter", filter);
}

int pn_cleanup_open(pn_cleanup_client *c, int flags, pn_buf *queue_id, pn_buf *why)
{
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_REQ, PN_REQ_OPEN);
    pn_attr_put_int(&req, PN_ATTR_FLAGS, flags);
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    int64_t status = -1;
    pn_buf_reset(why);
    int rc = pn_ipc_call(c->ipc, &req, &storage, &reply, why);
    pn_attr_release(&req);
    if (rc == 0) {
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &status);
        rc = status == 0 && pn_attr_copy_str(&reply, PN_ATTR_QUEUE_ID, queue_id) == 1 ? 0 : -1;
        if (rc < 0 && pn_attr_copy_str(&reply, PN_ATTR_REASON, why) != 1)
            pn_buf_set(why, "cleanup could not open a queue file");
    }
    pn_buf_release(&storage);
    c->stream = rc == 0 ? pn_ipc_client_current(c->ipc) : NULL;
    return rc;
}

void pn_cleanup_attr(pn_cleanup_client *c, const char *name, const char *value)
{
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "%s=%s", name, value);
    record(c, 'A', text.data, text.len);
    pn_buf_release(&text);
}

void pn_cleanup_sender(pn_cleanup_client *c, const char *sender)
{
    record(c, 'S', sender, strlen(sender));
}

void pn_cleanup_rcpt(pn_cleanup_client *c, const char *addr, const char *orig, const char *orcpt,
                     int notify)
{
    pn_buf payload = PN_BUF_INIT;
    unsigned char head[2];
    pn_buf_putc(&payload, PN_RCPT_TODO);
    pn_buf_putc(&payload, notify);
    const char *fields[3] = {addr, orig ? orig : addr, orcpt ? orcpt : ""};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(fields[i]);
        if (len > 65535)
            len = 65535;
        pn_put_be16(head, (uint16_t)len);
        pn_buf_append(&payload, head, 2);
        pn_buf_append(&payload, fields[i], len);
    }
    record(c, 'R', payload.data, payload.len);
    pn_buf_release(&payload);
}

void pn_cleanup_content(pn_cleanup_client *c)
{
    record(c, 'M', "", 0);
}

void pn_cleanup_header(pn_cleanup_client *c, const char *field, size_t len)
{
    record(c, 'H', field, len);
}

void pn_cleanup_body(pn_cleanup_client *c, const char *data, size_t len)
{
    for (size_t done = 0; done < len; done += PN_QF_BODY_PIECE)
        record(c, 'B', data + done, len - done < PN_QF_BODY_PIECE ? len - done : PN_QF_BODY_PIECE);
}

void pn_cleanup_message(pn_cleanup_client *c, const char *msg, size_t msg_len)
{
    const char *p = msg, *end = msg + msg_len;
    pn_buf field = PN_BUF_INIT;
    pn_buf_init(&field);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 0 && (p[0] == ' ' || p[0] == '\t') && field.len) {
            pn_buf_putc(&field, '\n');
            pn_buf_append(&field, p, n);
            p += n + (nl != NULL);
            continue;
        }
        if (field.len) {
            pn_cleanup_header(c, field.data, field.len);
            pn_buf_reset(&field);
        }
        const char *colon = memchr(p, ':', n);
        int is_header = colon && colon > p;
        for (const char *ch = p; is_header && ch < colon; ch++)
            if (*ch <= ' ' || *ch >= 127)
                is_header = 0;
        if (!is_header) {
            if (n == 0)
                p += nl != NULL; /* the empty line between header and body */
            break;
        }
        pn_buf_append(&field, p, n);
        p += n + (nl != NULL);
    }
    if (field.len)
        pn_cleanup_header(c, field.data, field.len);
    pn_cleanup_body(c, p, (size_t)(end - p));
    pn_buf_release(&field);
}

int pn_cleanup_finish(pn_cleanup_client *c, int *status, pn_buf *reason)
{
    record(c, '.', "", 0);
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    int64_t st = -1;
    int rc = read_reply(c, &reply, &storage, reason);
    if (rc == 0) {
        pn_attr_get_int(&reply, PN_ATTR_STATUS, &st);
        pn_attr_copy_str(&reply, PN_ATTR_REASON, reason);
    }
    *status = (int)st;
    pn_buf_release(&storage);
    return rc;
}

void pn_cleanup_abort(pn_cleanup_client *c)
{
    if (c->stream == NULL)
        return;
    record(c, '!', "", 0);
    pn_buf storage = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_attrs reply;
    read_reply(c, &reply, &storage, &why);
    pn_buf_release(&storage);
    pn_buf_release(&why);
}

int pn_cleanup_submit(pn_cleanup_client *client, const char *sender, const char *rcpt,
                      const char *field, const char *msg, size_t len, pn_buf *queue_id, pn_buf *why)
{
    int status = -1;
    if (pn_cleanup_open(client, 0, queue_id, why) < 0)
        return -1;
    pn_cleanup_attr(client, "rewrite_context", "local");
    pn_cleanup_sender(client, sender);
    pn_cleanup_rcpt(client, rcpt, rcpt, "", 0);
    pn_cleanup_content(client);
    if (field)
        pn_cleanup_header(client, field, strlen(field));
    pn_cleanup_message(client, msg, len);
    if (pn_cleanup_finish(client, &status, why) == 0 && status == 0)
        return 0;
    if (why->len == 0)
        pn_buf_printf(why, "cleanup refused the message (status %d)", status);
    return -1;
}
