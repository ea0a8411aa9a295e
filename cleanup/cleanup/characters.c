/* characters.c: message_strip_characters (removed from headers and body) and
 * message_reject_characters (the message is refused with "5.7.1 disallowed character", as
 * the reference does). Values take C escapes: \0 for NUL, \t, \n, \r, \\, \ooo octal. */
#include <stdlib.h>
#include <string.h>

#include "config/cfparams.h"
#include "cleanup.h"

static unsigned char strip_set[256], reject_set[256];
static int have_strip, have_reject;

/* parse_set: the characters of value, escapes decoded; 1 when there is any. */
static int parse_set(const char *value, unsigned char set[256])
{
    static const char escapes[] = "a\ab\bf\fn\nr\rt\tv\v";
    int any = 0;
    memset(set, 0, 256);
    for (const char *cp = value; *cp; cp++) {
        unsigned char ch = (unsigned char)*cp;
        if (ch == '\\' && cp[1]) {
            cp++;
            const char *e = strchr(escapes, *cp);
            if (*cp >= '0' && *cp <= '7') {
                int n = 0;
                for (int i = 0; i < 3 && *cp >= '0' && *cp <= '7'; i++, cp++)
                    n = n * 8 + (*cp - '0');
                cp--;
                ch = (unsigned char)n;
            } else if (e && (e - escapes) % 2 == 0) {
                ch = (unsigned char)e[1];
            } else {
                ch = (unsigned char)*cp;
            }
        }
        set[ch] = 1;
        any = 1;
    }
    return any;
}

void characters_init(void)
{
    have_strip = parse_set(pn_config_get(PN_P(message_strip_characters)), strip_set);
    have_reject = parse_set(pn_config_get(PN_P(message_reject_characters)), reject_set);
}

void characters_apply(cleanup_msg *msg, char *record, size_t *len)
{
    if (have_strip) {
        size_t out = 0;
        for (size_t i = 0; i < *len; i++)
            if (!strip_set[(unsigned char)record[i]])
                record[out++] = record[i];
        record[out] = 0;
        *len = out;
    }
    if (!have_reject || (msg->status & CLEANUP_STAT_CONTENT))
        return;
    for (size_t i = 0; i < *len; i++) {
        if (reject_set[(unsigned char)record[i]]) {
            const char *why = "5.7.1 disallowed character";
            msg->status |= CLEANUP_STAT_CONTENT;
            pn_buf_set(&msg->reason, why);
            /* the line as far as a C string goes: up to a NUL */
            cleanup_log_action(msg, "reject", "content", record, why);
            return;
        }
    }
}
