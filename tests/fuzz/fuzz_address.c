/* fuzz_address.c: the address helpers (lib/mail/addr.c) and the header address rewriter
 * (lib/mail/hdraddr.c) on any text: no read outside the input, and the rewriter, given the
 * identity as its rewrite, gives back a field as long as it can make it. */
#include "fuzz.h"
#include "mail/addr.h"
#include "mail/hdraddr.h"

static int same(const char *addr, pn_buf *out, void *ctx)
{
    (void)ctx;
    pn_buf_set(out, addr);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_address");
    char *text = fuzz_string(data, size);
    pn_buf out = PN_BUF_INIT;
    pn_addr_at(text);
    pn_addr_has_control(text, strlen(text));
    pn_addr_domain(text, &out);
    pn_addr_localpart(text, &out);
    pn_addr_rewrite_local(text, &out);
    size_t at = pn_addr_extension_at(text, "+-");
    if (at > strlen(text))
        abort();
    pn_addr_strip_extension(text, "+-", &out);
    pn_addr_quote_local(text, &out);
    pn_hdraddr_kind(text);
    pn_buf_reset(&out);
    pn_hdraddr_rewrite(text, same, NULL, &out);
    pn_buf_release(&out);
    free(text);
    return 0;
}
