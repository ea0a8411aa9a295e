/* resolveclnt.c: resolve requests to trivial-rewrite through an LRU cache. An entry is the
 * whole answer for one (sender, address) pair; the cache never answers for a server it did
 * not talk to on the current connection, and never for longer than a second without a word
 * from the server. */
#include "mail/resolveclnt.h"

#include <stdlib.h>
#include <string.h>

#include "base/event.h"
#include "base/htable.h"
#include "base/mem.h"
#include "ipc/attr.h"
#include "ipc/ipcclnt.h"
#include "ipc/proto.h"

#define TRUST_MS 1000 /* the cache answers alone this long after the server last did */

typedef struct entry {
    struct entry *newer, *older; /* LRU list */
    char *key;
    pn_resolved answer;
    long long stored_ms;
} entry;

struct pn_resolve_client {
    pn_ipc_client *ipc;
    pn_htable *table;
    entry *newest, *oldest;
    size_t count;
    unsigned long connects; /* pn_ipc_connects when the entries were made */
    long long asked_ms;     /* the server last answered */
    unsigned long hits, misses;
};

pn_resolve_client *pn_resolve_client_new(void)
{
    pn_resolve_client *c = pn_calloc(1, sizeof(*c));
    c->ipc = pn_ipc_client_new(PN_SVC_REWRITE, PN_PROTO_REWRITE);
    c->table = pn_htable_new(PN_RESOLVE_CACHE_SIZE);
    return c;
}

static void unlink_entry(pn_resolve_client *c, entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void push_newest(pn_resolve_client *c, entry *e)
{
    e->older = c->newest;
    if (c->newest)
        c->newest->newer = e;
    c->newest = e;
    if (c->oldest == NULL)
        c->oldest = e;
}

static void drop_entry(pn_resolve_client *c, entry *e)
{
    unlink_entry(c, e);
    pn_htable_remove(c->table, e->key);
    free(e->key);
    pn_resolved_release(&e->answer);
    free(e);
    c->count--;
}

static void flush(pn_resolve_client *c)
{
    while (c->oldest)
        drop_entry(c, c->oldest);
}

void pn_resolve_client_free(pn_resolve_client *c)
{
    if (c == NULL)
        return;
    flush(c);
    pn_htable_free(c->table, NULL);
    pn_ipc_client_free(c->ipc);
    free(c);
}

void pn_resolve_stats(const pn_resolve_client *c, unsigned long *hits, unsigned long *misses)
{
    *hits = c->hits;
    *misses = c->misses;
}

static void make_key(const char *sender, const char *addr, pn_buf *key)
{
    pn_buf_reset(key);
    pn_buf_printf(key, "%zu:%s%s", strlen(sender), sender, addr);
}

static void copy_buf(pn_buf *to, const pn_buf *from)
{
    pn_buf_reset(to);
    pn_buf_append(to, from->data, from->len);
}

static void copy_answer(pn_resolved *to, const pn_resolved *from)
{
    copy_buf(&to->transport, &from->transport);
    copy_buf(&to->nexthop, &from->nexthop);
    copy_buf(&to->recipient, &from->recipient);
    to->flags = from->flags;
}

/* lookup: the cached answer for key, or NULL. */
static const pn_resolved *lookup(pn_resolve_client *c, const char *key, long long now)
{
    entry *e = pn_htable_get(c->table, key);
    if (e == NULL)
        return NULL;
    if (now - e->stored_ms > PN_RESOLVE_CACHE_TTL * 1000LL) {
        drop_entry(c, e);
        return NULL;
    }
    unlink_entry(c, e);
    push_newest(c, e);
    return &e->answer;
}

static void store(pn_resolve_client *c, const char *key, const pn_resolved *answer, long long now)
{
    if (answer->flags & PN_RESOLVE_FAIL)
        return; /* a failed lookup is asked again */
    entry *e = pn_htable_get(c->table, key);
    if (e) {
        drop_entry(c, e);
    } else if (c->count >= PN_RESOLVE_CACHE_SIZE) {
        drop_entry(c, c->oldest);
    }
    e = pn_calloc(1, sizeof(*e));
    e->key = pn_strdup(key);
    pn_resolved_init(&e->answer);
    copy_answer(&e->answer, answer);
    e->stored_ms = now;
    pn_htable_put(c->table, e->key, e);
    push_newest(c, e);
    c->count++;
}

/* ask_server: one request for the addresses whose todo flag is set. */
static int ask_server(pn_resolve_client *c, const char *sender, const char *const *addrs,
                      const char *todo, size_t n, pn_resolved *out, pn_buf *why)
{
    pn_attr_out req;
    pn_attr_begin(&req);
    pn_attr_put_cstr(&req, PN_ATTR_REQ, PN_REQ_RESOLVE);
    pn_attr_put_cstr(&req, PN_ATTR_SENDER, sender);
    for (size_t i = 0; i < n; i++) {
        if (!todo[i])
            continue;
        pn_attr_group_begin(&req, PN_ATTR_RCPT);
        pn_attr_put_cstr(&req, PN_ATTR_ADDR, addrs[i]);
        pn_attr_group_end(&req);
    }
    pn_buf storage = PN_BUF_INIT, key = PN_BUF_INIT;
    pn_attrs reply, g;
    int rc = pn_ipc_call(c->ipc, &req, &storage, &reply, why);
    pn_attr_release(&req);
    long long now = pn_event_now_ms();
    if (rc == 0 && pn_ipc_connects(c->ipc) != c->connects) {
        flush(c); /* a new connection, perhaps a new server: forget the old one's answers */
        c->connects = pn_ipc_connects(c->ipc);
    }
    size_t cursor = 0, i = 0;
    while (rc == 0 && i < n) {
        if (!todo[i]) {
            i++;
            continue;
        }
        if (pn_attr_next_group(&reply, PN_ATTR_RESULT, &cursor, &g) <= 0) {
            pn_buf_puts(why, "short reply from the rewrite service");
            rc = -1;
            break;
        }
        int64_t flags = 0;
        pn_attr_copy_str(&g, PN_ATTR_TRANSPORT, &out[i].transport);
        pn_attr_copy_str(&g, PN_ATTR_NEXTHOP, &out[i].nexthop);
        pn_attr_copy_str(&g, PN_ATTR_RECIPIENT, &out[i].recipient);
        pn_attr_get_int(&g, PN_ATTR_FLAGS, &flags);
        out[i].flags = (int)flags;
        make_key(sender, addrs[i], &key);
        store(c, key.data, &out[i], now);
        i++;
    }
    if (rc == 0)
        c->asked_ms = now;
    pn_buf_release(&storage);
    pn_buf_release(&key);
    return rc;
}

int pn_resolve_addrs(pn_resolve_client *c, const char *sender, const char *const *addrs, size_t n,
                     pn_resolved *out, pn_buf *why)
{
    long long now = pn_event_now_ms();
    int trusted = now - c->asked_ms <= TRUST_MS;
    char *todo = pn_calloc(n + 1, 1);
    size_t missing = 0;
    pn_buf key = PN_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        make_key(sender, addrs[i], &key);
        const pn_resolved *hit = trusted ? lookup(c, key.data, now) : NULL;
        if (hit) {
            copy_answer(&out[i], hit);
            c->hits++;
        } else {
            todo[i] = 1;
            missing++;
            c->misses++;
        }
    }
    pn_buf_release(&key);
    int rc = missing ? ask_server(c, sender, addrs, todo, n, out, why) : 0;
    free(todo);
    return rc;
}
