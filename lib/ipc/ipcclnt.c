/* ipcclnt.c: kept connections to internal services. A request is sent at most once to a
 * server that may act on it. A kept connection that the server closed (it retired: max_use,
 * a changed table, a reload) is noticed before the request goes out, and a request that
 * met a closing server anyway is retried once on a fresh connection only when the kernel
 * proves that the server never read it: the write failed (EPIPE), or the server closed with
 * the request still unread in its socket (ECONNRESET). A plain end of file after the
 * request means the server read it and died: that is an error, never a retry. */
#include "ipc/ipcclnt.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/event.h"
#include "base/mem.h"
#include "base/sock.h"
#include "config/cfparams.h"
#include "ipc/proto.h"

struct pn_ipc_client {
    char *path;
    char *proto;
    pn_stream *stream;
    long long opened_ms;
    long long used_ms;
    long long generation;
    unsigned long connects;
    long long idle_ms, ttl_ms; /* ipc_idle, ipc_ttl: read once (a reload retires the process) */
};

pn_ipc_client *pn_ipc_client_new(const char *path, const char *proto)
{
    pn_ipc_client *c = pn_calloc(1, sizeof(*c));
    c->path = pn_strdup(path);
    c->proto = pn_strdup(proto);
    c->idle_ms = pn_config_get_time(PN_P(ipc_idle)) * 1000LL;
    c->ttl_ms = pn_config_get_time(PN_P(ipc_ttl)) * 1000LL;
    return c;
}

static void disconnect(pn_ipc_client *c)
{
    if (c->stream)
        pn_stream_close(c->stream);
    c->stream = NULL;
}

void pn_ipc_client_free(pn_ipc_client *c)
{
    if (c == NULL)
        return;
    disconnect(c);
    free(c->path);
    free(c->proto);
    free(c);
}

long long pn_ipc_generation(const pn_ipc_client *c)
{
    return c->generation;
}

unsigned long pn_ipc_connects(const pn_ipc_client *c)
{
    return c->connects;
}

void pn_ipc_client_disconnect(pn_ipc_client *c)
{
    disconnect(c);
}

pn_stream *pn_ipc_client_current(pn_ipc_client *c)
{
    return c->stream;
}

/* kept_usable: the kept connection may carry the next request: young enough (ipc_idle,
 * ipc_ttl), and not closed by the server (readable between requests means an end of file
 * or bytes nobody asked for; either way it is done). */
static int kept_usable(pn_ipc_client *c)
{
    if (c->stream == NULL)
        return 0;
    long long now = pn_event_now_ms();
    struct pollfd pfd = {.fd = pn_stream_fd(c->stream), .events = POLLIN};
    if (now - c->used_ms > c->idle_ms || now - c->opened_ms > c->ttl_ms ||
        pn_stream_buffered(c->stream) > 0 || poll(&pfd, 1, 0) != 0) {
        disconnect(c);
        return 0;
    }
    return 1;
}

static int connect_service(pn_ipc_client *c, pn_buf *why)
{
    int fd = pn_sock_connect_unix(c->path, why);
    if (fd < 0)
        return -1;
    c->stream = pn_stream_fdopen(fd);
    pn_stream_set_timeout(c->stream, (int)(pn_config_get_time(PN_P(ipc_timeout)) * 1000));
    pn_buf hello = PN_BUF_INIT;
    pn_attrs attrs;
    const char *proto;
    size_t len;
    int64_t version = 0, gen = 0;
    int rc = pn_attr_read_frame(c->stream, &hello);
    if (rc <= 0 || pn_attr_parse(hello.data, hello.len, &attrs, why) < 0 ||
        pn_attr_get_str(&attrs, PN_ATTR_PROTO, &proto, &len) != 1 || len != strlen(c->proto) ||
        memcmp(proto, c->proto, len) != 0 || pn_attr_get_int(&attrs, PN_ATTR_VER, &version) != 1 ||
        version != 1) {
        if (why->len == 0)
            pn_buf_printf(why, "%s: bad or missing hello from the %s service", c->path, c->proto);
        pn_buf_release(&hello);
        disconnect(c);
        return -1;
    }
    pn_attr_get_int(&attrs, PN_ATTR_GEN, &gen);
    c->generation = gen;
    c->connects++;
    pn_buf_release(&hello);
    c->opened_ms = c->used_ms = pn_event_now_ms();
    return 0;
}

pn_stream *pn_ipc_client_stream(pn_ipc_client *c, pn_buf *why)
{
    if (!kept_usable(c) && connect_service(c, why) < 0)
        return NULL;
    return c->stream;
}

/* unread_by_server: the last failed write or read proves the server never read the request. */
static int unread_by_server(int err)
{
    return err == EPIPE || err == ECONNRESET;
}

int pn_ipc_call(pn_ipc_client *c, pn_attr_out *request, pn_buf *storage, pn_attrs *reply,
                pn_buf *why)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (pn_ipc_client_stream(c, why) == NULL)
            return -1;
        errno = 0;
        int rc = pn_attr_write_frame(c->stream, request);
        if (rc == 0)
            rc = pn_attr_read_frame(c->stream, storage);
        int err = errno;
        if (rc > 0) {
            if (pn_attr_parse(storage->data, storage->len, reply, why) < 0) {
                disconnect(c);
                return -1;
            }
            c->used_ms = pn_event_now_ms();
            return 0;
        }
        disconnect(c);
        if (rc < 0 && unread_by_server(err) && attempt == 0)
            continue; /* the server retired before it read the request: once more */
        pn_buf_printf(why, "%s: no reply from the %s service (%s)", c->path, c->proto,
                      rc == 0 ? "end of file"
                      : err   ? strerror(err)
                              : "bad frame");
        return -1;
    }
    pn_buf_printf(why, "%s: the %s service keeps closing the connection", c->path, c->proto);
    return -1;
}

int pn_ipc_send_hello(pn_stream *stream, const char *proto, long long generation)
{
    pn_attr_out hello;
    pn_attr_begin(&hello);
    pn_attr_put_cstr(&hello, PN_ATTR_PROTO, proto);
    pn_attr_put_int(&hello, PN_ATTR_VER, 1);
    if (generation)
        pn_attr_put_int(&hello, PN_ATTR_GEN, generation);
    int rc = pn_attr_write_frame(stream, &hello);
    pn_attr_release(&hello);
    return rc;
}
