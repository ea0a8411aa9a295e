/* dsn.c: NOTIFY lists and xtext (RFC 3461 sections 4.1 and 4.2). */
#include <string.h>
#include <strings.h>

#include "mail/dsn.h"
#include "mail/qfile.h"

static const struct {
    const char *name;
    int bit;
} keywords[] = {
    {"SUCCESS", PN_NOTIFY_SUCCESS}, {"FAILURE", PN_NOTIFY_FAILURE}, {"DELAY", PN_NOTIFY_DELAY}};

int pn_dsn_notify_parse(const char *text)
{
    if (strcasecmp(text, "NEVER") == 0)
        return PN_NOTIFY_NEVER;
    int bits = 0;
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, ",");
        int found = 0;
        for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
            if (strlen(keywords[i].name) == n && strncasecmp(p, keywords[i].name, n) == 0) {
                bits |= keywords[i].bit;
                found = 1;
            }
        }
        if (!found)
            return -1;
        if (p[n] == 0)
            return bits;
        p += n + 1;
    }
}

void pn_dsn_notify_format(int notify, pn_buf *out)
{
    if (notify & PN_NOTIFY_NEVER) {
        pn_buf_puts(out, "NEVER");
        return;
    }
    const char *sep = "";
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        if (notify & keywords[i].bit) {
            pn_buf_printf(out, "%s%s", sep, keywords[i].name);
            sep = ",";
        }
    }
}

int pn_dsn_wants(int notify, int kind)
{
    if (notify == 0)
        return kind != PN_NOTIFY_SUCCESS;
    return (notify & PN_NOTIFY_NEVER) == 0 && (notify & kind) != 0;
}
