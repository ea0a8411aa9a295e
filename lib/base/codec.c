/* codec.c: CRC32C (the processor's crc32 instruction where there is one, else a byte table;
 * every queue file's content is summed when written and checked when delivered), big-endian
 * integers, xtext and base64. */
#include "base/codec.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

static uint32_t by_table(uint32_t crc, const unsigned char *p, size_t len)
{
    if (table[1] == 0)
        make_table();
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* SSE4.2's crc32 computes this very polynomial, eight bytes at a time. */
__attribute__((target("sse4.2"))) static uint32_t by_instruction(uint32_t crc,
                                                                  const unsigned char *p,
                                                                  size_t len)
{
    uint64_t wide = crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof(word));
        wide = __builtin_ia32_crc32di(wide, word);
    }
    crc = (uint32_t)wide;
    for (; len > 0; p++, len--)
        crc = __builtin_ia32_crc32qi(crc, *p);
    return crc;
}
#endif

uint32_t pn_crc32c(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static int have_sse42 = -1;
    if (have_sse42 < 0)
        have_sse42 = __builtin_cpu_supports("sse4.2") != 0;
    if (have_sse42)
        return ~by_instruction(~crc, data, len);
#endif
    return ~by_table(~crc, data, len);
}

void pn_put_be16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

void pn_put_be32(unsigned char *p, uint32_t v)
{
    pn_put_be16(p, (uint16_t)(v >> 16));
    pn_put_be16(p + 2, (uint16_t)v);
}

void pn_put_be64(unsigned char *p, uint64_t v)
{
    pn_put_be32(p, (uint32_t)(v >> 32));
    pn_put_be32(p + 4, (uint32_t)v);
}

uint16_t pn_get_be16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t pn_get_be32(const unsigned char *p)
{
    return ((uint32_t)pn_get_be16(p) << 16) | pn_get_be16(p + 2);
}

uint64_t pn_get_be64(const unsigned char *p)
{
    return ((uint64_t)pn_get_be32(p) << 32) | pn_get_be32(p + 4);
}

/* hexval: a hex digit's value (upper case, as xtext writes it), or -1. */
static int hexval(int c)
{
    return isdigit(c) ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int pn_xtext_decode(const char *text, size_t len, pn_buf *out)
{
    pn_buf_reset(out);
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)text[i];
        if (c == '+') {
            int hi = i + 1 < len ? hexval((unsigned char)text[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)text[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return -1;
        }
        if (c < 32 || c == 127)
            return -1; /* no control characters inside the mail system */
        pn_buf_putc(out, (char)c);
    }
    return 0;
}

void pn_xtext_encode(const char *text, pn_buf *out)
{
    for (const unsigned char *cp = (const unsigned char *)text; *cp; cp++) {
        if (*cp < 33 || *cp > 126 || *cp == '+' || *cp == '=')
            pn_buf_printf(out, "+%02X", *cp);
        else
            pn_buf_putc(out, *cp);
    }
}

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void pn_base64_encode(const void *data, size_t len, pn_buf *out)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        pn_buf_putc(out, base64_alphabet[v >> 18]);
        pn_buf_putc(out, base64_alphabet[(v >> 12) & 63]);
        pn_buf_putc(out, i + 1 < len ? base64_alphabet[(v >> 6) & 63] : '=');
        pn_buf_putc(out, i + 2 < len ? base64_alphabet[v & 63] : '=');
    }
}

static int base64_value(char c)
{
    const char *at = c ? strchr(base64_alphabet, c) : NULL;
    return at ? (int)(at - base64_alphabet) : -1;
}

int pn_base64_decode(const char *text, size_t len, pn_buf *out)
{
    if (len % 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int pad = text[i + 3] == '=' ? (text[i + 2] == '=' ? 2 : 1) : 0;
        if (pad && i + 4 != len)
            return -1;
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
            int d = k >= 4 - pad ? 0 : base64_value(text[i + (size_t)k]);
            if (d < 0)
                return -1;
            v = v << 6 | (unsigned)d;
        }
        pn_buf_putc(out, (int)(v >> 16));
        if (pad < 2)
            pn_buf_putc(out, (int)(v >> 8 & 255));
        if (pad < 1)
            pn_buf_putc(out, (int)(v & 255));
    }
    return 0;
}
