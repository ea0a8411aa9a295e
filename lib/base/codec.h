/* codec.h: checksums and encodings: CRC32C (queue files), xtext (RFC 3461 DSN values), base64
 * (SASL exchanges) and big-endian integer helpers for the binary formats. */
#ifndef PN_BASE_CODEC_H
#define PN_BASE_CODEC_H
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* pn_crc32c: continue a CRC32C (Castagnoli) over data; start with crc = 0. */
uint32_t pn_crc32c(uint32_t crc, const void *data, size_t len);
void pn_put_be16(unsigned char *p, uint16_t v);
void pn_put_be32(unsigned char *p, uint32_t v);
void pn_put_be64(unsigned char *p, uint64_t v);
uint16_t pn_get_be16(const unsigned char *p);
uint32_t pn_get_be32(const unsigned char *p);
uint64_t pn_get_be64(const unsigned char *p);
/* pn_xtext_decode: len bytes of xtext ("a+2Bb" -> "a+b") into out; -1 when malformed (a bad
 * "+HH", a character xtext does not allow) or when it decodes to a control character. */
int pn_xtext_decode(const char *text, size_t len, pn_buf *out);
/* pn_xtext_encode: text as xtext, appended to out. */
void pn_xtext_encode(const char *text, pn_buf *out);
/* pn_base64_encode: len bytes as base64 (RFC 4648, padded), appended to out. */
void pn_base64_encode(const void *data, size_t len, pn_buf *out);
/* pn_base64_decode: len characters of padded base64 decoded and appended to out; -1 when
 * they are not base64 (a character outside the alphabet, a bad length or padding). */
int pn_base64_decode(const char *text, size_t len, pn_buf *out);

#endif
