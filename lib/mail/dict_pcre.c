/* dict_pcre.c: pcre: tables with PCRE2 (built when configure finds libpcre2-8). Flags: i
 * (toggle case-insensitive, on by default), m, s, x, A (anchored), E (dollar at end only),
 * U (ungreedy). */
#include "mail/dict_pattern.h"

#if PN_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "mail/delimited.h"

static void *pcre_compile_pattern(char **cursor, size_t *groups, pn_buf *why)
{
    pn_buf pattern = PN_BUF_INIT, flags = PN_BUF_INIT;
    pn_buf_init(&pattern);
    pn_buf_init(&flags);
    pcre2_code *code = NULL;
    if (pn_delimited_parse(cursor, &pattern, &flags, why) < 0)
        goto out;
    uint32_t options = PCRE2_CASELESS;
    for (const char *f = flags.data; *f; f++) {
        switch (*f) {
        case 'i': options ^= PCRE2_CASELESS; break;
        case 'm': options ^= PCRE2_MULTILINE; break;
        case 's': options ^= PCRE2_DOTALL; break;
        case 'x': options ^= PCRE2_EXTENDED; break;
        case 'A': options ^= PCRE2_ANCHORED; break;
        case 'E': options ^= PCRE2_DOLLAR_ENDONLY; break;
        case 'U': options ^= PCRE2_UNGREEDY; break;
        default: pn_buf_printf(why, "unknown pcre option \"%c\"", *f); goto out;
        }
    }
    int errcode;
    PCRE2_SIZE erroffset;
    code =
        pcre2_compile((PCRE2_SPTR)pattern.data, pattern.len, options, &errcode, &erroffset, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        pn_buf_printf(why, "pcre error in \"%s\" at offset %zu: %s", pattern.data,
                      (size_t)erroffset, (char *)msg);
        goto out;
    }
    uint32_t count = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
    *groups = count;
out:
    pn_buf_release(&pattern);
    pn_buf_release(&flags);
    return code;
}

static int pcre_match(void *pattern, const char *subject, long *offsets, pn_buf *why)
{
    pcre2_match_data *md = pcre2_match_data_create(PN_PATTERN_MAX_GROUPS, NULL);
    int rc = pcre2_match(pattern, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
    int result = 0;
    if (rc >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        for (int i = 0; i < rc && i < PN_PATTERN_MAX_GROUPS; i++) {
            offsets[2 * i] = ov[2 * i] == PCRE2_UNSET ? -1 : (long)ov[2 * i];
            offsets[2 * i + 1] = ov[2 * i + 1] == PCRE2_UNSET ? -1 : (long)ov[2 * i + 1];
        }
        result = 1;
    } else if (rc != PCRE2_ERROR_NOMATCH) {
        pn_buf_printf(why, "pcre match error %d", rc);
        result = -1;
    }
    pcre2_match_data_free(md);
    return result;
}

static void pcre_release(void *pattern)
{
    pcre2_code_free(pattern);
}

static const pn_pattern_ops pcre_ops = {pcre_compile_pattern, pcre_match, pcre_release, 1};

pn_dict *pn_dict_pcre_open(const char *type, const char *name, int flags, pn_buf *err)
{
    return pn_dict_pattern_open(type, name, flags, &pcre_ops, err);
}
#endif
