/* delivreq.c: parsing delivery requests and writing delivery log lines. Log tools match
 * these lines, so their fields and their order are the reference's. */
#include "mail/delivreq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/time.h>

#include "base/log.h"
#include "base/mem.h"
#include "ipc/proto.h"

static void rcpt_init(pn_delivreq_rcpt *r)
{
    memset(r, 0, sizeof(*r));
    pn_buf_init(&r->addr);
    pn_buf_init(&r->orig);
    pn_buf_init(&r->orcpt);
}

int pn_delivreq_parse(const pn_attrs *req, pn_delivreq *out)
{
    memset(out, 0, sizeof(*out));
    pn_buf_init(&out->queue);
    pn_buf_init(&out->queue_id);
    pn_buf_init(&out->nexthop);
    pn_buf_init(&out->sender);
    int64_t last = 0;
    if (pn_attr_copy_str(req, PN_ATTR_QUEUE, &out->queue) != 1 ||
        pn_attr_copy_str(req, PN_ATTR_QUEUE_ID, &out->queue_id) != 1 ||
        pn_attr_copy_str(req, PN_ATTR_NEXTHOP, &out->nexthop) != 1 ||
        pn_attr_copy_str(req, PN_ATTR_SENDER, &out->sender) != 1 ||
        pn_attr_get_int(req, PN_ATTR_ARRIVAL, &out->arrival_us) != 1 ||
        pn_attr_get_int(req, PN_ATTR_ACTIVE, &out->active_us) != 1 ||
        pn_attr_get_int(req, PN_ATTR_LAST, &last) != 1)
        return -1;
    out->last = last != 0;
    int64_t flags = 0;
    pn_attr_get_int(req, PN_ATTR_FLAGS, &flags);
    out->flags = (int)flags & (PN_DELIVREQ_RECORD | PN_DELIVREQ_VERIFY);
    size_t cursor = 0;
    pn_attrs g;
    while (pn_attr_next_group(req, PN_ATTR_RCPT, &cursor, &g) > 0) {
        out->rcpts = pn_reallocarray(out->rcpts, out->rcpt_count + 1, sizeof(pn_delivreq_rcpt));
        pn_delivreq_rcpt *r = &out->rcpts[out->rcpt_count++];
        rcpt_init(r);
        int64_t notify = 0;
        if (pn_attr_copy_str(&g, PN_ATTR_ADDR, &r->addr) != 1 ||
            pn_attr_copy_str(&g, PN_ATTR_ORIG, &r->orig) != 1 ||
            pn_attr_get_int(&g, PN_ATTR_OFFSET, &r->offset) != 1)
            return -1;
        pn_attr_copy_str(&g, PN_ATTR_ORCPT, &r->orcpt);
        pn_attr_get_int(&g, PN_ATTR_NOTIFY, &notify);
        r->notify = (int)notify;
    }
    return out->rcpt_count > 0 ? 0 : -1;
}

void pn_delivreq_release(pn_delivreq *req)
{
    for (size_t i = 0; i < req->rcpt_count; i++) {
        pn_buf_release(&req->rcpts[i].addr);
        pn_buf_release(&req->rcpts[i].orig);
        pn_buf_release(&req->rcpts[i].orcpt);
    }
    free(req->rcpts);
    pn_buf_release(&req->queue);
    pn_buf_release(&req->queue_id);
    pn_buf_release(&req->nexthop);
    pn_buf_release(&req->sender);
}

void pn_delay_format(double seconds, pn_buf *out)
{
    if (seconds <= 0) {
        pn_buf_puts(out, "0");
    } else if (seconds >= 10) {
        pn_buf_printf(out, "%.0f", floor(seconds));
    } else {
        /* two significant digits, at most two decimals, no trailing zeros */
        int decimals = seconds >= 1 ? 1 : 2;
        char text[32];
        snprintf(text, sizeof(text), "%.*f", decimals, seconds);
        char *end = text + strlen(text) - 1;
        while (end > text && *end == '0')
            *end-- = 0;
        if (*end == '.')
            *end = 0;
        pn_buf_puts(out, strcmp(text, "0") == 0 ? "0.01" : text);
    }
}

void pn_delivreq_log(const pn_delivreq *req, const pn_delivreq_rcpt *rcpt, const char *relay,
                     int outcome, const char *dsn, const char *text)
{
    static const char *const status[] = {"sent", "deferred", "bounced", "deliverable",
                                         "undeliverable"};
    struct timeval now;
    gettimeofday(&now, NULL);
    double now_s = (double)now.tv_sec + now.tv_usec / 1e6;
    double arrival = (double)req->arrival_us / 1e6, active = (double)req->active_us / 1e6;
    pn_buf line = PN_BUF_INIT;
    pn_buf_printf(&line, "%s: to=<%s>, ", req->queue_id.data, rcpt->addr.data);
    if (rcpt->orig.len && strcasecmp(rcpt->orig.data, rcpt->addr.data) != 0)
        pn_buf_printf(&line, "orig_to=<%s>, ", rcpt->orig.data);
    pn_buf_printf(&line, "relay=%s, delay=", relay);
    pn_delay_format(now_s - arrival, &line);
    pn_buf_puts(&line, ", delays=");
    pn_delay_format(active - arrival, &line);
    pn_buf_putc(&line, '/');
    pn_delay_format(0, &line);
    pn_buf_putc(&line, '/');
    pn_delay_format(0, &line);
    pn_buf_putc(&line, '/');
    pn_delay_format(now_s - active, &line);
    pn_buf_printf(&line, ", dsn=%s, status=%s (%s)", dsn, status[outcome], text);
    pn_info("%s", line.data);
    pn_buf_release(&line);
}
