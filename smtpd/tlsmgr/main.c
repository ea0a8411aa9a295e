/* main.c: tlsmgr, the keeper of TLS session ticket keys (private/tlsmgr), so that a client
 * resumes its TLS session with any smtpd process, not only the one that issued its ticket.
 * One process (maxproc 1), many clients on kept connections:
 *   {req=tktkey}           -> {status=0, keyname, key, expires}: the key to encrypt with now
 *   {req=tktkey, keyname}  -> the same for that key while tickets under it are accepted, or
 *                             {status=1} when it is unknown or too old
 * A key (a name of 16 bytes, then 32 bytes of cipher key and 32 of HMAC key, from
 * getrandom()) encrypts new tickets for smtpd_tls_session_cache_timeout and is accepted for
 * as long again; keys live in memory only, so a new tlsmgr means full handshakes once. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/event.h"
#include "base/log.h"
#include "base/stream.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"
#include "ipc/server.h"

#define KEY_NAME_LEN 16
#define KEY_LEN (KEY_NAME_LEN + 64)
#define KEYS 2 /* the one in use and the one before it */

static struct ticket_key {
    unsigned char bytes[KEY_LEN];
    time_t born; /* 0: empty */
} keys[KEYS];

static int fill_random(unsigned char *out, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(out + got, len - got, 0);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            got += (size_t)n;
    }
    return 0;
}

static long lifetime(void)
{
    long t = pn_config_get_time(PN_P(smtpd_tls_session_cache_timeout));
    return t > 0 ? t : 3600;
}

/* current: the key to encrypt with, a new one when the last is older than the lifetime. */
static struct ticket_key *current(time_t now)
{
    if (keys[0].born && now - keys[0].born < lifetime())
        return &keys[0];
    keys[1] = keys[0];
    if (fill_random(keys[0].bytes, KEY_LEN) < 0)
        pn_fatal("getrandom: %s", strerror(errno));
    keys[0].born = now;
    return &keys[0];
}

static void put_key(pn_attr_out *reply, const struct ticket_key *k)
{
    pn_attr_put_int(reply, PN_ATTR_STATUS, 0);
    pn_attr_put_str(reply, PN_ATTR_KEYNAME, k->bytes, KEY_NAME_LEN);
    pn_attr_put_str(reply, PN_ATTR_KEY, k->bytes, KEY_LEN);
    pn_attr_put_int(reply, PN_ATTR_EXPIRES, (int64_t)(k->born + lifetime()));
}

/* handle: one request; -1 drops the client (also master's wake-up byte, which is no frame). */
static int handle(const pn_buf *frame, pn_attr_out *reply)
{
    pn_attrs req;
    pn_buf why = PN_BUF_INIT, kind = PN_BUF_INIT, name = PN_BUF_INIT;
    int rc = 0;
    time_t now = time(NULL);
    if (pn_attr_parse(frame->data, frame->len, &req, &why) < 0 ||
        pn_attr_copy_str(&req, PN_ATTR_REQ, &kind) != 1) {
        rc = -1;
    } else if (strcmp(kind.data, PN_REQ_TKTKEY) != 0) {
        pn_attr_put_int(reply, PN_ATTR_STATUS, -1);
        pn_attr_put_cstr(reply, PN_ATTR_REASON, "unknown request");
    } else if (pn_attr_copy_str(&req, PN_ATTR_KEYNAME, &name) != 1) {
        put_key(reply, current(now));
    } else {
        const struct ticket_key *found = NULL;
        current(now); /* rotates, so that an old key is never accepted too long */
        for (int i = 0; i < KEYS && !found; i++)
            if (keys[i].born && name.len == KEY_NAME_LEN &&
                memcmp(keys[i].bytes, name.data, KEY_NAME_LEN) == 0 &&
                now - keys[i].born < 2 * lifetime())
                found = &keys[i];
        if (found)
            put_key(reply, found);
        else
            pn_attr_put_int(reply, PN_ATTR_STATUS, 1);
    }
    pn_buf_release(&why);
    pn_buf_release(&kind);
    pn_buf_release(&name);
    return rc;
}

static void client_close(int fd, pn_stream *client)
{
    pn_event_unwatch(fd);
    pn_stream_close(client);
    pn_server_disconnect(fd);
}

static void drop(int fd, void *client)
{
    client_close(fd, client);
}

static void readable(int fd, int events, void *ctx)
{
    pn_stream *client = ctx;
    pn_buf frame = PN_BUF_INIT;
    (void)events;
    int alive = 1;
    do {
        pn_server_request_ready();
        if (pn_attr_read_frame(client, &frame) <= 0) {
            alive = 0;
            break;
        }
        pn_attr_out reply;
        pn_attr_begin(&reply);
        alive = handle(&frame, &reply) == 0 && pn_attr_write_frame(client, &reply) == 0 &&
                !pn_server_client_done(fd);
        pn_attr_release(&reply);
    } while (alive && pn_stream_buffered(client) > 0);
    pn_buf_release(&frame);
    if (!alive)
        client_close(fd, client);
}

static void serve(int fd, void *ctx)
{
    (void)ctx;
    pn_stream *client = pn_stream_fdopen(fd);
    pn_stream_set_timeout(client, (int)(pn_config_get_time(PN_P(ipc_timeout)) * 1000));
    pn_server_client_data(fd, client);
    if (pn_ipc_send_hello(client, PN_PROTO_TLSMGR, 0) < 0) {
        client_close(fd, client);
        return;
    }
    pn_event_watch(fd, PN_EVENT_READ, readable, client);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .drop = drop,
                               .max_use = 0, /* keys live in this process: it stays */
                               .max_idle = 0,
                               .process_limit = 1};
    return pn_multi_server_main(argc, argv, &server);
}
