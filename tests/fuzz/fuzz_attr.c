/* fuzz_attr.c: the ATTR/1 decoder (lib/ipc/attr.c) on any payload: it accepts or refuses,
 * and what it accepts can be read by every accessor without reading outside the frame. */
#include "fuzz.h"
#include "ipc/attr.h"

static void walk(const pn_attrs *a, int depth)
{
    const char *v;
    size_t vlen;
    int64_t n;
    static const char *const names[] = {"req", "status", "sender", "queue_id", "offset", "a"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        pn_attr_get_str(a, names[i], &v, &vlen);
        pn_attr_get_int(a, names[i], &n);
    }
    size_t cursor = 0;
    pn_attrs g;
    while (depth < 8 && pn_attr_next_group(a, "rcpt", &cursor, &g) > 0)
        walk(&g, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_attr");
    if (size > PN_ATTR_MAX_FRAME)
        return 0;
    char *copy = malloc(size ? size : 1); /* exactly the frame: ASan sees a read past it */
    memcpy(copy, data, size);
    pn_attrs a;
    pn_buf why = PN_BUF_INIT;
    if (pn_attr_parse(copy, size, &a, &why) == 0)
        walk(&a, 0);
    pn_buf_release(&why);
    free(copy);
    return 0;
}
