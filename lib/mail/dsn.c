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

size_t pn_dsn_status_len(const char *text)
{
    if ((text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
        return 0;
    size_t pos = 2;
    for (int part = 0; part < 2; part++) {
        size_t digits = strspn(text + pos, "0123456789");
        if (digits < 1 || digits > 3)
            return 0;
        pos += digits;
        if (part == 0) {
            if (text[pos] != '.')
                return 0;
            pos++;
        }
    }
    return text[pos] == 0 || text[pos] == ' ' ? pos : 0;
}
