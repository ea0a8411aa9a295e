/* fuzz_codec.c: the xtext (ENVID=, ORCPT=, AUTH=) and base64 (AUTH) decoders of
 * lib/base/codec.c: any input is decoded or refused, and what decodes encodes back to
 * something that decodes to the same bytes. */
#include "base/codec.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_codec");
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    pn_buf out = PN_BUF_INIT, again = PN_BUF_INIT, back = PN_BUF_INIT;
    if (pn_xtext_decode(text, size, &out) == 0 && memchr(out.data, 0, out.len) == NULL) {
        pn_xtext_encode(out.data, &again);
        if (pn_xtext_decode(again.data, again.len, &back) != 0 || back.len != out.len ||
            memcmp(back.data, out.data, out.len) != 0)
            abort();
    }
    pn_buf_reset(&out);
    pn_buf_reset(&again);
    pn_buf_reset(&back);
    if (pn_base64_decode(text, size, &out) == 0) {
        pn_base64_encode(out.data, out.len, &again);
        if (pn_base64_decode(again.data, again.len, &back) != 0 || back.len != out.len ||
            memcmp(back.data, out.data, out.len) != 0)
            abort();
    }
    pn_buf_release(&out);
    pn_buf_release(&again);
    pn_buf_release(&back);
    free(text);
    return 0;
}
