/* template.c: the texts of notices. bounce_template_file holds "failure_template = <<EOF" ...
 * "EOF" blocks (likewise delay_template, success_template and verify_template): header-like
 * lines (Charset,
 * From, Subject, Postmaster-Subject), an empty line, then the text, where $name expands to a
 * main.cf parameter and a time parameter may carry a unit (${delay_warning_time_hours}).
 * A kind the file does not define keeps its built-in template. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/strutil.h"
#include "config/cfexpand.h"
#include "config/cfparams.h"
#include "bounce.h"

static const char *const names[] = {"failure_template", "delay_template", "success_template",
                                    "verify_template"};

static const char *const builtin[] = {
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

/* lookup: a parameter, or a time parameter in the unit its name ends with. */
static const char *lookup(const char *name, void *ctx)
{
    static const struct {
        const char *suffix;
        long seconds;
    } units[] = {{"_seconds", 1}, {"_minutes", 60}, {"_hours", 3600}, {"_days", 86400},
                 {"_weeks", 604800}};
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

/* parse: header lines and text of one template; -1 when a header line is not one. */
static int parse(const char *body, bounce_template *t, pn_buf *why)
{
    const char *p = body;
    pn_buf scratch = PN_BUF_INIT;
    pn_expand_ctx ec = {.lookup = lookup, .ctx = &scratch, .flags = PN_EXPAND_RECURSE};
    while (*p && *p != '\n') {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        pn_buf *field = NULL;
        if (colon) {
            size_t k = (size_t)(colon - p);
            field = k == 7 && strncasecmp(p, "Charset", 7) == 0       ? &t->charset
                    : k == 4 && strncasecmp(p, "From", 4) == 0        ? &t->from
                    : k == 7 && strncasecmp(p, "Subject", 7) == 0     ? &t->subject
                    : k == 18 && strncasecmp(p, "Postmaster-Subject", 18) == 0
                        ? &t->postmaster_subject
                        : NULL;
        }
        if (field == NULL) {
            pn_buf_printf(why, "unknown template header: %.*s", (int)n, p);
            pn_buf_release(&scratch);
            return -1;
        }
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        pn_buf raw = PN_BUF_INIT;
        pn_buf_append(&raw, v, n - (size_t)(v - p));
        pn_buf_reset(field);
        int rc = pn_expand(&ec, raw.data, field, why);
        pn_buf_release(&raw);
        if (rc < 0) {
            pn_buf_release(&scratch);
            return -1;
        }
        p += n + (nl != NULL);
    }
    if (*p == '\n')
        p++;
    pn_buf_reset(&t->text);
    int rc = pn_expand(&ec, p, &t->text, why);
    pn_buf_release(&scratch);
    return rc;
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

int template_load(enum notice_kind kind, bounce_template *t, pn_buf *why)
{
    memset(t, 0, sizeof(*t));
    pn_buf body = PN_BUF_INIT, err = PN_BUF_INIT;
    const char *path = pn_config_get("bounce_template_file");
    int rc = 0;
    if (parse(builtin[kind], t, why) < 0) /* the defaults under any file's changes */
        rc = -1;
    else if (*path && (rc = from_file(path, names[kind], &body, why)) == 1 &&
             (rc = parse(body.data, t, &err)) < 0)
        pn_buf_printf(why, "%s: %s: %s", path, names[kind], err.data);
    pn_buf_release(&body);
    pn_buf_release(&err);
    return rc < 0 ? -1 : 0;
}

void template_release(bounce_template *t)
{
    pn_buf_release(&t->charset);
    pn_buf_release(&t->from);
    pn_buf_release(&t->subject);
    pn_buf_release(&t->postmaster_subject);
    pn_buf_release(&t->text);
}
