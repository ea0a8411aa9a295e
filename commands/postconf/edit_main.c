/* edit_main.c: postconf -e, -X and -#: change main.cf in place through cfedit, keeping every
 * comment and the order of the other lines. Seed-page forms that the reference rejects are
 * accepted as doc/decisions.md (D5) decides, with a note on stderr. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/htable.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "postconf.h"
#include "config/cfedit.h"
#include "config/cfparams.h"

/* entry_name: the parameter name a main.cf logical line assigns. */
static char *entry_name(const char *logical)
{
    size_t n = 0;
    while (logical[n] && !isspace((unsigned char)logical[n]) && logical[n] != '=')
        n++;
    return pn_strndup(logical, n);
}

static pn_cfedit *open_main(void)
{
    pn_buf err = PN_BUF_INIT;
    pn_cfedit *edit = pn_cfedit_open(pn_config_main_path(), &err);
    if (edit == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    return edit;
}

static void commit(pn_cfedit *edit)
{
    pn_buf err = PN_BUF_INIT;
    if (pn_cfedit_commit(edit, &err) < 0)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    pn_cfedit_free(edit);
}

void edit_main_remove(char **names, int comment_out)
{
    pn_cfedit *edit = open_main();
    pn_buf logical = PN_BUF_INIT, text = PN_BUF_INIT;
    for (size_t i = 0; i < pn_cfedit_count(edit); i++) {
        pn_cfedit_logical(edit, i, &logical);
        char *name = entry_name(logical.data);
        for (char **np = names; *np; np++) {
            if (strcmp(name, *np) != 0)
                continue;
            pn_buf_reset(&text);
            pn_buf_printf(&text, "#%s", logical.data);
            pn_cfedit_replace(edit, i, comment_out ? text.data : NULL);
            break;
        }
        free(name);
    }
    pn_buf_release(&logical);
    pn_buf_release(&text);
    commit(edit);
}

/* split_assignment: "name = value" into a trimmed name and value. */
static void split_assignment(const char *arg, char **name, char **value)
{
    const char *eq = strchr(arg, '=');
    char *n = pn_strndup(arg, (size_t)(eq - arg));
    char *v = pn_strdup(eq + 1);
    *name = pn_strdup(pn_trim(n));
    *value = pn_strdup(pn_trim(v));
    free(n);
    free(v);
    if (**name == 0 || strpbrk(*name, " \t"))
        pn_fatal("invalid parameter name in \"%s\"", arg);
}

void edit_main_set(char **args)
{
    pn_argv *assignments = pn_argv_new();
    pn_argv *removals = pn_argv_new();
    if (args[0] && args[1] && strcmp(args[1], "=") == 0) {
        /* "postconf -e name = value" as three words: one assignment (D5). */
        pn_buf joined = PN_BUF_INIT;
        for (char **ap = args; *ap; ap++)
            pn_buf_printf(&joined, "%s%s", ap == args ? "" : " ", *ap);
        pn_info("joining the arguments into one setting: \"%s\"", joined.data);
        pn_argv_add(assignments, joined.data);
        pn_buf_release(&joined);
    } else {
        for (char **ap = args; *ap; ap++) {
            if (strchr(*ap, '=')) {
                pn_argv_add(assignments, *ap);
            } else {
                /* "postconf -e name" resets name to its default (D5). */
                pn_info("no '=' after \"%s\": removing it from main.cf (back to the default)", *ap);
                pn_argv_add(removals, *ap);
            }
        }
    }
    if (assignments->len == 0 && removals->len == 0)
        pn_fatal("-e requires one or more name=value arguments");

    pn_htable *wanted = pn_htable_new(16);
    pn_argv *order = pn_argv_new();
    for (size_t i = 0; i < assignments->len; i++) {
        char *name, *value;
        split_assignment(assignments->items[i], &name, &value);
        pn_buf line = PN_BUF_INIT;
        pn_buf_printf(&line, "%s = %s", name, value);
        if (!pn_htable_has(wanted, name))
            pn_argv_add(order, name);
        free(pn_htable_put(wanted, name, pn_buf_steal(&line)));
        free(name);
        free(value);
    }
    pn_htable *done = pn_htable_new(16);
    pn_cfedit *edit = open_main();
    pn_buf logical = PN_BUF_INIT;
    for (size_t i = 0; i < pn_cfedit_count(edit); i++) {
        pn_cfedit_logical(edit, i, &logical);
        char *name = entry_name(logical.data);
        const char *line = pn_htable_get(wanted, name);
        if (line) {
            pn_cfedit_replace(edit, i, line);
            pn_htable_put(done, name, (void *)1);
        }
        for (size_t r = 0; r < removals->len; r++)
            if (strcmp(name, removals->items[r]) == 0)
                pn_cfedit_replace(edit, i, NULL);
        free(name);
    }
    for (size_t i = 0; i < order->len; i++)
        if (!pn_htable_has(done, order->items[i]))
            pn_cfedit_append(edit, pn_htable_get(wanted, order->items[i]));
    commit(edit);
    pn_buf_release(&logical);
    pn_htable_free(wanted, free);
    pn_htable_free(done, NULL);
    pn_argv_free(order);
    pn_argv_free(assignments);
    pn_argv_free(removals);
}
