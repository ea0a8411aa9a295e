/* codec.c: CRC32C with a byte table (queue files are checked once per delivery, so this is
 * not a hot loop), big-endian integers, and xtext. */
#include "base/codec.h"

#include <ctype.h>
#include <stdlib.h>

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

uint32_t pn_crc32c(uint32_t crc, const void *data, size_t len)
{
    if (table[1] == 0)
        make_table();
    const unsigned char *p = data;
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
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

int pn_xtext_decode(const char *text, pn_buf *out)
{
    pn_buf_reset(out);
    for (const char *cp = text; *cp; cp++) {
        if (*cp != '+') {
            pn_buf_putc(out, *cp);
            continue;
        }
        if (!isxdigit((unsigned char)cp[1]) || !isxdigit((unsigned char)cp[2]))
            return -1;
        char hex[3] = {cp[1], cp[2], 0};
        pn_buf_putc(out, (int)strtol(hex, NULL, 16));
        cp += 2;
    }
    return 0;
}

void pn_xtext_encode(const char *text, pn_buf *out)
{
    pn_buf_reset(out);
    for (const unsigned char *cp = (const unsigned char *)text; *cp; cp++) {
        if (*cp < 33 || *cp > 126 || *cp == '+' || *cp == '=')
            pn_buf_printf(out, "+%02X", *cp);
        else
            pn_buf_putc(out, *cp);
    }
}
