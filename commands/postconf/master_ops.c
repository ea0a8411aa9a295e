/* master_ops.c: postconf -M, -F and -P: show master.cf entries, their fields and their -o
 * parameters, and edit them in place (=, -X, -#) through cfedit. Entries are printed in the
 * normalised column layout of the reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "postconf.h"
#include "config/cfedit.h"

/* selector: "service[/type[/name]]" split into at most three parts. */
struct selector {
    char *parts[3];
    int count;
    char *value; /* after '=', or NULL */
};

static void selector_parse(const char *text, struct selector *sel, int want_value)
{
    memset(sel, 0, sizeof(*sel));
    char *copy = pn_strdup(text);
    char *eq = want_value ? strchr(copy, '=') : NULL;
    if (eq) {
        *eq = 0;
        sel->value = pn_strdup(eq + 1);
    }
    char *cursor = copy;
    char *part;
    while (sel->count < 3 && (part = strsep(&cursor, "/")) != NULL)
        sel->parts[sel->count++] = pn_strdup(pn_trim(part));
    if (cursor != NULL)
        pn_fatal("too many '/' in \"%s\"", text);
    free(copy);
}

static void selector_free(struct selector *sel)
{
    for (int i = 0; i < sel->count; i++)
        free(sel->parts[i]);
    free(sel->value);
}

static int selector_matches(const struct selector *sel, const pn_master_entry *e)
{
    if (sel->count >= 1 && *sel->parts[0] && strcmp(sel->parts[0], e->field[PN_MF_SERVICE]))
        return 0;
    if (sel->count >= 2 && *sel->parts[1] && strcmp(sel->parts[1], e->field[PN_MF_TYPE]))
        return 0;
    return 1;
}

void master_show(const pn_master *master, int fold, char **selectors)
{
    pn_buf out = PN_BUF_INIT;
    if (*selectors == NULL) {
        for (size_t i = 0; i < master->count; i++) {
            pn_buf_reset(&out);
            pn_master_format(master->entries[i], fold, &out);
            puts(out.data);
        }
    }
    for (; *selectors; selectors++) {
        struct selector sel;
        selector_parse(*selectors, &sel, 0);
        int found = 0;
        for (size_t i = 0; i < master->count; i++) {
            if (!selector_matches(&sel, master->entries[i]))
                continue;
            pn_buf_reset(&out);
            pn_master_format(master->entries[i], fold, &out);
            puts(out.data);
            found = 1;
        }
        if (!found)
            pn_warn("unmatched request: \"%s\"", *selectors);
        selector_free(&sel);
    }
    pn_buf_release(&out);
}

static void field_value(const pn_master_entry *e, int field, pn_buf *out)
{
    pn_buf_reset(out);
    if (field == PN_MF_COMMAND)
        pn_master_command(e, out);
    else
        pn_buf_puts(out, e->field[field]);
}

static int field_index(const char *name)
{
    for (int f = 0; f < PN_MF_COUNT; f++)
        if (strcmp(name, pn_master_field_names[f]) == 0)
            return f;
    return -1;
}

void master_show_fields(const pn_master *master, char **selectors, int value_only)
{
    static char *all[] = {"", NULL};
    pn_buf value = PN_BUF_INIT;
    if (*selectors == NULL)
        selectors = all;
    for (; *selectors; selectors++) {
        struct selector sel;
        selector_parse(*selectors, &sel, 0);
        int only = sel.count == 3 && *sel.parts[2] ? field_index(sel.parts[2]) : -1;
        if (sel.count == 3 && *sel.parts[2] && only < 0)
            pn_fatal("unknown master.cf field name: \"%s\"", sel.parts[2]);
        int found = 0;
        for (size_t i = 0; i < master->count; i++) {
            const pn_master_entry *e = master->entries[i];
            if (!selector_matches(&sel, e))
                continue;
            found = 1;
            for (int f = 0; f < PN_MF_COUNT; f++) {
                if (only >= 0 && f != only)
                    continue;
                field_value(e, f, &value);
                if (value_only)
                    printf("%s\n", value.data);
                else
                    printf("%s/%s/%s = %s\n", e->field[PN_MF_SERVICE], e->field[PN_MF_TYPE],
                           pn_master_field_names[f], value.data);
            }
        }
        if (!found && **selectors)
            pn_warn("unmatched request: \"%s\"", *selectors);
        selector_free(&sel);
    }
    pn_buf_release(&value);
}

/* compare_names: "name=value" strings by name. */
static int compare_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
    int rc = strncmp(x, y, nx < ny ? nx : ny);
    return rc ? rc : (nx > ny) - (nx < ny);
}

void master_show_params(const pn_master *master, char **selectors, int value_only)
{
    static char *all[] = {"", NULL};
    if (*selectors == NULL)
        selectors = all;
    for (; *selectors; selectors++) {
        struct selector sel;
        selector_parse(*selectors, &sel, 0);
        int found = 0;
        for (size_t i = 0; i < master->count; i++) {
            const pn_master_entry *e = master->entries[i];
            if (!selector_matches(&sel, e))
                continue;
            pn_argv *overrides = pn_master_overrides(e);
            qsort(overrides->items, overrides->len, sizeof(char *), compare_names);
            for (size_t j = 0; j < overrides->len; j++) {
                char *name = pn_strdup(overrides->items[j]);
                char *eq = strchr(name, '=');
                *eq = 0;
                if (sel.count < 3 || *sel.parts[2] == 0 || strcmp(sel.parts[2], name) == 0) {
                    if (value_only)
                        printf("%s\n", eq + 1);
                    else
                        printf("%s/%s/%s =%s%s\n", e->field[PN_MF_SERVICE], e->field[PN_MF_TYPE],
                               name, eq[1] ? " " : "", eq + 1);
                    found = 1;
                }
                free(name);
            }
            pn_argv_free(overrides);
        }
        if (!found && **selectors)
            pn_warn("unmatched request: \"%s\"", *selectors);
        selector_free(&sel);
    }
}

/* set_override: replace or add "-o name=value" (value NULL removes it). */
static void set_override(pn_master_entry *e, const char *name, const char *value)
{
    pn_argv *args = pn_argv_new();
    size_t name_len = strlen(name);
    int done = 0;
    for (size_t i = 0; i < e->args->len; i++) {
        const char *arg = e->args->items[i];
        if (i > 0 && strcmp(arg, "-o") == 0 && i + 1 < e->args->len) {
            const char *setting = e->args->items[i + 1];
            if (strncmp(setting, name, name_len) == 0 && setting[name_len] == '=') {
                i++;
                if (value && !done) {
                    pn_argv_add(args, "-o");
                    pn_buf s = PN_BUF_INIT;
                    pn_buf_printf(&s, "%s=%s", name, value);
                    pn_argv_add(args, s.data);
                    pn_buf_release(&s);
                }
                done = 1;
                continue;
            }
        }
        pn_argv_add(args, arg);
    }
    if (value && !done) {
        /* New -o options go right after the command name, before its own arguments. */
        pn_argv *with = pn_argv_new();
        pn_argv_add(with, args->items[0]);
        pn_argv_add(with, "-o");
        pn_buf s = PN_BUF_INIT;
        pn_buf_printf(&s, "%s=%s", name, value);
        pn_argv_add(with, s.data);
        pn_buf_release(&s);
        for (size_t i = 1; i < args->len; i++)
            pn_argv_add(with, args->items[i]);
        pn_argv_free(args);
        args = with;
    }
    pn_argv_free(e->args);
    e->args = args;
}

/* apply: change one parsed entry as the request says; returns the new text or NULL (remove). */
static char *apply(char mode, const struct selector *sel, pn_master_entry *e, int remove,
                   int comment_out, const char *logical)
{
    pn_buf out = PN_BUF_INIT;
    pn_buf_init(&out);
    if (mode == 'M') {
        if (remove)
            return NULL;
        if (comment_out) {
            pn_buf_printf(&out, "#%s", logical);
            return pn_buf_steal(&out);
        }
        pn_buf err = PN_BUF_INIT;
        pn_master_entry *fresh = pn_master_parse_entry(sel->value, &err);
        if (fresh == NULL)
            pn_fatal("%s", err.data);
        pn_master_format(fresh, 1, &out);
        pn_master_entry_free(fresh);
        return pn_buf_steal(&out);
    }
    if (mode == 'F') {
        int f = field_index(sel->parts[2]);
        if (f == PN_MF_COMMAND) {
            const char *why = NULL;
            pn_argv *cmd = pn_argv_split_grouped(sel->value, PN_BLANKS, &why);
            if (cmd == NULL || cmd->len == 0)
                pn_fatal("bad command field \"%s\"", sel->value);
            pn_argv_free(e->args);
            e->args = cmd;
        } else {
            free(e->field[f]);
            e->field[f] = pn_strdup(pn_trim(sel->value));
        }
    } else {
        set_override(e, sel->parts[2], remove ? NULL : sel->value);
    }
    /* Re-check the changed entry by parsing its new text. */
    pn_master_format(e, 0, &out);
    pn_buf err = PN_BUF_INIT;
    pn_master_entry *check = pn_master_parse_entry(out.data, &err);
    if (check == NULL)
        pn_fatal("%s", err.data);
    pn_buf_reset(&out);
    pn_master_format(check, 1, &out);
    pn_master_entry_free(check);
    return pn_buf_steal(&out);
}

void master_edit(char mode, char **args, int remove, int comment_out)
{
    if (*args == NULL)
        pn_fatal("-%c%s requires service/type arguments", mode,
                 remove        ? "X"
                 : comment_out ? "#"
                               : "e");
    pn_buf err = PN_BUF_INIT, logical = PN_BUF_INIT;
    pn_cfedit *edit = pn_cfedit_open(master_cf_path(), &err);
    if (edit == NULL)
        pn_fatal("%s", err.data);
    for (; *args; args++) {
        struct selector sel;
        int needs_value = !remove && !comment_out;
        selector_parse(*args, &sel, needs_value);
        int want_parts = mode == 'M' ? 2 : 3;
        if (sel.count != want_parts || (needs_value && sel.value == NULL))
            pn_fatal("bad request: \"%s\": expected service/type%s%s", *args,
                     mode == 'M'   ? ""
                     : mode == 'F' ? "/field"
                                   : "/parameter",
                     needs_value ? "=value" : "");
        if (mode == 'F' && field_index(sel.parts[2]) < 0)
            pn_fatal("unknown master.cf field name: \"%s\"", sel.parts[2]);
        if (mode == 'F' && (remove || comment_out))
            pn_fatal("-F does not support -X or -#");
        int found = 0;
        for (size_t i = 0; i < pn_cfedit_count(edit); i++) {
            pn_cfedit_logical(edit, i, &logical);
            pn_buf_reset(&err);
            pn_master_entry *e = pn_master_parse_entry(logical.data, &err);
            if (e == NULL || !selector_matches(&sel, e)) {
                pn_master_entry_free(e);
                continue;
            }
            found = 1;
            char *text = apply(mode, &sel, e, remove, comment_out, logical.data);
            pn_cfedit_replace(edit, i, text);
            free(text);
            pn_master_entry_free(e);
        }
        if (!found && mode == 'M' && needs_value) {
            pn_master_entry *fresh = pn_master_parse_entry(sel.value, &err);
            if (fresh == NULL)
                pn_fatal("%s", err.data);
            pn_buf text = PN_BUF_INIT;
            pn_master_format(fresh, 1, &text);
            pn_cfedit_append(edit, text.data);
            pn_buf_release(&text);
            pn_master_entry_free(fresh);
        } else if (!found) {
            pn_warn("unmatched request: \"%s\"", *args);
        }
        selector_free(&sel);
    }
    if (pn_cfedit_commit(edit, &err) < 0)
        pn_fatal("%s", err.data);
    pn_cfedit_free(edit);
    pn_buf_release(&err);
    pn_buf_release(&logical);
}
