/* show_main.c: prints main.cf parameters as "name = value": all known ones, the ones set in
 * main.cf (-n), the built-in defaults (-d), expanded (-x), folded (-f), or only names or
 * values (-H, -h). It never changes a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/htable.h"
#include "base/log.h"
#include "postconf.h"
#include "config/cfparams.h"

static void print_folded(const char *text)
{
    size_t col = 0;
    const char *cp = text;
    while (*cp) {
        size_t word = strcspn(cp, " ");
        if (col > 0 && col + 1 + word > 80) {
            fputs("\n   ", stdout);
            col = 3;
        }
        if (col > 0) {
            putchar(' ');
            col++;
        }
        fwrite(cp, 1, word, stdout);
        col += word;
        cp += word;
        cp += strspn(cp, " ");
    }
    putchar('\n');
}

static void print_one(int flags, const char *name)
{
    const char *value;
    if (flags & PC_DEFAULTS)
        value = pn_config_default(name);
    else
        value = pn_config_raw(name);
    if (value == NULL)
        value = pn_config_setting(name);
    if (value == NULL)
        value = "";
    pn_buf expanded = PN_BUF_INIT, err = PN_BUF_INIT;
    if (flags & PC_EXPAND) {
        pn_buf_init(&expanded);
        if (pn_config_expand_text(value, &expanded, &err) < 0)
            pn_fatal("parameter %s: %s", name, err.data);
        value = expanded.data;
    }
    if (flags & PC_NAME_ONLY) {
        puts(name);
    } else {
        pn_buf line = PN_BUF_INIT;
        if (flags & PC_VALUE_ONLY)
            pn_buf_puts(&line, value);
        else if (*value)
            pn_buf_printf(&line, "%s = %s", name, value);
        else
            pn_buf_printf(&line, "%s =", name);
        if (flags & PC_FOLD)
            print_folded(pn_buf_str(&line));
        else
            puts(pn_buf_str(&line));
        pn_buf_release(&line);
    }
    pn_buf_release(&expanded);
    pn_buf_release(&err);
}

void show_main(int flags, char **names)
{
    if (*names) {
        for (; *names; names++) {
            if (!pn_config_is_used(*names) && pn_config_setting(*names) == NULL) {
                pn_warn("%s: unknown parameter", *names);
                continue;
            }
            if ((flags & PC_NONDEFAULT) && pn_config_setting(*names) == NULL)
                continue;
            print_one(flags, *names);
        }
        return;
    }
    if (flags & PC_NONDEFAULT) {
        const char **set = pn_config_setting_names();
        for (size_t i = 0; set[i]; i++)
            if (pn_config_is_used(set[i]))
                print_one(flags, set[i]);
        free(set);
        return;
    }
    /* Every known name, plus user-defined names that main.cf refers to. */
    pn_htable *all = pn_htable_new(2048);
    const char **known = pn_param_names();
    for (size_t i = 0; known[i]; i++)
        pn_htable_put(all, known[i], (void *)1);
    free(known);
    if (!(flags & PC_DEFAULTS)) {
        const char **set = pn_config_setting_names();
        for (size_t i = 0; set[i]; i++)
            if (pn_config_is_used(set[i]))
                pn_htable_put(all, set[i], (void *)1);
        free(set);
    }
    const char **names_sorted = pn_htable_keys(all);
    for (size_t i = 0; names_sorted[i]; i++)
        print_one(flags, names_sorted[i]);
    free(names_sorted);
    pn_htable_free(all, NULL);
}
