/* headers.c: header processing: Return-Path and the message_drop_headers removed, the
 * addresses of sender and recipient fields rewritten (standard form, canonical mapping,
 * masquerading), hop count checked, each header cut at
 * header_size_limit, and Message-ID, Date and From added when missing and the rewrite context
 * allows it (as in the reference). Logs "ID: message-id=<...>". */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "cleanup.h"
#include "config/cfparams.h"
#include "mail/addr.h"
#include "mail/cleanupclnt.h"
#include "mail/hdraddr.h"

static int field_is(const char *field, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(field, name, n) == 0 && field[n] == ':';
}

/* field_value: the value of the first header field called name, or NULL. */
/* from_field: "From: sender", with the full name sendmail -F (or the user's account) gave:
 * "Name <sender>" (header_from_format = standard, quoted when the name holds specials) or
 * "sender (Name)" (obsolete). */
static void from_field(const cleanup_msg *msg, pn_buf *out)
{
    const char *sender = msg->sender.len ? msg->sender.data : "MAILER-DAEMON";
    const char *name = cleanup_attr(msg, "full_name");
    if (name == NULL || *name == 0 || msg->sender.len == 0) {
        pn_buf_printf(out, "From: %s", sender);
    } else if (strcmp(pn_config_get(PN_P(header_from_format)), "obsolete") == 0) {
        pn_buf_printf(out, "From: %s (%s)", sender, name);
    } else if (strpbrk(name, "()<>[]:;@\\,.\"") == NULL) {
        pn_buf_printf(out, "From: %s <%s>", name, sender);
    } else {
        pn_buf_puts(out, "From: \"");
        for (const char *c = name; *c; c++) {
            if (*c == '"' || *c == '\\')
                pn_buf_putc(out, '\\');
            pn_buf_putc(out, *c);
        }
        pn_buf_printf(out, "\" <%s>", sender);
    }
}

static const char *field_value(const cleanup_msg *msg, const char *name)
{
    for (size_t i = 0; i < msg->headers->len; i++) {
        const char *f = msg->headers->items[i];
        if (field_is(f, name)) {
            const char *v = f + strlen(name) + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    }
    return NULL;
}

static void add_missing(cleanup_msg *msg)
{
    pn_buf field = PN_BUF_INIT;
    const char *myhostname = pn_config_get_hostname(PN_P(myhostname));
    if (field_value(msg, "Message-ID") == NULL) {
        char stamp[32];
        struct tm tm;
        gmtime_r(&msg->arrival.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
        if (pn_config_get_bool(PN_P(enable_long_queue_ids)))
            pn_buf_printf(&field, "Message-Id: <%s@%s>", msg->queue_id.data, myhostname);
        else
            pn_buf_printf(&field, "Message-Id: <%s.%s@%s>", stamp, msg->queue_id.data, myhostname);
        pn_argv_add(msg->headers, field.data);
    }
    if (field_value(msg, "Date") == NULL) {
        char date[64];
        struct tm tm;
        localtime_r(&msg->arrival.tv_sec, &tm);
        strftime(date, sizeof(date), "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm);
        pn_buf_reset(&field);
        pn_buf_printf(&field, "Date: %s", date);
        pn_argv_add(msg->headers, field.data);
    }
    if (field_value(msg, "From") == NULL) {
        pn_buf_reset(&field);
        from_field(msg, &field);
        pn_argv_add(msg->headers, field.data);
    }
    pn_buf_release(&field);
}

/* Header address rewriting: local mail gets the local rule (myorigin appended), remote mail
 * remote_header_rewrite_domain (nothing at all when that is empty), as in the reference. */
typedef struct hdr_rewrite {
    const char *remote_domain; /* NULL: local mail */
    int cls;
    int map; /* canonical mapping and masquerading too (not no_address_mappings) */
} hdr_rewrite;

static int rewrite_one(const char *addr, pn_buf *out, void *ctx)
{
    const hdr_rewrite *hr = ctx;
    if (*addr == 0)
        return 0;
    if (hr->remote_domain == NULL)
        pn_addr_rewrite_local(addr, out);
    else if (pn_addr_at(addr) == NULL)
        pn_buf_printf(out, "%s@%s", addr, hr->remote_domain);
    else
        pn_buf_set(out, addr);
    if (hr->map)
        envelope_map_address(out, hr->cls);
    return 1;
}

static void rewrite_addresses(cleanup_msg *msg, const char *context, char **field)
{
    enum pn_hdraddr_kind kind = pn_hdraddr_kind(*field);
    if (kind == PN_HDRADDR_NONE)
        return;
    hdr_rewrite hr = {NULL,
                      kind == PN_HDRADDR_SENDER ? CLASS_HEADER_SENDER : CLASS_HEADER_RECIPIENT,
                      !(msg->flags & PN_CLEANUP_FLAG_NO_MAP)};
    if (context == NULL || strcmp(context, "local") != 0) {
        hr.remote_domain = pn_config_get(PN_P(remote_header_rewrite_domain));
        if (*hr.remote_domain == 0)
            return;
    }
    pn_buf out = PN_BUF_INIT;
    if (pn_hdraddr_rewrite(*field, rewrite_one, &hr, &out)) {
        free(*field);
        *field = pn_buf_steal(&out);
    }
    pn_buf_release(&out);
}

/* dropped: a field message_drop_headers names (Bcc, Resent-Bcc, Content-Length). */
static int dropped(const char *field, const pn_argv *drop)
{
    for (size_t i = 0; i < drop->len; i++)
        if (field_is(field, drop->items[i]))
            return 1;
    return 0;
}

void headers_finish(cleanup_msg *msg)
{
    const char *context = cleanup_attr(msg, "rewrite_context");
    pn_argv *kept = pn_argv_new();
    pn_argv *drop = pn_argv_split(pn_config_get(PN_P(message_drop_headers)), PN_SEPARATORS);
    long hops = 0, limit = pn_config_get_int(PN_P(header_size_limit));
    for (size_t i = 0; i < msg->headers->len; i++) {
        char *f = msg->headers->items[i];
        if (field_is(f, "Return-Path") || dropped(f, drop))
            continue;
        rewrite_addresses(msg, context, &msg->headers->items[i]);
        f = msg->headers->items[i];
        if (field_is(f, "Received") || field_is(f, "Delivered-To"))
            hops++;
        if (limit > 0 && (long)strlen(f) > limit) {
            /* one header longer than the limit: its excess is dropped, the message kept */
            pn_warn("%s: header %.*s longer than header_size_limit (%ld bytes): truncated",
                    msg->queue_id.data, (int)(strcspn(f, ":") < 60 ? strcspn(f, ":") : 60), f,
                    limit);
            f[limit] = 0;
        }
        pn_argv_add(kept, f);
    }
    pn_argv_free(msg->headers);
    pn_argv_free(drop);
    msg->headers = kept;
    if (hops >= pn_config_get_int(PN_P(hopcount_limit))) {
        msg->status |= CLEANUP_STAT_HOPS;
        pn_buf_set(&msg->reason, "too many hops");
    }
    if ((context && strcmp(context, "local") == 0) ||
        *pn_config_get(PN_P(remote_header_rewrite_domain)) ||
        pn_config_get_bool(PN_P(always_add_missing_headers)))
        add_missing(msg);
    const char *id = field_value(msg, "Message-ID");
    if (id)
        pn_info("%s: message-id=%s", msg->queue_id.data, id);
    else
        pn_info("%s: message-id=<>", msg->queue_id.data);
}
