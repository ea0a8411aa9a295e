/* fuzz_mime.c: message parsing on any message: the MIME structure, headers and encodings as
 * the 8BITMIME-to-7bit conversion of the smtp client reads them (lib/mail/mime8to7.c). */
#include "fuzz.h"
#include "mail/mime8to7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_mime");
    if (size > 262144)
        return 0;
    char *msg = malloc(size ? size : 1);
    memcpy(msg, data, size);
    pn_buf out = PN_BUF_INIT;
    pn_mime_downgrade(msg, size, "mx.example.com", &out);
    pn_buf_release(&out);
    free(msg);
    return 0;
}
