/* dsntmpl.c: the built-in texts of notices, the bounce_template_file format ("name = <<TAG"
 * ... "TAG" blocks, "#" comments outside them) and $name expansion with time units. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strutil.h"
#include "config/cfexpand.h"
#include "config/cfparams.h"
#include "mail/dsntmpl.h"

static const char *const names[PN_TMPL_COUNT] = {"failure_template", "delay_template",
                                                 "success_template", "verify_template"};

static const char *const builtin[PN_TMPL_COUNT] = {
    "Charset: us-ascii\n"
    "From: MAILER-DAEMON (Mail Delivery System)\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "Postmaster-Subject: Postmaster Copy: Undelivered Mail\n"
    "\n"
    "This is the mail system at host $myhostname.\n"
    "\n"
    "Your message could not be delivered to one or more of its recipients; the\n"
    "mail system gave up on them. The reasons are listed below, and the message\n"
    "itself is attached.\n"
    "\n"
    "If you need help with this, write to the postmaster and include this report.\n",

    "Charset: us-ascii\n"
    "From: MAILER-DAEMON (Mail Delivery System)\n"
    "Subject: Delayed Mail (still being retried)\n"
    "Postmaster-Subject: Postmaster Warning: Delayed Mail\n"
    "\n"
    "This is the mail system at host $myhostname.\n"
    "\n"
    "####### THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #######\n"
    "\n"
    "Your message could not be delivered for more than $delay_warning_time_hours hour(s)\n"
    "to the recipients listed below. The mail system will keep trying until the\n"
    "message is $maximal_queue_lifetime_days day(s) old. Its header is attached.\n",

    "Charset: us-ascii\n"
    "From: MAILER-DAEMON (Mail Delivery System)\n"
    "Subject: Successful Mail Delivery Report\n"
    "\n"
    "This is the mail system at host $myhostname.\n"
    "\n"
    "Your message was delivered to the recipients listed below, as you asked.\n"
    "Where it went on to a system that does not report deliveries, it says\n"
    "\"relayed\": you may hear no more from there.\n",

    "Charset: us-ascii\n"
    "From: MAILER-DAEMON (Mail Delivery System)\n"
    "Subject: Mail Delivery Status Report\n"
    "\n"
    "This is the mail system at host $myhostname.\n"
    "\n"
    "Here is the delivery report you asked for.\n",
};

const char *pn_dsn_template_name(int kind)
{
    return names[kind];
}

/* lookup: a parameter, or a time parameter in the unit its name ends with. */
static const char *lookup(const char *name, void *ctx)
{
    static const struct {
        const char *suffix;
        long seconds;
    } units[] = {
        {"_seconds", 1}, {"_minutes", 60}, {"_hours", 3600}, {"_days", 86400}, {"_weeks", 604800}};
    pn_buf *scratch = ctx;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(name), s = strlen(units[i].suffix);
        if (n <= s || strcmp(name + n - s, units[i].suffix) != 0)
            continue;
        char base[128];
        snprintf(base, sizeof(base), "%.*s", (int)(n - s), name);
        if (pn_param_find(base) == NULL)
            break;
        pn_buf_reset(scratch);
        pn_buf_printf(scratch, "%ld", pn_config_get_time(base) / units[i].seconds);
        return scratch->data;
    }
    return pn_param_find(name) ? pn_config_get(name) : NULL;
}

/* from_file: the text of the named template in path; 1 found, 0 not there, -1 error. */
static int from_file(const char *path, const char *name, pn_buf *body, pn_buf *why)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        pn_buf_printf(why, "open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL, end_tag[64] = "";
    size_t cap = 0;
    int lineno = 0, found = 0, inside = 0, start = 0, want = 0;
    while (getline(&line, &cap, fp) > 0) {
        lineno++;
        line[strcspn(line, "\n")] = 0;
        if (inside) {
            if (strcmp(line, end_tag) == 0) {
                inside = 0;
                found |= want;
            } else if (want) {
                pn_buf_puts(body, line);
                pn_buf_putc(body, '\n');
            }
            continue;
        }
        char *s = pn_trim(line);
        if (*s == 0 || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        char *tag = eq ? strstr(eq, "<<") : NULL;
        if (eq == NULL || tag == NULL || sscanf(tag + 2, " %63s", end_tag) != 1) {
            pn_buf_printf(why, "%s, line %d: expected \"name = <<TAG\"", path, lineno);
            free(line);
            fclose(fp);
            return -1;
        }
        *eq = 0;
        want = strcmp(pn_trim(s), name) == 0;
        inside = 1;
        start = lineno;
    }
    free(line);
    fclose(fp);
    if (inside) {
        pn_buf_printf(why, "%s, line %d: template without its closing \"%s\"", path, start,
                      end_tag);
        return -1;
    }
    return found;
}

int pn_dsn_template_text(int kind, const char *path, pn_buf *out, pn_buf *why)
{
    pn_buf_reset(out);
    int rc = path && *path ? from_file(path, names[kind], out, why) : 0;
    if (rc == 0)
        pn_buf_set(out, builtin[kind]);
    return rc;
}

int pn_dsn_template_expand(const char *text, pn_buf *out, pn_buf *why)
{
    pn_buf scratch = PN_BUF_INIT;
    pn_expand_ctx ec = {.lookup = lookup, .ctx = &scratch, .flags = PN_EXPAND_RECURSE};
    int rc = pn_expand(&ec, text, out, why);
    pn_buf_release(&scratch);
    return rc;
}
