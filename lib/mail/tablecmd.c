/* tablecmd.c: postmap and postalias: build a table from its source (a new .db beside the old
 * one, renamed into place), query it (-q), list it (-s), delete keys (-d) and add lines
 * incrementally (-i). When run as root the build runs as the owner of the source file. */
#include "mail/tablecmd.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/buf.h"
#include "base/inet.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cflog.h"
#include "config/cfparams.h"
#include "mail/dict.h"
#include "mail/tabsrc.h"

struct options {
    int syntax;
    int dict_flags;
    int keep_root;
    int quiet_dups;
    const char *progname;
};

static pn_dict *building; /* removed again if we die half-way */

static void abort_build(void)
{
    if (building) {
        pn_dict *dict = building;
        building = NULL;
        pn_dict_abort(dict);
    }
}

/* table_spec: "type:name" for an argument that may lack the type. */
static char *table_spec(const char *arg)
{
    pn_buf spec = PN_BUF_INIT;
    const char *colon = strchr(arg, ':');
    if (colon && colon != arg && memchr(arg, '/', (size_t)(colon - arg)) == NULL)
        pn_buf_puts(&spec, arg);
    else
        pn_buf_printf(&spec, "%s:%s", pn_dict_default_type(), arg);
    return pn_buf_steal(&spec);
}

static const char *spec_name(const char *spec)
{
    return strchr(spec, ':') + 1;
}

static void drop_to_owner(const char *path, const struct options *opt)
{
    struct stat st;
    if (opt->keep_root || getuid() != 0)
        return;
    if (stat(path, &st) < 0)
        pn_fatal("open %s: %s", path, strerror(errno));
    if (st.st_uid == 0)
        return;
    if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0)
        pn_fatal("drop privileges to the owner of %s: %s", path, strerror(errno));
}

/* normalise_aliases: "a, b,   c" as a clean list "a, b, c"; quoted text stays intact. */
static void normalise_aliases(const char *value, pn_buf *out)
{
    pn_buf item = PN_BUF_INIT;
    pn_buf_init(&item);
    pn_buf_reset(out);
    int quoted = 0;
    for (const char *cp = value;; cp++) {
        if (*cp == '"')
            quoted = !quoted;
        if (*cp == 0 || (*cp == ',' && !quoted)) {
            char *text = pn_trim(item.data);
            if (*text) {
                if (out->len)
                    pn_buf_puts(out, ", ");
                pn_buf_puts(out, text);
            }
            pn_buf_reset(&item);
            if (*cp == 0)
                break;
            continue;
        }
        pn_buf_putc(&item, isspace((unsigned char)*cp) && !quoted ? ' ' : *cp);
    }
    pn_buf_release(&item);
}

static void store(pn_dict *dict, const char *key, const char *value, const char *where,
                  const struct options *opt)
{
    int rc = pn_dict_update(dict, key, value);
    if (rc < 0)
        pn_fatal("%s", pn_buf_str(&dict->error));
    if (rc == 1 && !opt->quiet_dups) {
        char *shown = pn_strdup(key);
        if ((dict->flags & PN_DICT_FOLD_KEYS) && !(dict->flags & PN_DICT_NO_FOLD))
            pn_lowercase(shown);
        pn_warn("%s: duplicate entry: \"%s\"", where, shown);
        free(shown);
    }
}

/* add_alias_extras: the entries the reference's postalias writes: "@" (database complete,
 * with NUL) and the NIS YP_* entries (without NUL). */
static void add_alias_extras(pn_dict *dict)
{
    char stamp[32];
    snprintf(stamp, sizeof(stamp), "%010ld", (long)time(NULL));
    const char *host = pn_config_get(PN_P(myhostname));
    int saved = dict->flags;
    dict->flags = (saved | PN_DICT_DUP_REPLACE) & ~PN_DICT_TRY_NONUL;
    pn_dict_update(dict, "@", "@");
    dict->flags = (saved | PN_DICT_DUP_REPLACE | PN_DICT_TRY_NONUL) & ~PN_DICT_TRY_NUL;
    dict->flags |= PN_DICT_NO_FOLD;
    pn_dict_update(dict, "YP_LAST_MODIFIED", stamp);
    pn_dict_update(dict, "YP_MASTER_NAME", host);
    dict->flags = saved;
}

static void load_lines(pn_dict *dict, pn_tabsrc *src, const struct options *opt)
{
    pn_buf key = PN_BUF_INIT, value = PN_BUF_INIT, err = PN_BUF_INIT, where = PN_BUF_INIT;
    pn_buf norm = PN_BUF_INIT;
    int line, rc;
    while ((rc = pn_tabsrc_next(src, &key, &value, &line, &err)) > 0) {
        pn_buf_reset(&where);
        pn_buf_printf(&where, "%s, line %d", src->lines.path, line);
        if (opt->syntax == PN_TABSRC_ALIAS) {
            /* An alias name may be "quoted"; the quotes are not part of the name. */
            if (key.len >= 2 && key.data[0] == '"' && key.data[key.len - 1] == '"') {
                memmove(key.data, key.data + 1, key.len - 2);
                pn_buf_truncate(&key, key.len - 2);
            }
            normalise_aliases(value.data, &norm);
            store(dict, key.data, norm.data, where.data, opt);
        } else {
            store(dict, key.data, value.data, where.data, opt);
        }
    }
    if (rc < 0)
        pn_fatal("%s", err.data);
    pn_buf_release(&key);
    pn_buf_release(&value);
    pn_buf_release(&err);
    pn_buf_release(&where);
    pn_buf_release(&norm);
}

static pn_dict *open_table(const char *spec, int flags)
{
    pn_buf err = PN_BUF_INIT;
    pn_dict *dict = pn_dict_open(spec, flags, &err);
    if (dict == NULL)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    return dict;
}

static void build(const char *spec, const struct options *opt)
{
    const char *path = spec_name(spec);
    pn_buf err = PN_BUF_INIT;
    drop_to_owner(path, opt);
    pn_tabsrc *src = pn_tabsrc_open(path, opt->syntax, &err);
    if (src == NULL)
        pn_fatal("%s", err.data);
    pn_dict *dict = open_table(spec, opt->dict_flags | PN_DICT_CREATE | PN_DICT_DUP_IGNORE);
    if (dict->update == NULL) {
        pn_dict_abort(dict);
        pn_fatal("unsupported dictionary type for building: %s", spec);
    }
    building = dict;
    load_lines(dict, src, opt);
    if (opt->syntax == PN_TABSRC_ALIAS)
        add_alias_extras(dict);
    pn_tabsrc_close(src);
    building = NULL;
    if (pn_dict_close(dict, &err) < 0)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
}

static void incremental(const char *spec, const struct options *opt)
{
    drop_to_owner(spec_name(spec), opt);
    pn_dict *dict = open_table(spec, opt->dict_flags | PN_DICT_WRITE | PN_DICT_DUP_IGNORE);
    pn_tabsrc *src = pn_tabsrc_fdopen(0, "stdin", opt->syntax);
    load_lines(dict, src, opt);
    pn_tabsrc_close(src);
    pn_buf err = PN_BUF_INIT;
    if (pn_dict_close(dict, &err) < 0)
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
}

/* query: the first table that has the key wins; 1 found, 0 not. */
static int query_one(char **specs, const char *key, pn_buf *value, const struct options *opt)
{
    for (char **sp = specs; *sp; sp++) {
        pn_dict *dict = open_table(*sp, opt->dict_flags);
        int rc = pn_dict_lookup(dict, key, value);
        if (rc < 0)
            pn_fatal("%s", pn_buf_str(&dict->error));
        pn_dict_close(dict, NULL);
        if (rc > 0)
            return 1;
    }
    return 0;
}

static int query(char **specs, const char *key, const struct options *opt)
{
    pn_buf value = PN_BUF_INIT, line = PN_BUF_INIT;
    int found = 0;
    if (strcmp(key, "-") != 0) {
        if ((found = query_one(specs, key, &value, opt)))
            printf("%s\n", pn_buf_str(&value));
    } else {
        pn_stream *in = pn_stream_fdopen(0);
        int rc;
        while ((rc = pn_stream_get_line(in, &line, 65536)) == PN_LINE_OK || rc == PN_LINE_LAST) {
            char *k = pn_trim(line.data);
            if (*k && query_one(specs, k, &value, opt)) {
                printf("%s\t%s\n", k, pn_buf_str(&value));
                found = 1;
            }
        }
        pn_stream_release(in);
    }
    pn_buf_release(&value);
    pn_buf_release(&line);
    return found;
}

static int delete_keys(char **specs, const char *key, const struct options *opt)
{
    int found = 0;
    pn_argv *keys = pn_argv_new();
    if (strcmp(key, "-") == 0) {
        pn_stream *in = pn_stream_fdopen(0);
        pn_buf line = PN_BUF_INIT;
        int rc;
        while ((rc = pn_stream_get_line(in, &line, 65536)) == PN_LINE_OK || rc == PN_LINE_LAST)
            if (*pn_trim(line.data))
                pn_argv_add(keys, pn_trim(line.data));
        pn_stream_release(in);
        pn_buf_release(&line);
    } else {
        pn_argv_add(keys, key);
    }
    for (char **sp = specs; *sp; sp++) {
        drop_to_owner(spec_name(*sp), opt);
        pn_dict *dict = open_table(*sp, opt->dict_flags | PN_DICT_WRITE);
        for (size_t i = 0; i < keys->len; i++) {
            int rc = pn_dict_remove(dict, keys->items[i]);
            if (rc < 0)
                pn_fatal("%s", pn_buf_str(&dict->error));
            found |= rc;
        }
        pn_buf err = PN_BUF_INIT;
        if (pn_dict_close(dict, &err) < 0)
            pn_fatal("%s", err.data);
        pn_buf_release(&err);
    }
    pn_argv_free(keys);
    return found;
}

static void show_all(char **specs, const struct options *opt)
{
    pn_buf key = PN_BUF_INIT, value = PN_BUF_INIT;
    for (char **sp = specs; *sp; sp++) {
        pn_dict *dict = open_table(*sp, opt->dict_flags);
        int rc;
        for (int first = 1; (rc = pn_dict_sequence(dict, first, &key, &value)) > 0; first = 0) {
            if (opt->syntax == PN_TABSRC_ALIAS && strcmp(pn_buf_str(&key), "@") == 0)
                continue;
            if (opt->syntax == PN_TABSRC_ALIAS && pn_has_prefix(pn_buf_str(&key), "YP_"))
                continue;
            printf("%s\t%s\n", pn_buf_str(&key), pn_buf_str(&value));
        }
        if (rc < 0)
            pn_fatal("%s", pn_buf_str(&dict->error));
        pn_dict_close(dict, NULL);
    }
    pn_buf_release(&key);
    pn_buf_release(&value);
}

int pn_tablecmd_main(int argc, char **argv, int syntax)
{
    struct options opt = {syntax, PN_DICT_DEFAULT_FLAGS, 0, 0, argv[0]};
    const char *query_key = NULL, *delete_key = NULL;
    int show = 0, incr = 0, ch;
    const char *base = strrchr(argv[0], '/');
    int newaliases = strcmp(base ? base + 1 : argv[0], "newaliases") == 0;

    pn_log_init(argv[0], PN_LOG_STDERR | PN_LOG_SYSLOG);
    pn_log_set_fatal_hook(abort_build);
    if (getenv("MAIL_CONFIG"))
        pn_config_set_directory(getenv("MAIL_CONFIG"));
    while ((ch = getopt(argc, argv, "bc:d:fhimnNopq:rsuUvwF")) != -1) {
        switch (ch) {
        case 'c': pn_config_set_directory(optarg); break;
        case 'd': delete_key = optarg; break;
        case 'f': opt.dict_flags |= PN_DICT_NO_FOLD; break;
        case 'i': incr = 1; break;
        case 'n': opt.dict_flags = (opt.dict_flags | PN_DICT_TRY_NONUL) & ~PN_DICT_TRY_NUL; break;
        case 'N': opt.dict_flags = (opt.dict_flags | PN_DICT_TRY_NUL) & ~PN_DICT_TRY_NONUL; break;
        case 'o': opt.keep_root = 1; break;
        case 'p': opt.dict_flags |= PN_DICT_MODE_0644; break;
        case 'q': query_key = optarg; break;
        case 'r': opt.dict_flags |= PN_DICT_DUP_REPLACE; break;
        case 's': show = 1; break;
        case 'v': pn_verbose++; break;
        case 'w': opt.quiet_dups = 1; break;
        case 'b':
        case 'h':
        case 'm':
        case 'u':
        case 'U':
        case 'F': pn_fatal("option -%c is not supported", ch);
        default:
            pn_fatal("usage: %s [-Nfinoprsvw] [-c config_dir] [-d key] [-q key] "
                     "[type:]file...",
                     opt.progname);
        }
    }
    if ((query_key != NULL) + (delete_key != NULL) + show + incr > 1)
        pn_fatal("specify only one of -d, -i, -q and -s");
    pn_buf err = PN_BUF_INIT;
    if (pn_config_read_main(&err) < 0 && !pn_has_prefix(err.data, "open "))
        pn_fatal("%s", err.data);
    pn_buf_release(&err);
    pn_config_logging(opt.progname, 0);

    pn_argv *specs = pn_argv_new();
    for (int i = optind; i < argc; i++) {
        char *spec = table_spec(argv[i]);
        pn_argv_add(specs, spec);
        free(spec);
    }
    if (specs->len == 0 && newaliases) {
        const char *db = pn_config_get(PN_P(alias_database));
        pn_argv *list = pn_argv_split(db, PN_SEPARATORS);
        for (size_t i = 0; i < list->len; i++)
            pn_argv_add(specs, list->items[i]);
        pn_argv_free(list);
    }
    if (specs->len == 0)
        pn_fatal("usage: %s [options] [type:]file...", opt.progname);

    int status = 0;
    if (query_key)
        status = query(specs->items, query_key, &opt) ? 0 : 1;
    else if (delete_key)
        status = delete_keys(specs->items, delete_key, &opt) ? 0 : 1;
    else if (show)
        show_all(specs->items, &opt);
    else
        for (size_t i = 0; i < specs->len; i++)
            incr ? incremental(specs->items[i], &opt) : build(specs->items[i], &opt);
    pn_argv_free(specs);
    fflush(stdout);
    return status;
}
