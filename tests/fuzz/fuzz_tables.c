/* fuzz_tables.c: the lookup-table sources on any text: postmap's and postalias's source
 * readers (lib/mail/tabsrc.c), texthash:, inline:, regexp:, pcre: and cidr: tables opened
 * from it and queried. The first byte chooses the kind; the rest is the table. */
#include <stdio.h>

#include "fuzz.h"
#include "mail/dict.h"
#include "mail/tabsrc.h"

static const char *const kinds[] = {"map", "alias", "texthash", "inline", "regexp", "pcre", "cidr"};
static const char *const keys[] = {"user@example.com",
                                   "example.com",
                                   "user",
                                   "127.0.0.1",
                                   "2001:db8::1",
                                   "",
                                   "@example.com",
                                   "user+ext@sub.example.com"};

static void query(pn_dict *dict)
{
    pn_buf value = PN_BUF_INIT, key = PN_BUF_INIT;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        pn_dict_lookup(dict, keys[i], &value);
    for (int first = 1, n = 0; n < 1000 && pn_dict_sequence(dict, first, &key, &value) > 0;
         first = 0, n++)
        ;
    pn_buf_release(&value);
    pn_buf_release(&key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet("fuzz_tables");
    if (size < 1)
        return 0;
    const char *kind = kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
    data++;
    size--;
    /* a pattern can be made slow on purpose (backtracking): a table is written by its
     * administrator, and the run is kept to patterns of a sensible size */
    if (size > 4096 || (size > 512 && (!strcmp(kind, "regexp") || !strcmp(kind, "pcre"))))
        return 0;
    /* and glibc's regcomp expands stacked repetitions ("a+++...") into a tree that doubles
     * with each: the same trusted-input limit */
    if (!strcmp(kind, "regexp"))
        for (size_t i = 1; i < size; i++)
            if (strchr("*+?}", data[i]) && strchr("*+?}", data[i - 1]))
                return 0;
    pn_buf err = PN_BUF_INIT, spec = PN_BUF_INIT, key = PN_BUF_INIT, value = PN_BUF_INIT;
    int fd = fuzz_memfd(data, size);
    if (fd < 0)
        return 0;
    if (!strcmp(kind, "map") || !strcmp(kind, "alias")) {
        pn_tabsrc *src =
            pn_tabsrc_fdopen(fd, "fuzz", !strcmp(kind, "map") ? PN_TABSRC_MAP : PN_TABSRC_ALIAS);
        int line;
        while (pn_tabsrc_next(src, &key, &value, &line, &err) > 0)
            ;
        pn_tabsrc_close(src);
        close(fd); /* the reader leaves it open, as postmap's standard input */
    } else {
        if (!strcmp(kind, "inline")) {
            char *text = fuzz_string(data, size);
            if (strlen(text) == size)
                pn_buf_printf(&spec, "inline:%s", text);
            free(text);
        } else {
            pn_buf_printf(&spec, "%s:/proc/self/fd/%d", kind, fd);
        }
        pn_dict *dict = spec.len ? pn_dict_open(spec.data, PN_DICT_DEFAULT_FLAGS, &err) : NULL;
        if (dict) {
            query(dict);
            pn_dict_close(dict, &err);
        }
        close(fd);
    }
    pn_buf_release(&err);
    pn_buf_release(&spec);
    pn_buf_release(&key);
    pn_buf_release(&value);
    return 0;
}
