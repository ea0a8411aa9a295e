/* template.c: a notice's template as the bounce service uses it: the built-in one, with
 * whatever bounce_template_file changes (a kind the file does not define keeps its built-in
 * template), its header-like lines taken apart and everything $-expanded (dsntmpl.c). */
#include <string.h>
#include <strings.h>

#include "config/cfparams.h"
#include "mail/dsntmpl.h"
#include "bounce.h"

/* parse: header lines and text of one template; -1 when a header line is not one. */
static int parse(const char *body, bounce_template *t, pn_buf *why)
{
    const char *p = body;
    while (*p && *p != '\n') {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        pn_buf *field = NULL;
        if (colon) {
            size_t k = (size_t)(colon - p);
            field = k == 7 && strncasecmp(p, "Charset", 7) == 0   ? &t->charset
                    : k == 4 && strncasecmp(p, "From", 4) == 0    ? &t->from
                    : k == 7 && strncasecmp(p, "Subject", 7) == 0 ? &t->subject
                    : k == 18 && strncasecmp(p, "Postmaster-Subject", 18) == 0
                        ? &t->postmaster_subject
                        : NULL;
        }
        if (field == NULL) {
            pn_buf_printf(why, "unknown template header: %.*s", (int)n, p);
            return -1;
        }
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        pn_buf raw = PN_BUF_INIT;
        pn_buf_append(&raw, v, n - (size_t)(v - p));
        pn_buf_reset(field);
        int rc = pn_dsn_template_expand(raw.data, field, why);
        pn_buf_release(&raw);
        if (rc < 0)
            return -1;
        p += n + (nl != NULL);
    }
    if (*p == '\n')
        p++;
    pn_buf_reset(&t->text);
    return pn_dsn_template_expand(p, &t->text, why);
}

static int template_load(enum notice_kind kind, bounce_template *t, pn_buf *why)
{
    memset(t, 0, sizeof(*t));
    pn_buf text = PN_BUF_INIT, err = PN_BUF_INIT;
    const char *path = pn_config_get(PN_P(bounce_template_file));
    int rc = pn_dsn_template_text((int)kind, NULL, &text, why);
    if (parse(text.data, t, why) < 0) /* the defaults under any file's changes */
        rc = -1;
    else if ((rc = pn_dsn_template_text((int)kind, path, &text, why)) == 1 &&
             (rc = parse(text.data, t, &err)) < 0)
        pn_buf_printf(why, "%s: %s: %s", path, pn_dsn_template_name((int)kind), err.data);
    pn_buf_release(&text);
    pn_buf_release(&err);
    return rc < 0 ? -1 : 0;
}

static void template_release(bounce_template *t)
{
    pn_buf_release(&t->charset);
    pn_buf_release(&t->from);
    pn_buf_release(&t->subject);
    pn_buf_release(&t->postmaster_subject);
    pn_buf_release(&t->text);
}

const bounce_template *template_get(enum notice_kind kind, pn_buf *why)
{
    /* read and expanded once per process: main.cf and the file do not change under it */
    static bounce_template loaded[NOTICE_REPORT + 1];
    static int ready[NOTICE_REPORT + 1];
    if (!ready[kind]) {
        if (template_load(kind, &loaded[kind], why) < 0) {
            template_release(&loaded[kind]);
            return NULL;
        }
        ready[kind] = 1;
    }
    return &loaded[kind];
}
