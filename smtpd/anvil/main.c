/* main.c: anvil (private/anvil): the counters behind smtpd's per-client limits. One process
 * (maxproc 1) keeps, per "service:address" ident, the connections open now and, over a
 * window of anvil_rate_time_unit that starts with the first event, how many connections,
 * messages, recipients, new TLS sessions and AUTH commands there were. It only counts:
 * smtpd compares with its limits. Requests on kept connections:
 *   {req=connect, ident}       -> {status=0, count, rate}  (a connection opened)
 *   {req=disconnect, ident}    -> {status=0}
 *   {req=message|recipient|newtls|auth, ident} -> {status=0, rate}  (one more)
 *   {req=newtls_report, ident} -> {status=0, rate}  (the new TLS session rate, unchanged)
 * The connections a client (an smtpd process) opened and did not close are closed for it
 * when its connection to anvil ends, so a killed smtpd leaves no count behind. Every
 * anvil_status_update_time, and at exit, the peaks of the period are logged as the reference
 * logs them ("statistics: max connection rate 1/60s for (smtp:192.0.2.1) at ..."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/argv.h"
#include "base/event.h"
#include "base/htable.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfparams.h"
#include "ipc/attr.h"
#include "ipc/proto.h"
#include "ipc/server.h"

enum { R_CONN, R_MSG, R_RCPT, R_NTLS, R_AUTH, RATES };

struct record {
    int count;        /* connections open now */
    time_t start;     /* the rate window began */
    int rates[RATES]; /* events in the window */
};

/* the peak of one figure in the current statistics period */
struct peak {
    int value;
    char ident[256];
    time_t when;
};

static const char *const peak_names[] = {"connection rate", "message rate", "recipient rate",
                                         "newtls rate", "auth rate"};
static struct peak rate_peaks[RATES], count_peak, size_peak;
static pn_htable *records; /* ident -> struct record */
static pn_htable *holders; /* client fd -> pn_argv of the idents it holds connections for */

static long time_unit(void)
{
    long unit = pn_config_get_time(PN_P(anvil_rate_time_unit));
    return unit > 0 ? unit : 1;
}

static void note_peak(struct peak *p, int value, const char *ident, time_t now)
{
    if (value <= p->value)
        return;
    p->value = value;
    snprintf(p->ident, sizeof(p->ident), "%s", ident ? ident : "");
    p->when = now;
}

static void stamp(time_t t, char *out, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, len, "%b %e %H:%M:%S", &tm);
}

/* report: the peaks of the period, then a new period. */
static void report(void)
{
    char when[32];
    long unit = time_unit();
    for (int r = 0; r < RATES; r++) {
        if (rate_peaks[r].value == 0)
            continue;
        stamp(rate_peaks[r].when, when, sizeof(when));
        pn_info("statistics: max %s %d/%lds for (%s) at %s", peak_names[r], rate_peaks[r].value,
                unit, rate_peaks[r].ident, when);
        if (r == R_CONN && count_peak.value > 0) { /* the reference's order */
            stamp(count_peak.when, when, sizeof(when));
            pn_info("statistics: max connection count %d for (%s) at %s", count_peak.value,
                    count_peak.ident, when);
        }
    }
    if (size_peak.value > 0) {
        stamp(size_peak.when, when, sizeof(when));
        pn_info("statistics: max cache size %d at %s", size_peak.value, when);
    }
    memset(rate_peaks, 0, sizeof(rate_peaks));
    memset(&count_peak, 0, sizeof(count_peak));
    memset(&size_peak, 0, sizeof(size_peak));
}

/* sweep: forget the idents with no open connection whose rate window has passed. */
static void sweep(time_t now)
{
    const char **keys = pn_htable_keys(records);
    pn_argv *stale = pn_argv_new();
    for (const char **k = keys; k && *k; k++) {
        struct record *rec = pn_htable_get(records, *k);
        if (rec->count <= 0 && now - rec->start >= time_unit())
            pn_argv_add(stale, *k);
    }
    free(keys);
    for (size_t i = 0; i < stale->len; i++)
        free(pn_htable_remove(records, stale->items[i]));
    pn_argv_free(stale);
}

static void status_timer(void *ctx)
{
    (void)ctx;
    report();
    sweep(time(NULL));
    pn_event_timer(status_timer, NULL, pn_config_get_time(PN_P(anvil_status_update_time)) * 1000);
}

static void at_exit(void)
{
    report();
}

/* record_of: the ident's record, its rate window renewed when it has passed. */
static struct record *record_of(const char *ident, time_t now)
{
    struct record *rec = pn_htable_get(records, ident);
    if (rec == NULL) {
        rec = pn_calloc(1, sizeof(*rec));
        rec->start = now;
        pn_htable_put(records, ident, rec);
        note_peak(&size_peak, (int)pn_htable_count(records), NULL, now);
    } else if (now - rec->start >= time_unit()) {
        memset(rec->rates, 0, sizeof(rec->rates));
        rec->start = now;
    }
    return rec;
}

static pn_argv *held_by(int fd, int create)
{
    char key[32];
    snprintf(key, sizeof(key), "%d", fd);
    pn_argv *held = pn_htable_get(holders, key);
    if (held == NULL && create) {
        held = pn_argv_new();
        pn_htable_put(holders, key, held);
    }
    return held;
}

/* release: one connection of ident fewer, when the client (held: its connections) opened
 * one; a disconnect for a connection it never opened gives nothing back. */
static void release(const char *ident, pn_argv *held)
{
    struct record *rec = pn_htable_get(records, ident);
    size_t i = 0;
    while (held && i < held->len && strcmp(held->items[i], ident) != 0)
        i++;
    if (held == NULL || i == held->len)
        return;
    free(held->items[i]);
    held->items[i] = held->items[--held->len];
    held->items[held->len] = NULL;
    if (rec && rec->count > 0)
        rec->count--;
}

static void client_closed(int fd)
{
    char key[32];
    snprintf(key, sizeof(key), "%d", fd);
    pn_argv *held = pn_htable_remove(holders, key);
    if (held == NULL)
        return;
    for (size_t i = 0; i < held->len; i++) {
        struct record *rec = pn_htable_get(records, held->items[i]);
        if (rec && rec->count > 0)
            rec->count--;
    }
    pn_argv_free(held);
}

static int handle(const pn_attrs *req, pn_attr_out *reply, void *ctx)
{
    (void)ctx;
    pn_buf name = PN_BUF_INIT, ident = PN_BUF_INIT;
    if (pn_attr_copy_str(req, PN_ATTR_REQ, &name) != 1 ||
        pn_attr_copy_str(req, PN_ATTR_IDENT, &ident) != 1 || ident.len == 0 || ident.len >= 256) {
        pn_warn("malformed anvil request");
        pn_buf_release(&name);
        pn_buf_release(&ident);
        return -1;
    }
    time_t now = time(NULL);
    int fd = pn_server_multi_client();
    static const char *const counted[RATES] = {PN_REQ_CONNECT, PN_REQ_MESSAGE, PN_REQ_RECIPIENT,
                                               PN_REQ_NEWTLS, PN_REQ_AUTH};
    int status = 0;
    if (strcmp(name.data, PN_REQ_DISCONNECT) == 0) {
        release(ident.data, held_by(fd, 0));
    } else if (strcmp(name.data, PN_REQ_NEWTLS_REPORT) == 0) {
        struct record *rec = record_of(ident.data, now);
        pn_attr_put_int(reply, PN_ATTR_RATE, rec->rates[R_NTLS]);
    } else {
        int r = 0;
        while (r < RATES && strcmp(name.data, counted[r]) != 0)
            r++;
        if (r == RATES) {
            pn_warn("unrecognized request: \"%s\", ignored", name.data);
            status = -1;
        } else {
            struct record *rec = record_of(ident.data, now);
            rec->rates[r]++;
            note_peak(&rate_peaks[r], rec->rates[r], ident.data, now);
            if (r == R_CONN) {
                rec->count++;
                note_peak(&count_peak, rec->count, ident.data, now);
                pn_argv_add(held_by(fd, 1), ident.data);
                pn_attr_put_int(reply, PN_ATTR_COUNT, rec->count);
            }
            pn_attr_put_int(reply, PN_ATTR_RATE, rec->rates[r]);
        }
    }
    pn_attr_put_int(reply, PN_ATTR_STATUS, status);
    pn_buf_release(&name);
    pn_buf_release(&ident);
    return 0;
}

static void serve(int fd, void *ctx)
{
    pn_server_multi_requests(fd, PN_PROTO_ANVIL, 0, handle, ctx);
}

static void post_jail(void *ctx)
{
    (void)ctx;
    records = pn_htable_new(1024);
    holders = pn_htable_new(128);
    pn_server_multi_on_close(client_closed);
    atexit(at_exit);
    pn_event_timer(status_timer, NULL, pn_config_get_time(PN_P(anvil_status_update_time)) * 1000);
}

int main(int argc, char **argv)
{
    static pn_server server = {.serve = serve,
                               .drop = pn_server_multi_drop,
                               .post_jail = post_jail,
                               .max_use = 0,  /* the counts live in this process */
                               .max_idle = 0, /* and outlive idle spells */
                               .process_limit = 1};
    return pn_multi_server_main(argc, argv, &server);
}
