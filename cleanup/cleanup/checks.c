/* checks.c: what header_checks, mime_header_checks, nested_header_checks and body_checks
 * ask of a message in cleanup (the tables and the walk through the message are lib/mail/hbc.c).
 * Actions, replies and log lines are the reference's: REJECT, WARN, DISCARD, HOLD, IGNORE,
 * PREPEND, REPLACE, REDIRECT, FILTER, BCC, INFO, DUNNO and OK; anything else is logged as an
 * unknown command and passed over. A message rejected or discarded is not looked at further. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "cleanup.h"
#include "config/cfparams.h"
#include "mail/dsn.h"
#include "mail/hbc.h"

static pn_hbc checks;

void checks_init(void)
{
    static const char *const params[PN_HBC_COUNT] = {PN_P(header_checks), PN_P(mime_header_checks),
                                                     PN_P(nested_header_checks), PN_P(body_checks)};
    pn_hbc_open(&checks, params);
}

int checks_changed(void)
{
    return pn_hbc_changed(&checks);
}

int checks_enabled(void)
{
    return pn_hbc_enabled(&checks);
}

/* log_action: "ID: action: header TEXT from CLIENT; from=<> to=<> proto=P helo=<H>: why". */
void cleanup_log_action(const cleanup_msg *msg, const char *action, const char *where,
                        const char *line, const char *why)
{
    const char *name = cleanup_attr(msg, "client_name"), *addr = cleanup_attr(msg, "client_addr");
    const char *proto = cleanup_attr(msg, "client_proto"), *helo = cleanup_attr(msg, "client_helo");
    pn_buf text = PN_BUF_INIT;
    pn_buf_printf(&text, "%s: %s: %s %.200s from ", msg->queue_id.data, action, where, line);
    if (name && addr)
        pn_buf_printf(&text, "%s[%s]", name, addr);
    else
        pn_buf_puts(&text, "local");
    pn_buf_printf(&text, "; from=<%s> to=<%s>", msg->sender.data,
                  msg->rcpt_count ? msg->rcpts[0].orig : "");
    if (proto)
        pn_buf_printf(&text, " proto=%s", proto);
    if (helo)
        pn_buf_printf(&text, " helo=<%s>", helo);
    if (why && *why)
        pn_buf_printf(&text, ": %s", why);
    pn_info("%s", text.data);
    pn_buf_release(&text);
}

static void log_action(const cleanup_msg *msg, const char *action, int cls, const char *line,
                       const char *why)
{
    cleanup_log_action(msg, action, cls == PN_HBC_BODY ? "body" : "header", line, why);
}

/* act: carry out one table result for line; the replacement text (REPLACE) goes to repl and a
 * line to insert before it (PREPEND) to prepend. */
static enum pn_hbc_fate act(cleanup_msg *msg, int cls, const char *line, const char *value,
                            pn_buf *repl, pn_buf *prepend)
{
    size_t n = strcspn(value, " \t");
    char *command = pn_strndup(value, n);
    const char *text = value + n;
    while (*text == ' ' || *text == '\t')
        text++;
    enum pn_hbc_fate fate = PN_HBC_KEEP;
    if (strcasecmp(command, "REJECT") == 0) {
        pn_buf why = PN_BUF_INIT;
        if (pn_dsn_status_len(text) && text[0] != '2')
            pn_buf_puts(&why, text);
        else
            pn_buf_printf(&why, "5.7.1 %s", *text ? text : "message content rejected");
        log_action(msg, "reject", cls, line, why.data);
        msg->status |= why.data[0] == '4' ? CLEANUP_STAT_DEFER : CLEANUP_STAT_CONTENT;
        pn_buf_set(&msg->reason, why.data);
        pn_buf_release(&why);
    } else if (strcasecmp(command, "WARN") == 0) {
        log_action(msg, "warning", cls, line, text);
    } else if (strcasecmp(command, "INFO") == 0) {
        log_action(msg, "info", cls, line, text);
    } else if (strcasecmp(command, "DISCARD") == 0) {
        log_action(msg, "discard", cls, line, text);
        msg->discard = 1;
    } else if (strcasecmp(command, "HOLD") == 0) {
        log_action(msg, "hold", cls, line, text);
        msg->hold = 1;
    } else if (strcasecmp(command, "IGNORE") == 0) {
        fate = PN_HBC_DROP;
    } else if (strcasecmp(command, "PREPEND") == 0 && *text) {
        log_action(msg, "prepend", cls, line, text);
        pn_buf_set(prepend, text);
    } else if (strcasecmp(command, "REPLACE") == 0 && *text) {
        log_action(msg, "replace", cls, line, text);
        pn_buf_set(repl, text);
        fate = PN_HBC_REPLACE;
    } else if (strcasecmp(command, "REDIRECT") == 0 && *text) {
        log_action(msg, "redirect", cls, line, text);
        pn_buf_set(&msg->redirect, text);
    } else if (strcasecmp(command, "FILTER") == 0 && strchr(text, ':') && text[0] != ':') {
        log_action(msg, "filter", cls, line, text);
        pn_buf_set(&msg->filter, text);
    } else if (strcasecmp(command, "BCC") == 0 && *text) {
        log_action(msg, "bcc", cls, line, text);
        pn_argv_add(msg->bcc, text);
    } else if (strcasecmp(command, "DUNNO") != 0 && strcasecmp(command, "OK") != 0) {
        pn_warn("unknown command in %s map: %s", checks.params[cls], value);
    }
    free(command);
    return fate;
}

static int finished(const cleanup_msg *msg)
{
    return msg->status != 0 || msg->discard;
}

/* The engine's side of a message. */
static enum pn_hbc_fate act_cb(void *ctx, int cls, const char *line, const char *value,
                               pn_buf *repl, pn_buf *prepend)
{
    return act(ctx, cls, line, value, repl, prepend);
}

static int done_cb(void *ctx)
{
    return finished(ctx);
}

static void failed_cb(void *ctx, int cls)
{
    cleanup_msg *msg = ctx;
    msg->status |= CLEANUP_STAT_WRITE;
    pn_buf_set(&msg->reason, "4.3.0 header or body checks lookup failure");
    pn_warn("%s: %s lookup failure", msg->queue_id.data, checks.params[cls]);
}

void checks_apply(cleanup_msg *msg)
{
    pn_hbc_ops ops = {act_cb, done_cb, failed_cb, msg};
    pn_hbc_apply(&checks, &msg->headers, &msg->body, &ops);
}
