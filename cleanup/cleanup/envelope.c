/* envelope.c: the envelope on its way in: addresses in standard form (the local rewrite
 * rule), canonical mapping (sender_/recipient_canonical_maps before canonical_maps, for the
 * classes named in the *_classes parameters), masquerading (masquerade_domains, for the
 * masquerade_classes; header addresses go through the same two steps, from headers.c), then
 * virtual alias expansion of the
 * recipients (recursive, with the reference's recursion and expansion limits, an address that
 * maps to itself kept), then duplicates removed. For mail from outside, the automatic BCC
 * recipients come between the two. */
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
#include "mail/cleanupclnt.h"
#include "mail/maps.h"
#include "mail/qfile.h"

static pn_maps *virtual_alias_maps;
static pn_maps *sender_canonical, *recipient_canonical, *canonical;
static pn_maps *sender_bcc, *recipient_bcc;
static pn_domlist *local_domains;

static pn_maps *open_maps(const char *param)
{
    pn_buf err = PN_BUF_INIT;
    pn_maps *maps = pn_maps_open(param, pn_config_get(param), PN_DICT_DEFAULT_FLAGS, &err);
    if (maps == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    return maps;
}

static int class_enabled(const char *param, const char *class_name)
{
    pn_argv *classes = pn_argv_split(pn_config_get(param), PN_SEPARATORS);
    int found = 0;
    for (size_t i = 0; i < classes->len; i++)
        found |= strcmp(classes->items[i], class_name) == 0;
    pn_argv_free(classes);
    return found;
}

static const char *const class_names[] = {"envelope_sender", "envelope_recipient", "header_sender",
                                          "header_recipient"};

/* canonicalize: one mapping step through the first table list that knows the address, for
 * an address of the given class (enum addr_class). */
static void canonicalize(pn_buf *addr, int cls)
{
    int is_sender = cls == CLASS_ENVELOPE_SENDER || cls == CLASS_HEADER_SENDER;
    const char *class_name = class_names[cls];
    pn_maps *specific = is_sender ? sender_canonical : recipient_canonical;
    const char *specific_classes =
        is_sender ? PN_P(sender_canonical_classes) : PN_P(recipient_canonical_classes);
    pn_buf value = PN_BUF_INIT, domain = PN_BUF_INIT, canon = PN_BUF_INIT;
    if (addr->len == 0)
        return;
    pn_addr_domain(addr->data, &domain);
    int flags = pn_domlist_match(local_domains, domain.data) > 0 ? PN_MAPS_LOCALPART : 0;
    const char *delims = pn_config_get(PN_P(recipient_delimiter));
    int rc = 0;
    pn_buf ext = PN_BUF_INIT;
    if (specific->count && class_enabled(specific_classes, class_name))
        rc = pn_maps_find_addr_ext(specific, addr->data, delims, flags, &value, &ext);
    if (rc == 0 && canonical->count && class_enabled(PN_P(canonical_classes), class_name))
        rc = pn_maps_find_addr_ext(canonical, addr->data, delims, flags, &value, &ext);
    if (rc > 0 && ext.len && value.data[0] != '@' &&
        pn_config_list_has(PN_P(propagate_unmatched_extensions), "canonical")) {
        /* user+foo@a mapped by its user@a entry: the result keeps +foo */
        pn_buf with = PN_BUF_INIT;
        pn_maps_propagate_extension(pn_trim(value.data), ext.data, &with);
        pn_buf_set(&value, with.data);
        pn_buf_release(&with);
    }
    pn_buf_release(&ext);
    if (rc > 0) {
        char *result = pn_trim(value.data);
        if (result[0] == '@') {
            /* "@domain": keep the local part, change the domain */
            pn_buf local = PN_BUF_INIT;
            pn_addr_localpart(addr->data, &local);
            pn_buf_printf(&local, "%s", result);
            pn_addr_rewrite_local(local.data, &canon);
            pn_buf_release(&local);
        } else {
            pn_addr_rewrite_local(result, &canon);
        }
        pn_buf_set(addr, canon.data);
    }
    pn_buf_release(&value);
    pn_buf_release(&domain);
    pn_buf_release(&canon);
}

/* masquerade: user@host.example.com becomes user@example.com when masquerade_domains lists
 * example.com; the list is searched in order, a "!domain" entry keeps that domain and its
 * subdomains as they are, and masquerade_exceptions names users never masqueraded. */
static void masquerade(pn_buf *addr, int cls)
{
    const char *domains = pn_config_get(PN_P(masquerade_domains));
    const char *at = pn_addr_at(addr->data);
    if (*domains == 0 || at == NULL || !class_enabled(PN_P(masquerade_classes), class_names[cls]))
        return;
    pn_buf local = PN_BUF_INIT;
    pn_addr_localpart(addr->data, &local);
    pn_argv *except = pn_argv_split(pn_config_get(PN_P(masquerade_exceptions)), PN_SEPARATORS);
    int excepted = 0;
    for (size_t i = 0; i < except->len; i++)
        excepted |= strcasecmp(except->items[i], local.data) == 0;
    pn_argv *list = pn_argv_split(domains, PN_SEPARATORS);
    const char *domain = at + 1;
    size_t dlen = strlen(domain);
    for (size_t i = 0; !excepted && i < list->len; i++) {
        const char *name = list->items[i] + (list->items[i][0] == '!');
        size_t n = strlen(name);
        if (strcasecmp(domain, name) == 0)
            break;
        if (dlen > n && domain[dlen - n - 1] == '.' && strcasecmp(domain + dlen - n, name) == 0) {
            if (list->items[i][0] != '!') {
                pn_buf_printf(&local, "@%s", name);
                pn_buf_set(addr, local.data);
            }
            break;
        }
    }
    pn_argv_free(list);
    pn_argv_free(except);
    pn_buf_release(&local);
}

void envelope_map_address(pn_buf *addr, int cls)
{
    canonicalize(addr, cls);
    masquerade(addr, cls);
}

void envelope_init(void)
{
    pn_buf err = PN_BUF_INIT;
    virtual_alias_maps =
        pn_maps_open(PN_P(virtual_alias_maps), pn_config_get(PN_P(virtual_alias_maps)),
                     PN_DICT_DEFAULT_FLAGS, &err);
    if (virtual_alias_maps == NULL)
        pn_fatal("%s", err.data);
    local_domains = pn_domlist_open(PN_P(mydestination), pn_config_get(PN_P(mydestination)), &err);
    if (local_domains == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    sender_canonical = open_maps(PN_P(sender_canonical_maps));
    recipient_canonical = open_maps(PN_P(recipient_canonical_maps));
    canonical = open_maps(PN_P(canonical_maps));
    sender_bcc = open_maps(PN_P(sender_bcc_maps));
    recipient_bcc = open_maps(PN_P(recipient_bcc_maps));
}

int envelope_tables_changed(void)
{
    return pn_maps_changed(virtual_alias_maps) || pn_maps_changed(sender_canonical) ||
           pn_maps_changed(recipient_canonical) || pn_maps_changed(canonical);
}

void envelope_add_rcpt(cleanup_msg *msg, const char *addr, const char *orcpt, int notify)
{
    pn_buf canon = PN_BUF_INIT;
    pn_addr_rewrite_local(addr, &canon);
    if (!(msg->flags & PN_CLEANUP_FLAG_NO_MAP))
        envelope_map_address(&canon, CLASS_ENVELOPE_RECIPIENT);
    msg->rcpts = pn_reallocarray(msg->rcpts, msg->rcpt_count + 1, sizeof(cleanup_rcpt));
    cleanup_rcpt *r = &msg->rcpts[msg->rcpt_count++];
    r->addr = pn_buf_steal(&canon);
    r->orig = pn_strdup(addr);
    r->orcpt = pn_strdup(orcpt);
    r->notify = notify;
}

void envelope_actions(cleanup_msg *msg)
{
    if (msg->redirect.len) {
        /* every recipient goes to the one address; the original stays for the logs */
        pn_buf canon = PN_BUF_INIT;
        pn_addr_rewrite_local(msg->redirect.data, &canon);
        canonicalize(&canon, CLASS_ENVELOPE_RECIPIENT);
        for (size_t i = 0; i < msg->rcpt_count; i++) {
            free(msg->rcpts[i].addr);
            msg->rcpts[i].addr = pn_strdup(canon.data);
        }
        pn_buf_release(&canon);
    }
    for (size_t i = 0; i < msg->bcc->len; i++)
        envelope_add_rcpt(msg, msg->bcc->items[i], "", PN_NOTIFY_NEVER);
}

struct expansion {
    pn_argv *out;
    long limit;
    int failed;
};

/* expand: one address through virtual_alias_maps, depth-first. */
static void expand(struct expansion *x, const char *addr, long depth)
{
    pn_buf value = PN_BUF_INIT, domain = PN_BUF_INIT, ext = PN_BUF_INIT;
    int flags = 0;
    pn_addr_domain(addr, &domain);
    if (pn_domlist_match(local_domains, domain.data) > 0)
        flags |= PN_MAPS_LOCALPART;
    int rc =
        depth >= pn_config_get_int(PN_P(virtual_alias_recursion_limit))
            ? 0
            : pn_maps_find_addr_ext(virtual_alias_maps, addr,
                                    pn_config_get(PN_P(recipient_delimiter)), flags, &value, &ext);
    int propagate = ext.len && pn_config_list_has(PN_P(propagate_unmatched_extensions), "virtual");
    if (rc < 0) {
        x->failed = 1;
    } else if (rc == 0) {
        if ((long)x->out->len < x->limit)
            pn_argv_add(x->out, addr);
    } else {
        pn_argv *targets = pn_argv_split(value.data, PN_SEPARATORS);
        for (size_t i = 0; i < targets->len && !x->failed; i++) {
            pn_buf canon = PN_BUF_INIT, with = PN_BUF_INIT;
            const char *target = targets->items[i];
            if (propagate && target[0] != '@') { /* +foo goes along to the target */
                pn_maps_propagate_extension(target, ext.data, &with);
                target = with.data;
            }
            pn_addr_rewrite_local(target, &canon);
            pn_buf_release(&with);
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
    pn_buf_release(&ext);
}

/* bcc_lookup: the one address a BCC table gives for addr, added as a recipient that wants
 * no notices; none for the null address. */
static void bcc_lookup(cleanup_msg *msg, pn_maps *maps, const char *addr)
{
    if (maps->count == 0 || *addr == 0)
        return;
    pn_buf value = PN_BUF_INIT, domain = PN_BUF_INIT;
    pn_addr_domain(addr, &domain);
    int flags = pn_domlist_match(local_domains, domain.data) > 0 ? PN_MAPS_LOCALPART : 0;
    int rc = pn_maps_find_addr(maps, addr, pn_config_get(PN_P(recipient_delimiter)), flags, &value);
    if (rc < 0) {
        msg->status |= CLEANUP_STAT_DEFER;
        pn_buf_printf(&msg->reason, "4.3.0 %s lookup failure", maps->title);
    } else if (rc > 0 && value.len) {
        envelope_add_rcpt(msg, value.data, "", PN_NOTIFY_NEVER);
    }
    pn_buf_release(&value);
    pn_buf_release(&domain);
}

/* automatic_bcc: always_bcc, sender_bcc_maps (the sender), recipient_bcc_maps (each
 * recipient as received), after canonical mapping and before virtual alias expansion. */
static void automatic_bcc(cleanup_msg *msg)
{
    size_t received = msg->rcpt_count;
    bcc_lookup(msg, sender_bcc, msg->sender.data);
    for (size_t i = 0; i < received; i++) {
        char *addr = pn_strdup(msg->rcpts[i].addr); /* the array may move */
        bcc_lookup(msg, recipient_bcc, addr);
        free(addr);
    }
    const char *always = pn_config_get(PN_P(always_bcc));
    if (*always)
        envelope_add_rcpt(msg, always, "", PN_NOTIFY_NEVER);
}

void envelope_finish(cleanup_msg *msg)
{
    cleanup_rcpt *expanded = NULL;
    size_t count = 0;
    pn_buf canon = PN_BUF_INIT;
    pn_addr_rewrite_local(msg->sender.data, &canon);
    if (!(msg->flags & PN_CLEANUP_FLAG_NO_MAP))
        envelope_map_address(&canon, CLASS_ENVELOPE_SENDER);
    pn_buf_set(&msg->sender, canon.data);
    pn_buf_release(&canon);
    if (msg->flags & PN_CLEANUP_FLAG_BCC_OK)
        automatic_bcc(msg);
    /* duplicate_filter_limit: how many addresses the duplicate filter remembers (0: none) */
    size_t remembered = (size_t)pn_config_get_int(PN_P(duplicate_filter_limit));
    for (size_t i = 0; i < msg->rcpt_count; i++) {
        struct expansion x = {pn_argv_new(), pn_config_get_int(PN_P(virtual_alias_expansion_limit)),
                              0};
        if (!(msg->flags & PN_CLEANUP_FLAG_NO_MAP))
            expand(&x, msg->rcpts[i].addr, 0);
        else
            pn_argv_add(x.out, msg->rcpts[i].addr);
        if (x.failed) {
            msg->status |= CLEANUP_STAT_DEFER;
            pn_buf_set(&msg->reason, "4.3.0 virtual alias table lookup failure");
        }
        for (size_t j = 0; j < x.out->len; j++) {
            int duplicate = 0;
            for (size_t k = 0; k < count && k < remembered && !duplicate; k++)
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
}
