/* submit.c: smtpd's side of the cleanup protocol, on one connection kept for the whole
 * process. A message is opened at the first accepted RCPT (that is when its queue ID exists
 * and "ID: client=" is logged), recipients follow as they are accepted, and the content after
 * DATA; cleanup answers once the file is safely on disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/log.h"
#include "base/sock.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "mail/qfile.h"
#include "smtpd.h"

static pn_stream *cleanup;

static void record(int type, const void *data, size_t len)
{
    unsigned char head[5];
    head[0] = (unsigned char)type;
    pn_put_be32(head + 1, (uint32_t)len);
    pn_stream_write(cleanup, head, 5);
    if (len)
        pn_stream_write(cleanup, data, len);
}

static void attr(const char *name, const char *value)
{
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "%s=%s", name, value);
    record('A', text.data, text.len);
    pn_buf_release(&text);
}

static void disconnect(void)
{
    if (cleanup)
        pn_stream_close(cleanup);
    cleanup = NULL;
}

static int read_reply(pn_attrs *reply, pn_buf *storage, pn_buf *why)
{
    if (pn_stream_flush(cleanup) < 0 || pn_attr_read_frame(cleanup, storage) <= 0 ||
        pn_attr_parse(storage->data, storage->len, reply, why) < 0) {
        if (why->len == 0)
            pn_buf_puts(why, "lost connection to the cleanup service");
        disconnect();
        return -1;
    }
    return 0;
}

static int connect_cleanup(pn_buf *why)
{
    const char *path = "public/cleanup";
    int fd = pn_sock_connect_unix(path, why);
    if (fd < 0)
        return -1;
    cleanup = pn_stream_fdopen(fd);
    pn_stream_set_timeout(cleanup, (int)(pn_config_get_time("ipc_timeout") * 1000));
    pn_buf hello = PN_BUF_INIT;
    pn_attrs attrs;
    const char *proto;
    size_t len;
    int rc = read_reply(&attrs, &hello, why);
    if (rc == 0 && (pn_attr_get_str(&attrs, "proto", &proto, &len) != 1 || len != 7 ||
                    memcmp(proto, "cleanup", 7) != 0)) {
        pn_buf_puts(why, "bad hello from the cleanup service");
        disconnect();
        rc = -1;
    }
    pn_buf_release(&hello);
    return rc;
}

int submit_open(smtpd_session *s, pn_buf *why)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (cleanup == NULL && connect_cleanup(why) < 0)
            return -1;
        pn_attr_out req;
        pn_attr_begin(&req);
        pn_attr_put_cstr(&req, "req", "open");
        pn_attr_put_int(&req, "flags", 0);
        int rc = pn_attr_write_frame(cleanup, &req);
        pn_attr_release(&req);
        pn_buf storage = PN_BUF_INIT;
        pn_attrs reply;
        int64_t status = -1;
        pn_buf_reset(why);
        if (rc < 0 || read_reply(&reply, &storage, why) < 0) {
            pn_buf_release(&storage);
            continue; /* a kept connection may have been retired: once more */
        }
        pn_attr_get_int(&reply, "status", &status);
        if (status != 0 || pn_attr_copy_str(&reply, "queue_id", &s->queue_id) != 1) {
            pn_attr_copy_str(&reply, "reason", why);
            pn_buf_release(&storage);
            return -1;
        }
        pn_buf_release(&storage);
        pn_info("%s: client=%s[%s]", s->queue_id.data, s->name.data, s->addr.data);
        int local = smtpd_in_mynetworks(s) || strcmp(s->addr.data, "127.0.0.1") == 0 ||
                    strcmp(s->addr.data, "::1") == 0;
        attr("rewrite_context", local ? "local" : "remote");
        attr("client_name", s->name.data);
        attr("client_addr", s->addr.data);
        attr("client_port", s->port.data);
        if (s->helo.len)
            attr("client_helo", s->helo.data);
        attr("client_proto", smtpd_proto(s));
        record('S', s->sender.data, s->sender.len);
        return 0;
    }
    return -1;
}

int submit_envelope_rcpt(smtpd_session *s, const char *rcpt)
{
    (void)s;
    pn_buf payload = PN_BUF_INIT;
    unsigned char head[2];
    pn_buf_putc(&payload, PN_RCPT_TODO);
    pn_buf_putc(&payload, 0);
    for (int i = 0; i < 3; i++) {
        const char *text = i < 2 ? rcpt : "";
        pn_put_be16(head, (uint16_t)strlen(text));
        pn_buf_append(&payload, head, 2);
        pn_buf_puts(&payload, text);
    }
    record('R', payload.data, payload.len);
    pn_buf_release(&payload);
    return 0;
}

/* content: header fields up to the first empty line (or the first line that is not a
 * header), then the body. */
static void send_content(const pn_buf *msg)
{
    const char *p = msg->data, *end = msg->data + msg->len;
    pn_buf field = PN_BUF_INIT;
    pn_buf_init(&field);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int continuation = n > 0 && (p[0] == ' ' || p[0] == '\t');
        if (continuation && field.len) {
            pn_buf_putc(&field, '\n');
            pn_buf_append(&field, p, n);
            p += n + (nl != NULL);
            continue;
        }
        if (field.len) {
            record('H', field.data, field.len);
            pn_buf_reset(&field);
        }
        const char *colon = memchr(p, ':', n);
        int is_header = colon && colon > p;
        for (const char *c = p; is_header && c < colon; c++)
            if (*c <= ' ' || *c >= 127)
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
        record('H', field.data, field.len);
    for (const char *b = p; b < end; b += PN_QF_BODY_PIECE)
        record('B', b, (size_t)(end - b) < PN_QF_BODY_PIECE ? (size_t)(end - b)
                                                              : PN_QF_BODY_PIECE);
    pn_buf_release(&field);
}

int submit_content(smtpd_session *s, const pn_buf *msg, int too_big, int *status,
                   pn_buf *reason)
{
    (void)s;
    record('M', "", 0);
    if (!too_big)
        send_content(msg);
    record(too_big ? '!' : '.', "", 0);
    pn_buf storage = PN_BUF_INIT;
    pn_attrs reply;
    int64_t st = -1;
    pn_buf why = PN_BUF_INIT;
    int rc = read_reply(&reply, &storage, &why);
    if (rc == 0) {
        pn_attr_get_int(&reply, "status", &st);
        pn_attr_copy_str(&reply, "reason", reason);
    } else {
        pn_buf_set(reason, why.data);
    }
    *status = (int)st;
    pn_buf_release(&storage);
    pn_buf_release(&why);
    return rc;
}

void submit_abort(smtpd_session *s)
{
    if (s->queue_id.len == 0 || cleanup == NULL)
        return;
    record('!', "", 0);
    pn_buf storage = PN_BUF_INIT, why = PN_BUF_INIT;
    pn_attrs reply;
    read_reply(&reply, &storage, &why);
    pn_buf_release(&storage);
    pn_buf_release(&why);
    pn_buf_reset(&s->queue_id);
}
