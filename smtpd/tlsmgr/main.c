/* main.c: tlsmgr (private/tlsmgr): the TLS session ticket keys every smtpd process shares,
 * so that a client resumes its session with any smtpd process, not only the one that issued
 * its ticket; and the session caches of smtpd_tls_session_cache_database,
 * smtp_tls_session_cache_database and lmtp_tls_session_cache_database. One process (maxproc 1),
 * many clients on kept connections: {req=tktkey}           -> {status=0, keyname, key, expires}:
 * the key to encrypt with now {req=tktkey, keyname}  -> the same for that key while tickets under
 * it are accepted, or {status=1} when it is unknown or too old {req=lookup, cache=smtpd|smtp|lmtp,
 * id}   -> {status=0, session} or {status=1} {req=update, cache, id, session}     -> {status=0}
 *   {req=delete, cache, id}              -> {status=0}
 * A key (a name of 16 bytes, then 32 bytes of cipher key and 32 of HMAC key, from
 * getrandom()) encrypts new tickets for smtpd_tls_session_cache_timeout and is accepted for
 * as long again; keys live in memory only, so a new tlsmgr means full handshakes once. The
 * cache files are made anew when tlsmgr starts (opened before the chroot); an entry is
 * "expiry:base64 of the session", dropped once expired. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/codec.h"
#include "base/log.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "ipc/server.h"
#include "mail/dict.h"

#define KEY_NAME_LEN 16
#define KEY_LEN (KEY_NAME_LEN + 64)
#define KEYS 2 /* the one in use and the one before it */

static struct ticket_key {
    unsigned char bytes[KEY_LEN];
    time_t born; /* 0: empty */
} keys[KEYS];

/* The session caches. */
static struct cache {
    const char *name;     /* the cache= of requests */
    const char *database; /* its parameter */
    const char *timeout;
    pn_dict *dict;
    unsigned long updates; /* expired entries are swept every SWEEP_EVERY updates */
} caches[] = {
    {"smtpd", PN_P(smtpd_tls_session_cache_database), PN_P(smtpd_tls_session_cache_timeout), NULL,
     0},
    {"smtp", PN_P(smtp_tls_session_cache_database), PN_P(smtp_tls_session_cache_timeout), NULL, 0},
    {"lmtp", PN_P(lmtp_tls_session_cache_database), PN_P(lmtp_tls_session_cache_timeout), NULL, 0}};
#define SWEEP_EVERY 1000
#define SESSION_LIMIT 16384 /* bytes of one session, encoded */

static struct cache *cache_named(const pn_attrs *req)
{
    pn_buf name = PN_BUF_INIT;
    struct cache *found = NULL;
    if (pn_attr_copy_str(req, PN_ATTR_CACHE, &name) == 1)
        for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++)
            if (strcmp(caches[i].name, name.data) == 0 && caches[i].dict)
                found = &caches[i];
    pn_buf_release(&name);
    return found;
}

/* open_caches: before the chroot; each configured cache starts empty. */
static void open_caches(void)
{
    for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
        const char *spec = pn_config_get(caches[i].database);
        if (*spec == 0)
            continue;
        const char *colon = strchr(spec, ':');
        if (colon == NULL || (strncmp(spec, "btree:", 6) != 0 && strncmp(spec, "hash:", 5) != 0))
            pn_fatal("%s: \"%s\": a btree: or hash: table is expected", caches[i].database, spec);
        pn_buf path = PN_BUF_INIT, err = PN_BUF_INIT;
        pn_buf_printf(&path, "%s.db", colon + 1);
        unlink(path.data);
        caches[i].dict = pn_dict_open(spec, PN_DICT_WRITE | PN_DICT_TRY_NUL, &err);
        if (caches[i].dict == NULL)
            pn_fatal("%s: %s", caches[i].database, err.data);
        pn_buf_release(&path);
        pn_buf_release(&err);
    }
}

/* sweep: remove the expired entries of a cache. */
static void sweep(struct cache *c, time_t now)
{
    pn_buf key = PN_BUF_INIT, value = PN_BUF_INIT;
    pn_argv *expired = pn_argv_new();
    for (int first = 1; pn_dict_sequence(c->dict, first, &key, &value) > 0; first = 0)
        if (strtoll(value.data, NULL, 10) <= (long long)now)
            pn_argv_add(expired, key.data);
    for (size_t i = 0; i < expired->len; i++)
        pn_dict_remove(c->dict, expired->items[i]);
    pn_argv_free(expired);
    pn_buf_release(&key);
    pn_buf_release(&value);
}

static void cache_request(const char *kind, const pn_attrs *req, pn_attr_out *reply, time_t now)
{
    struct cache *c = cache_named(req);
    pn_buf id = PN_BUF_INIT, session = PN_BUF_INIT, value = PN_BUF_INIT, key = PN_BUF_INIT;
    int64_t status = 1;
    if (c == NULL || pn_attr_copy_str(req, PN_ATTR_ID, &id) != 1 || id.len == 0) {
        status = -1;
        goto out;
    }
    pn_base64_encode(id.data, id.len, &key); /* ids are bytes; table keys are strings */
    if (strcmp(kind, PN_REQ_LOOKUP) == 0) {
        if (pn_dict_lookup(c->dict, key.data, &value) > 0) {
            char *colon = strchr(value.data, ':');
            if (colon && strtoll(value.data, NULL, 10) > (long long)now &&
                pn_base64_decode(colon + 1, strlen(colon + 1), &session) == 0) {
                pn_attr_put_int(reply, PN_ATTR_STATUS, 0);
                pn_attr_put_str(reply, PN_ATTR_SESSION, session.data, session.len);
                goto done;
            }
            pn_dict_remove(c->dict, key.data);
        }
    } else if (strcmp(kind, PN_REQ_UPDATE) == 0 &&
               pn_attr_copy_str(req, PN_ATTR_SESSION, &session) == 1 &&
               session.len < SESSION_LIMIT) {
        long timeout = pn_config_get_time(c->timeout);
        pn_buf_printf(&value, "%lld:", (long long)now + (timeout > 0 ? timeout : 3600));
        pn_base64_encode(session.data, session.len, &value);
        status = pn_dict_update(c->dict, key.data, value.data) < 0 ? -1 : 0;
        if (++c->updates % SWEEP_EVERY == 0)
            sweep(c, now);
    } else if (strcmp(kind, PN_REQ_DELETE) == 0) {
        pn_dict_remove(c->dict, key.data);
        status = 0;
    } else {
        status = -1;
    }
out:
    pn_attr_put_int(reply, PN_ATTR_STATUS, status);
done:
    pn_buf_release(&id);
    pn_buf_release(&session);
    pn_buf_release(&value);
    pn_buf_release(&key);
}

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

/* handle: one request; -1 drops the client. */
static int handle(const pn_attrs *req, pn_attr_out *reply, void *ctx)
{
    (void)ctx;
    pn_buf kind = PN_BUF_INIT, name = PN_BUF_INIT;
    int rc = 0;
    time_t now = time(NULL);
    if (pn_attr_copy_str(req, PN_ATTR_REQ, &kind) != 1) {
        rc = -1;
    } else if (strcmp(kind.data, PN_REQ_LOOKUP) == 0 || strcmp(kind.data, PN_REQ_UPDATE) == 0 ||
               strcmp(kind.data, PN_REQ_DELETE) == 0) {
        cache_request(kind.data, req, reply, now);
    } else if (strcmp(kind.data, PN_REQ_TKTKEY) != 0) {
        pn_attr_put_int(reply, PN_ATTR_STATUS, -1);
        pn_attr_put_cstr(reply, PN_ATTR_REASON, "unknown request");
    } else if (pn_attr_copy_str(req, PN_ATTR_KEYNAME, &name) != 1) {
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
    pn_buf_release(&kind);
    pn_buf_release(&name);
    return rc;
}

static void serve(int fd, void *ctx)
{
    pn_server_multi_requests(fd, PN_PROTO_TLSMGR, 0, handle, ctx);
}

static void pre_jail(void *ctx)
{
    (void)ctx;
    open_caches();
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .drop = pn_server_multi_drop,
                               .pre_jail = pre_jail,
                               .max_use = 0, /* keys live in this process: it stays */
                               .max_idle = 0,
                               .process_limit = 1};
    return pn_multi_server_main(argc, argv, &server);
}
