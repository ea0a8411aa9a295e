/* cfmaster.c: reads and prints master.cf. Every column is checked here, so master, postfix
 * check and postconf report the same error, with the file and line, for the same mistake. */
#include "config/cfmaster.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfexpand.h"
#include "config/cfline.h"
#include "config/cfparams.h"

const char *const pn_master_field_names[PN_MF_COUNT] = {
    "service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit", "command",
};

static const char *const valid_types[] = {"inet", "unix", "unix-dgram", "fifo", "pass", NULL};

void pn_master_entry_free(pn_master_entry *e)
{
    if (e == NULL)
        return;
    for (int i = 0; i < PN_MF_COMMAND; i++)
        free(e->field[i]);
    pn_argv_free(e->args);
    free(e);
}

void pn_master_free(pn_master *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->count; i++)
        pn_master_entry_free(m->entries[i]);
    free(m->entries);
    free(m->path);
    free(m);
}

static int all_digits(const char *s)
{
    if (*s == 0)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int bad_field(pn_buf *err, int field, const char *value, const char *line)
{
    pn_buf_printf(err, "invalid %s field \"%s\" in \"%s\"", pn_master_field_names[field], value,
                  line);
    return -1;
}

static int check_fields(const pn_master_entry *e, const char *line, pn_buf *err)
{
    int known = 0;
    for (int i = 0; valid_types[i]; i++)
        known |= strcmp(e->field[PN_MF_TYPE], valid_types[i]) == 0;
    if (!known)
        return bad_field(err, PN_MF_TYPE, e->field[PN_MF_TYPE], line);
    for (int f = PN_MF_PRIVATE; f <= PN_MF_CHROOT; f++) {
        const char *v = e->field[f];
        if (strcmp(v, "y") != 0 && strcmp(v, "n") != 0 && strcmp(v, "-") != 0)
            return bad_field(err, f, v, line);
    }
    if (strcmp(e->field[PN_MF_TYPE], "inet") == 0 && strcmp(e->field[PN_MF_PRIVATE], "n") != 0) {
        pn_buf_printf(err, "inet service cannot be private: \"%s\"", line);
        return -1;
    }
    const char *w = e->field[PN_MF_WAKEUP];
    if (strcmp(w, "-") != 0) {
        char *digits = pn_strdup(w);
        size_t n = strlen(digits);
        if (n > 1 && digits[n - 1] == '?')
            digits[n - 1] = 0;
        int ok = all_digits(digits) && strlen(digits) < 10;
        free(digits);
        if (!ok)
            return bad_field(err, PN_MF_WAKEUP, w, line);
    }
    const char *p = e->field[PN_MF_MAXPROC];
    if (strcmp(p, "-") != 0 && !(all_digits(p) && strlen(p) < 10))
        return bad_field(err, PN_MF_MAXPROC, p, line);
    return 0;
}

/* normalise_override: "name = value" (long form) becomes "name=value". */
static int normalise_override(const char *text, pn_buf *out, pn_buf *err)
{
    const char *eq = strchr(text, '=');
    if (eq == NULL || eq == text) {
        pn_buf_printf(err, "-o option requires name=value, found \"%s\"", text);
        return -1;
    }
    char *name = pn_strndup(text, (size_t)(eq - text));
    char *value = pn_strdup(eq + 1);
    char *n = pn_trim(name);
    int rc = 0;
    if (*n == 0 || strpbrk(n, " \t")) {
        pn_buf_printf(err, "-o option requires name=value, found \"%s\"", text);
        rc = -1;
    } else {
        pn_buf_reset(out);
        pn_buf_printf(out, "%s=%s", n, pn_trim(value));
    }
    free(name);
    free(value);
    return rc;
}

pn_master_entry *pn_master_parse_entry(const char *line, pn_buf *err)
{
    const char *why = NULL;
    pn_argv *tokens = pn_argv_split_grouped(line, PN_BLANKS, &why);
    if (tokens == NULL) {
        pn_buf_printf(err, "%s in \"%s\"", why, line);
        return NULL;
    }
    if (tokens->len < PN_MF_COUNT) {
        pn_buf_printf(err, "bad field count in \"%s\"", line);
        pn_argv_free(tokens);
        return NULL;
    }
    pn_master_entry *e = pn_calloc(1, sizeof(*e));
    for (int i = 0; i < PN_MF_COMMAND; i++)
        e->field[i] = pn_strdup(tokens->items[i]);
    e->args = pn_argv_new();
    pn_buf value = PN_BUF_INIT;
    int rc = check_fields(e, line, err);
    for (size_t i = PN_MF_COMMAND; rc == 0 && i < tokens->len; i++) {
        const char *arg = tokens->items[i];
        pn_argv_add(e->args, arg);
        if (strcmp(arg, "-o") != 0 || i == PN_MF_COMMAND)
            continue;
        if (i + 1 >= tokens->len) {
            pn_buf_printf(err, "-o option requires name=value, found nothing in \"%s\"", line);
            rc = -1;
            break;
        }
        rc = normalise_override(tokens->items[++i], &value, err);
        if (rc == 0)
            pn_argv_add(e->args, value.data);
    }
    pn_buf_release(&value);
    pn_argv_free(tokens);
    if (rc < 0) {
        pn_master_entry_free(e);
        return NULL;
    }
    return e;
}

static void add_entry(pn_master *m, pn_master_entry *e)
{
    for (size_t i = 0; i < m->count; i++) {
        pn_master_entry *old = m->entries[i];
        if (strcmp(old->field[PN_MF_SERVICE], e->field[PN_MF_SERVICE]) == 0 &&
            strcmp(old->field[PN_MF_TYPE], e->field[PN_MF_TYPE]) == 0) {
            /* The same service and type twice: the last one wins. */
            pn_master_entry_free(old);
            memmove(&m->entries[i], &m->entries[i + 1], (m->count - i - 1) * sizeof(e));
            m->count--;
            break;
        }
    }
    m->entries = pn_reallocarray(m->entries, m->count + 1, sizeof(e));
    m->entries[m->count++] = e;
}

pn_master *pn_master_read(const char *path, int missing_ok, pn_buf *err)
{
    pn_master *m = pn_calloc(1, sizeof(*m));
    m->path = pn_strdup(path);
    pn_stream *stream = pn_stream_open(path, O_RDONLY, 0);
    if (stream == NULL) {
        if (missing_ok && errno == ENOENT)
            return m;
        pn_buf_printf(err, "open %s: %s", path, strerror(errno));
        pn_master_free(m);
        return NULL;
    }
    pn_cfline reader;
    pn_cfline_init(&reader, stream, path, PN_CFLINE_JOIN_SPACE);
    pn_buf line = PN_BUF_INIT, why = PN_BUF_INIT;
    int rc;
    while ((rc = pn_cfline_next(&reader, &line)) > 0) {
        pn_buf_reset(&why);
        pn_master_entry *e = pn_master_parse_entry(line.data, &why);
        if (e == NULL) {
            pn_buf_printf(err, "%s, line %d: %s", path, reader.start_line, why.data);
            rc = -1;
            break;
        }
        e->line = reader.start_line;
        add_entry(m, e);
    }
    if (rc < 0 && err->len == 0)
        pn_buf_puts(err, pn_buf_str(&reader.error));
    pn_buf_release(&line);
    pn_buf_release(&why);
    pn_cfline_release(&reader);
    pn_stream_close(stream);
    if (rc < 0) {
        pn_master_free(m);
        return NULL;
    }
    return m;
}

pn_master_entry *pn_master_find(const pn_master *m, const char *service, const char *type)
{
    for (size_t i = 0; i < m->count; i++) {
        pn_master_entry *e = m->entries[i];
        if (strcmp(e->field[PN_MF_SERVICE], service) == 0 &&
            (type == NULL || strcmp(e->field[PN_MF_TYPE], type) == 0))
            return e;
    }
    return NULL;
}

static void put_arg(pn_buf *out, const char *arg)
{
    if (*arg == 0 || strpbrk(arg, " \t"))
        pn_buf_printf(out, "{%s}", arg);
    else
        pn_buf_puts(out, arg);
}

void pn_master_command(const pn_master_entry *e, pn_buf *out)
{
    for (size_t i = 0; i < e->args->len; i++) {
        if (i)
            pn_buf_putc(out, ' ');
        put_arg(out, e->args->items[i]);
    }
}

void pn_master_format(const pn_master_entry *e, int fold, pn_buf *out)
{
    static const int columns[PN_MF_COUNT] = {0, 11, 17, 25, 33, 41, 49, 57};
    size_t line_start = out->len;
    for (int f = 0; f < PN_MF_COMMAND; f++) {
        pn_buf_puts(out, e->field[f]);
        size_t col = out->len - line_start;
        size_t want = (size_t)columns[f + 1];
        do
            pn_buf_putc(out, ' ');
        while (++col < want);
    }
    pn_buf_puts(out, e->args->items[0]);
    pn_buf word = PN_BUF_INIT;
    for (size_t i = 1; i < e->args->len; i++) {
        pn_buf_reset(&word);
        const char *arg = e->args->items[i];
        int is_option = strcmp(arg, "-o") == 0 && i + 1 < e->args->len;
        if (is_option) {
            pn_buf_puts(&word, "-o ");
            put_arg(&word, e->args->items[++i]);
        } else {
            put_arg(&word, arg);
        }
        if (fold && (is_option || out->len - line_start + 1 + word.len >= 80)) {
            pn_buf_puts(out, "\n    ");
            line_start = out->len - 4;
        } else {
            pn_buf_putc(out, ' ');
        }
        pn_buf_append(out, word.data, word.len);
    }
    pn_buf_release(&word);
}

pn_argv *pn_master_overrides(const pn_master_entry *e)
{
    pn_argv *out = pn_argv_new();
    for (size_t i = 1; i + 1 < e->args->len; i++) {
        if (strcmp(e->args->items[i], "-o") == 0) {
            pn_argv_add(out, e->args->items[i + 1]);
            i++;
        }
    }
    return out;
}

static int yes_no(const char *value, int dflt)
{
    return strcmp(value, "-") == 0 ? dflt : strcmp(value, "y") == 0;
}

int pn_master_private(const pn_master_entry *e)
{
    return yes_no(e->field[PN_MF_PRIVATE], 1);
}

int pn_master_unpriv(const pn_master_entry *e)
{
    return yes_no(e->field[PN_MF_UNPRIV], 1);
}

int pn_master_chroot(const pn_master_entry *e, const char *compatibility_level)
{
    int dflt = !pn_compat_level_valid(compatibility_level) ||
               pn_compat_level_cmp(compatibility_level, "1") < 0;
    return yes_no(e->field[PN_MF_CHROOT], dflt);
}

int pn_master_wakeup(const pn_master_entry *e, int *conditional)
{
    const char *w = e->field[PN_MF_WAKEUP];
    *conditional = 0;
    if (strcmp(w, "-") == 0)
        return 0;
    *conditional = w[strlen(w) - 1] == '?';
    return atoi(w);
}

int pn_master_maxproc(const pn_master_entry *e)
{
    const char *p = e->field[PN_MF_MAXPROC];
    return strcmp(p, "-") == 0 ? -1 : atoi(p);
}

int pn_master_learn_services(pn_buf *err)
{
    pn_buf path = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/master.cf", pn_config_directory());
    pn_master *m = pn_master_read(path.data, 1, err);
    pn_buf_release(&path);
    if (m == NULL)
        return -1;
    for (size_t i = 0; i < m->count; i++)
        pn_config_add_service(m->entries[i]->field[PN_MF_SERVICE], m->entries[i]->args->items[0]);
    pn_master_free(m);
    return 0;
}
