/* checks.c: smtp_header_checks, smtp_mime_header_checks, smtp_nested_header_checks and
 * smtp_body_checks (lmtp_ for LMTP): header and body checks for mail on its way out, through
 * the engine cleanup uses (lib/mail/hbc.c). As in the reference they are restricted: WARN,
 * INFO, PREPEND, REPLACE, IGNORE, DUNNO and OK; an action that would change when or where mail
 * goes is logged and passed over. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/mem.h"
#include "config/cfparams.h"
#include "mail/hbc.h"
#include "smtp.h"

static pn_hbc checks;

void smtp_checks_init(void)
{
    const char *const params[PN_HBC_COUNT] = {
        SMTP_PARAM(header_checks), SMTP_PARAM(mime_header_checks), SMTP_PARAM(nested_header_checks),
        SMTP_PARAM(body_checks)};
    pn_hbc_open(&checks, params);
}

int smtp_checks_changed(void)
{
    return pn_hbc_changed(&checks);
}

static enum pn_hbc_fate act(void *ctx, int cls, const char *line, const char *value, pn_buf *repl,
                            pn_buf *prepend)
{
    const char *queue_id = ctx;
    size_t n = strcspn(value, " \t");
    char *command = pn_strndup(value, n);
    const char *text = value + n + strspn(value + n, " \t");
    const char *where = cls == PN_HBC_BODY ? "body" : "header";
    enum pn_hbc_fate fate = PN_HBC_KEEP;
    if (strcasecmp(command, "WARN") == 0) {
        pn_info("%s: warning: %s %.200s: %s", queue_id, where, line, text);
    } else if (strcasecmp(command, "INFO") == 0) {
        pn_info("%s: info: %s %.200s: %s", queue_id, where, line, text);
    } else if (strcasecmp(command, "PREPEND") == 0 && *text) {
        pn_info("%s: prepend: %s %.200s: %s", queue_id, where, line, text);
        pn_buf_set(prepend, text);
    } else if (strcasecmp(command, "REPLACE") == 0 && *text) {
        pn_info("%s: replace: %s %.200s: %s", queue_id, where, line, text);
        pn_buf_set(repl, text);
        fate = PN_HBC_REPLACE;
    } else if (strcasecmp(command, "IGNORE") == 0) {
        fate = PN_HBC_DROP;
    } else if (strcasecmp(command, "DUNNO") != 0 && strcasecmp(command, "OK") != 0) {
        pn_warn("unsupported command in %s map: %s", checks.params[cls], value);
    }
    free(command);
    return fate;
}

static int never_done(void *ctx)
{
    (void)ctx;
    return 0;
}

static void failed(void *ctx, int cls)
{
    pn_warn("%s: %s lookup failure: the line is sent as it is", (const char *)ctx,
            checks.params[cls]);
}

void smtp_checks_apply(const char *queue_id, pn_buf *content)
{
    if (!pn_hbc_enabled(&checks))
        return;
    pn_argv *fields = pn_argv_new();
    pn_buf body = PN_BUF_INIT;
    smtp_content_split(content, fields, &body);
    pn_hbc_ops ops = {act, never_done, failed, (void *)queue_id};
    pn_hbc_apply(&checks, &fields, &body, &ops);
    smtp_content_join(fields, &body, content);
    pn_argv_free(fields);
    pn_buf_release(&body);
}
