/* main.c: postconf, the configuration utility. Options select what to show or edit; the work
 * is done in show_main.c (main.cf parameters), edit_main.c (main.cf edits) and master_ops.c
 * (master.cf entries, fields and -o parameters). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfparams.h"
#include "mail/dict.h"
#include "mail/dsntmpl.h"
#include "postconf.h"

static char *master_path;

const char *master_cf_path(void)
{
    if (master_path == NULL) {
        pn_buf path = PN_BUF_INIT;
        pn_buf_printf(&path, "%s/master.cf", pn_config_directory());
        master_path = pn_buf_steal(&path);
    }
    return master_path;
}

static void usage(void)
{
    pn_fatal("usage: postconf [-a (server SASL types)] [-A (client SASL types)] [-c config_dir] "
             "[-d (defaults)] [-e (edit)] [-f (fold lines)] [-# (comment-out)] [-h (no names)] "
             "[-H (no values)] [-l (lock types)] [-m (map types)] [-M (master.cf)] "
             "[-F (master.cf fields)] [-P (master.cf parameters)] [-n (non-defaults)] "
             "[-o name=value (override)] [-v] [-x (expand)] [-X (remove)] [name...]");
}

/* load_master: read master.cf, teach the registry its services and -o references. */
static pn_master *load_master(void)
{
    pn_buf err = PN_BUF_INIT;
    pn_master *master = pn_master_read(master_cf_path(), 0, &err);
    if (master == NULL) {
        if (pn_has_prefix(err.data, "open "))
            pn_warn("%s", err.data);
        else
            pn_fatal("%s", err.data);
        pn_buf_release(&err);
        return NULL;
    }
    pn_buf_release(&err);
    for (size_t i = 0; i < master->count; i++) {
        pn_master_entry *e = master->entries[i];
        pn_config_add_service(e->field[PN_MF_SERVICE], e->args->items[0]);
        pn_argv *overrides = pn_master_overrides(e);
        for (size_t j = 0; j < overrides->len; j++)
            pn_config_note_references(overrides->items[j]);
        pn_argv_free(overrides);
    }
    return master;
}

static void warn_unused_overrides(const pn_master *master)
{
    for (size_t i = 0; master && i < master->count; i++) {
        pn_argv *overrides = pn_master_overrides(master->entries[i]);
        for (size_t j = 0; j < overrides->len; j++) {
            char *name = pn_strdup(overrides->items[j]);
            char *eq = strchr(name, '=');
            if (eq)
                *eq = 0;
            if (pn_param_find(name) == NULL && pn_config_setting(name) == NULL)
                pn_warn("%s: unused parameter: %s", master_cf_path(), overrides->items[j]);
            free(name);
        }
        pn_argv_free(overrides);
    }
}

/* show_templates: postconf -t (as written) and -b (expanded): the built-in notice templates,
 * or those of the template file where it has them, in the file's own format. */
static int show_templates(const char *file, int expand)
{
    pn_buf text = PN_BUF_INIT, out = PN_BUF_INIT, why = PN_BUF_INIT;
    for (int kind = 0; kind < PN_TMPL_COUNT; kind++) {
        pn_buf_reset(&out);
        if (pn_dsn_template_text(kind, file, &text, &why) < 0 ||
            (expand && pn_dsn_template_expand(text.data, &out, &why) < 0))
            pn_fatal("%s", why.data);
        const pn_buf *shown = expand ? &out : &text;
        printf("%s%s = <<EOF\n%s%sEOF\n", kind ? "\n" : "", pn_dsn_template_name(kind), shown->data,
               shown->len && shown->data[shown->len - 1] == '\n' ? "" : "\n");
    }
    pn_buf_release(&text);
    pn_buf_release(&out);
    pn_buf_release(&why);
    fflush(stdout);
    return ferror(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
    int flags = 0, edit = 0, remove = 0, comment = 0;
    char mode = 0; /* 0 = main.cf, 'M', 'F', 'P', 'm', 'a', 'A', 'l' */
    const char *config_dir = getenv("MAIL_CONFIG");
    static pn_argv *overrides;
    int ch;

    pn_log_init(argv[0], PN_LOG_STDERR);
    pn_config_set_process("postconf", NULL);
    while ((ch = getopt(argc, argv, "aAbc:C:dD:efFhHlmMnNo:PtTvxX#")) != -1) {
        switch (ch) {
        case 'a':
        case 'A':
        case 'l':
        case 'm':
        case 'M':
        case 'F':
        case 'P':
            if (mode && mode != ch)
                pn_fatal("specify only one of -a, -A, -F, -l, -m, -M or -P");
            mode = (char)ch;
            break;
        case 'c': config_dir = optarg; break;
        case 'C':
        case 'D': break; /* class selection and debug: accepted, no effect */
        case 'b':
        case 't':
            if (mode && mode != ch)
                pn_fatal("specify only one of -b and -t");
            mode = (char)ch;
            break;
        case 'T':
        case 'N': pn_fatal("option -%c is not supported", ch);
        case 'd': flags |= PC_DEFAULTS; break;
        case 'e': edit = 1; break;
        case 'f': flags |= PC_FOLD; break;
        case 'h': flags |= PC_VALUE_ONLY; break;
        case 'H': flags |= PC_NAME_ONLY; break;
        case 'n': flags |= PC_NONDEFAULT; break;
        case 'o':
            if (overrides == NULL)
                overrides = pn_argv_new();
            pn_argv_add(overrides, optarg);
            break;
        case 'v': pn_verbose++; break;
        case 'x': flags |= PC_EXPAND; break;
        case 'X': remove = 1; break;
        case '#': comment = 1; break;
        default: usage();
        }
    }
    if ((flags & PC_DEFAULTS) && (flags & PC_NONDEFAULT))
        pn_fatal("specify one of -d and -n");
    if (edit + remove + comment > 1)
        pn_fatal("specify one of -e, -X and -#");
    if (config_dir)
        pn_config_set_directory(config_dir);
    char **args = argv + optind;

    switch (mode) {
    case 'b':
    case 't':
        /* the file named on the command line, else main.cf's bounce_template_file */
        pn_config_load();
        return show_templates(*args ? *args : pn_config_get(PN_P(bounce_template_file)),
                              mode == 'b');
    case 'm': pn_dict_print_types(stdout); return 0;
    case 'a':
        puts("cyrus");
        puts("dovecot");
        return 0;
    case 'A': puts("cyrus"); return 0;
    case 'l':
        puts("flock");
        puts("fcntl");
        puts("dotlock");
        return 0;
    case 'M':
    case 'F':
    case 'P': {
        int editing = edit || remove || comment || (*args && strchr(*args, '='));
        if (editing) {
            master_edit(mode, args, remove, comment);
            return 0;
        }
        pn_buf err = PN_BUF_INIT;
        pn_config_read_main(&err); /* only for unused-parameter checks */
        pn_buf_release(&err);
        pn_master *master = load_master();
        if (master == NULL)
            return 0;
        if (mode == 'M')
            master_show(master, flags & PC_FOLD, args);
        else if (mode == 'F')
            master_show_fields(master, args, (flags & PC_VALUE_ONLY) != 0);
        else
            master_show_params(master, args, (flags & PC_VALUE_ONLY) != 0);
        pn_master_free(master);
        return 0;
    }
    }
    if (remove || comment) {
        if (*args == NULL)
            pn_fatal("-%c requires one or more parameter names", remove ? 'X' : '#');
        edit_main_remove(args, comment);
        return 0;
    }
    if (edit || (*args && strchr(*args, '='))) {
        edit_main_set(args);
        return 0;
    }
    if (!(flags & PC_DEFAULTS))
        pn_config_load();
    for (size_t i = 0; overrides && i < overrides->len; i++) {
        char *name = pn_strdup(overrides->items[i]);
        char *eq = strchr(name, '=');
        if (eq == NULL)
            pn_fatal("-o option requires name=value, found \"%s\"", name);
        *eq = 0;
        pn_config_override(name, eq + 1);
        free(name);
    }
    pn_master *master = load_master();
    if (!(flags & PC_DEFAULTS)) {
        pn_config_warn_unused();
        warn_unused_overrides(master);
    }
    show_main(flags, args);
    pn_master_free(master);
    pn_argv_free(overrides);
    fflush(stdout);
    return ferror(stdout) ? 1 : 0;
}
