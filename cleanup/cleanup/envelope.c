/* envelope.c: the envelope on its way in: addresses in standard form (the local rewrite
 * rule), then virtual alias expansion of the recipients (recursive, with the reference's
 * recursion and expansion limits, an address that maps to itself kept), then duplicates
 * removed. */
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "cleanup.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/domlist.h"
#include "mail/maps.h"

static pn_maps *virtual_alias_maps;
static pn_domlist *local_domains;

void envelope_init(void)
{
    pn_buf err = PN_BUF_INIT;
    virtual_alias_maps = pn_maps_open("virtual_alias_maps", pn_config_get("virtual_alias_maps"),
                                      PN_DICT_DEFAULT_FLAGS, &err);
    if (virtual_alias_maps == NULL)
        pn_fatal("%s", err.data);
    local_domains = pn_domlist_open("mydestination", pn_config_get("mydestination"), &err);
    if (local_domains == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
}

int envelope_tables_changed(void)
{
    return virtual_alias_maps && pn_maps_changed(virtual_alias_maps);
}

void envelope_add_rcpt(cleanup_msg *msg, const char *addr, const char *orcpt, int notify)
{
    pn_buf canon = PN_BUF_INIT;
    pn_addr_rewrite_local(addr, &canon);
    msg->rcpts = pn_reallocarray(msg->rcpts, msg->rcpt_count + 1, sizeof(cleanup_rcpt));
    cleanup_rcpt *r = &msg->rcpts[msg->rcpt_count++];
    r->addr = pn_buf_steal(&canon);
    r->orig = pn_strdup(addr);
    r->orcpt = pn_strdup(orcpt);
    r->notify = notify;
}

struct expansion {
    pn_argv *out;
    long limit;
    int failed;
};

/* expand: one address through virtual_alias_maps, depth-first. */
static void expand(struct expansion *x, const char *addr, long depth)
{
    pn_buf value = PN_BUF_INIT, domain = PN_BUF_INIT;
    int flags = 0;
    pn_addr_domain(addr, &domain);
    if (pn_domlist_match(local_domains, domain.data) > 0)
        flags |= PN_MAPS_LOCALPART;
    int rc = depth >= pn_config_get_int("virtual_alias_recursion_limit")
                 ? 0
                 : pn_maps_find_addr(virtual_alias_maps, addr,
                                     pn_config_get("recipient_delimiter"), flags, &value);
    if (rc < 0) {
        x->failed = 1;
    } else if (rc == 0) {
        if ((long)x->out->len < x->limit)
            pn_argv_add(x->out, addr);
    } else {
        pn_argv *targets = pn_argv_split(value.data, PN_SEPARATORS);
        for (size_t i = 0; i < targets->len && !x->failed; i++) {
            pn_buf canon = PN_BUF_INIT;
            pn_addr_rewrite_local(targets->items[i], &canon);
            if (strcasecmp(canon.data, addr) == 0)
                pn_argv_add(x->out, canon.data); /* maps to itself: kept */
            else
                expand(x, canon.data, depth + 1);
            pn_buf_release(&canon);
        }
        pn_argv_free(targets);
    }
    pn_buf_release(&value);
    pn_buf_release(&domain);
}

void envelope_finish(cleanup_msg *msg)
{
    cleanup_rcpt *expanded = NULL;
    size_t count = 0;
    for (size_t i = 0; i < msg->rcpt_count; i++) {
        struct expansion x = {pn_argv_new(),
                              pn_config_get_int("virtual_alias_expansion_limit"), 0};
        expand(&x, msg->rcpts[i].addr, 0);
        if (x.failed) {
            msg->status |= CLEANUP_STAT_DEFER;
            pn_buf_set(&msg->reason, "4.3.0 virtual alias table lookup failure");
        }
        for (size_t j = 0; j < x.out->len; j++) {
            int duplicate = 0;
            for (size_t k = 0; k < count && !duplicate; k++)
                duplicate = strcasecmp(expanded[k].addr, x.out->items[j]) == 0;
            if (duplicate)
                continue;
            expanded = pn_reallocarray(expanded, count + 1, sizeof(cleanup_rcpt));
            expanded[count].addr = pn_strdup(x.out->items[j]);
            expanded[count].orig = pn_strdup(msg->rcpts[i].orig);
            expanded[count].orcpt = pn_strdup(msg->rcpts[i].orcpt);
            expanded[count].notify = msg->rcpts[i].notify;
            count++;
        }
        pn_argv_free(x.out);
        free(msg->rcpts[i].addr);
        free(msg->rcpts[i].orig);
        free(msg->rcpts[i].orcpt);
    }
    free(msg->rcpts);
    msg->rcpts = expanded;
    msg->rcpt_count = count;
    if (count == 0 && !(msg->status & CLEANUP_STAT_DEFER)) {
        msg->status |= CLEANUP_STAT_RCPT;
        pn_buf_set(&msg->reason, "No recipients specified");
    }
    pn_buf canon = PN_BUF_INIT;
    pn_addr_rewrite_local(msg->sender.data, &canon);
    pn_buf_set(&msg->sender, canon.data);
    pn_buf_release(&canon);
}
