/* cfparams.c: the configuration in force. It reads main.cf into raw settings, layers -o
 * overrides on top, computes the host-dependent defaults (myhostname, mydomain, mynetworks)
 * on demand, and expands values once, caching the result. It never writes main.cf: that is
 * cfedit's job. */
#include "config/cfparams.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/argv.h"
#include "base/htable.h"
#include "base/inet.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strutil.h"
#include "config/cfexpand.h"
#include "config/cfline.h"

struct setting {
    char *value;
    int line;
};

static struct {
    char *config_dir;
    char *main_path;
    pn_htable *index;      /* name -> const pn_param_def * (table and derived) */
    pn_htable *settings;   /* name -> struct setting * (main.cf) */
    pn_htable *overrides;  /* name -> char * (-o) */
    pn_htable *saved;      /* the overrides before pn_config_push_overrides(), or NULL */
    pn_htable *dynamic;    /* name -> char * (computed defaults) */
    pn_htable *cache;      /* name -> char * (expanded values) */
    pn_htable *referenced; /* name -> (void *)1 */
    pn_htable *derived;    /* name -> pn_param_def * we allocated */
    char *process_name;
    char *service_name;
} cf;

static void free_setting(void *ptr)
{
    struct setting *s = ptr;
    free(s->value);
    free(s);
}

static void free_derived(void *ptr)
{
    pn_param_def *def = ptr;
    free((char *)def->name);
    free(def);
}

/* The front: daemons ask for a few parameters on every command, mostly by the one literal
 * PN_P gives each name. A direct-mapped table keyed by the name's address, checked against
 * its own copy of the name (an address may be a buffer used again for another name), answers
 * them, typed values parsed once, without hashing; a miss goes to the cache behind it. It is
 * emptied with that cache, whose strings it points into. */
#define FRONT_SLOTS 256
enum { FRONT_INT = 1, FRONT_BOOL = 2, FRONT_TIME = 4 };
static struct front {
    const char *name;
    char copy[56];
    const char *value;
    int parsed; /* FRONT_*: which of the numbers below hold the value */
    long number, flag, seconds;
} front[FRONT_SLOTS];

/* front_hit: the slot of name, when it holds name's value; else NULL. */
static struct front *front_hit(const char *name)
{
    uintptr_t key = (uintptr_t)name;
    struct front *slot = &front[(key ^ (key >> 9)) % FRONT_SLOTS];
    return slot->name == name && strcmp(slot->copy, name) == 0 ? slot : NULL;
}

static void front_fill(const char *name, const char *value)
{
    uintptr_t key = (uintptr_t)name;
    struct front *slot = &front[(key ^ (key >> 9)) % FRONT_SLOTS];
    size_t len = strlen(name);
    if (len >= sizeof(slot->copy))
        return;
    *slot = (struct front){.name = name, .value = value};
    memcpy(slot->copy, name, len + 1);
}

static void init_once(void)
{
    if (cf.index)
        return;
    cf.index = pn_htable_new(2048);
    for (unsigned i = 0; i < pn_param_table_size; i++)
        pn_htable_put(cf.index, pn_param_table[i].name, (void *)&pn_param_table[i]);
    cf.settings = pn_htable_new(128);
    cf.overrides = pn_htable_new(16);
    cf.dynamic = pn_htable_new(8);
    cf.cache = pn_htable_new(128);
    cf.referenced = pn_htable_new(64);
    cf.derived = pn_htable_new(64);
    if (cf.config_dir == NULL)
        cf.config_dir = pn_strdup(PN_CONFIG_DIR);
}

void pn_config_reset(void)
{
    if (cf.index == NULL)
        return;
    pn_htable_free(cf.index, NULL);
    pn_htable_free(cf.settings, free_setting);
    pn_htable_free(cf.overrides, free);
    if (cf.saved)
        pn_htable_free(cf.saved, free);
    pn_htable_free(cf.dynamic, free);
    pn_htable_free(cf.cache, free);
    memset(front, 0, sizeof(front));
    pn_htable_free(cf.referenced, NULL);
    pn_htable_free(cf.derived, free_derived);
    free(cf.config_dir);
    free(cf.main_path);
    free(cf.process_name);
    free(cf.service_name);
    memset(&cf, 0, sizeof(cf));
}

static void clear_cache(void)
{
    pn_htable_free(cf.cache, free);
    cf.cache = pn_htable_new(128);
    memset(front, 0, sizeof(front));
}

void pn_config_set_directory(const char *dir)
{
    init_once();
    free(cf.config_dir);
    cf.config_dir = pn_strdup(dir);
    free(cf.main_path);
    cf.main_path = NULL;
    /* Like the reference, a directory named with -c shows as a setting in postconf -n. */
    if (strcmp(dir, PN_CONFIG_DIR) != 0) {
        struct setting *s = pn_malloc(sizeof(*s));
        s->value = pn_strdup(dir);
        s->line = 0;
        struct setting *old = pn_htable_put(cf.settings, PN_P(config_directory), s);
        if (old)
            free_setting(old);
    }
    clear_cache();
}

const char *pn_config_directory(void)
{
    init_once();
    return cf.config_dir;
}

const char *pn_config_main_path(void)
{
    init_once();
    if (cf.main_path == NULL) {
        pn_buf path = PN_BUF_INIT;
        pn_buf_printf(&path, "%s/main.cf", cf.config_dir);
        cf.main_path = pn_buf_steal(&path);
    }
    return cf.main_path;
}

/* printable: a short, safe rendering of untrusted text for an error message. */
static void printable(pn_buf *out, const char *text, size_t max)
{
    size_t i;
    for (i = 0; text[i] && i < max; i++)
        pn_buf_putc(out, isprint((unsigned char)text[i]) ? text[i] : '?');
    if (text[i])
        pn_buf_puts(out, "...");
}

static void note_references(const char *text)
{
    for (const char *cp = strchr(text, '$'); cp; cp = strchr(cp + 1, '$')) {
        const char *name = cp + 1;
        if (*name == '{' || *name == '(')
            name++;
        size_t n = 0;
        while (isalnum((unsigned char)name[n]) || name[n] == '_')
            n++;
        if (n > 0) {
            char *copy = pn_strndup(name, n);
            pn_htable_put(cf.referenced, copy, (void *)1);
            free(copy);
        }
    }
}

void pn_config_note_references(const char *text)
{
    init_once();
    note_references(text);
}

/* parse_assignment: "name = value"; sets *name and *value inside line, or returns why not. */
static const char *parse_assignment(char *line, char **name, char **value)
{
    char *cp = line;
    while (*cp && !isspace((unsigned char)*cp) && *cp != '=')
        cp++;
    char *name_end = cp;
    while (isspace((unsigned char)*cp))
        cp++;
    if (*cp != '=')
        return "missing '=' after attribute name";
    if (name_end == line)
        return "missing attribute name";
    *name_end = 0;
    *name = line;
    *value = pn_trim(cp + 1);
    return NULL;
}

int pn_config_read_main(pn_buf *err)
{
    init_once();
    const char *path = pn_config_main_path();
    pn_stream *stream = pn_stream_open(path, O_RDONLY, 0);
    if (stream == NULL) {
        pn_buf_printf(err, "open %s: %s", path, strerror(errno));
        return -1;
    }
    pn_cfline reader;
    pn_cfline_init(&reader, stream, path, PN_CFLINE_JOIN_SPACE);
    pn_buf line = PN_BUF_INIT;
    int rc;
    while ((rc = pn_cfline_next(&reader, &line)) > 0) {
        char *name, *value;
        const char *why = parse_assignment(line.data, &name, &value);
        if (why) {
            pn_buf_printf(err, "%s, line %d: %s: \"", path, reader.start_line, why);
            printable(err, line.data, 100);
            pn_buf_putc(err, '"');
            rc = -1;
            break;
        }
        struct setting *s = pn_malloc(sizeof(*s));
        s->value = pn_strdup(value);
        s->line = reader.start_line;
        struct setting *old = pn_htable_put(cf.settings, name, s);
        if (old)
            free_setting(old);
        note_references(value);
    }
    if (rc < 0 && err->len == 0)
        pn_buf_puts(err, pn_buf_str(&reader.error));
    pn_buf_release(&line);
    pn_cfline_release(&reader);
    pn_stream_close(stream);
    clear_cache();
    return rc < 0 ? -1 : 0;
}

void pn_config_load(void)
{
    pn_buf err = PN_BUF_INIT;
    if (pn_config_read_main(&err) < 0)
        pn_fatal("%s", pn_buf_str(&err));
    pn_buf_release(&err);
}

void pn_config_override(const char *name, const char *value)
{
    init_once();
    free(pn_htable_put(cf.overrides, name, pn_strdup(value)));
    note_references(value);
    clear_cache();
}

int pn_config_is_override(const char *name)
{
    init_once();
    return pn_htable_has(cf.overrides, name);
}

void pn_config_push_overrides(const pn_argv *settings)
{
    init_once();
    if (cf.saved)
        pn_panic("pn_config_push_overrides: already pushed");
    cf.saved = cf.overrides;
    cf.overrides = pn_htable_new(16);
    const char **names = pn_htable_keys(cf.saved);
    for (size_t i = 0; names[i]; i++)
        pn_htable_put(cf.overrides, names[i], pn_strdup(pn_htable_get(cf.saved, names[i])));
    free(names);
    for (size_t i = 0; settings && i < settings->len; i++) {
        const char *eq = strchr(settings->items[i], '=');
        if (eq == NULL)
            continue;
        char *name = pn_strndup(settings->items[i], (size_t)(eq - settings->items[i]));
        free(pn_htable_put(cf.overrides, name, pn_strdup(eq + 1)));
        free(name);
    }
    clear_cache();
}

void pn_config_pop_overrides(void)
{
    if (cf.saved == NULL)
        pn_panic("pn_config_pop_overrides: nothing pushed");
    pn_htable_free(cf.overrides, free);
    cf.overrides = cf.saved;
    cf.saved = NULL;
    clear_cache();
}

void pn_config_set_process(const char *process_name, const char *service_name)
{
    init_once();
    free(cf.process_name);
    free(cf.service_name);
    cf.process_name = pn_strdup(process_name);
    cf.service_name = pn_strdup(service_name ? service_name : "");
    clear_cache();
}

static const char *const derived_suffixes[][2] = {
    {"delivery_slot_cost", "$default_delivery_slot_cost"},
    {"delivery_slot_discount", "$default_delivery_slot_discount"},
    {"delivery_slot_loan", "$default_delivery_slot_loan"},
    {"destination_concurrency_failed_cohort_limit",
     "$default_destination_concurrency_failed_cohort_limit"},
    {"destination_concurrency_limit", "$default_destination_concurrency_limit"},
    {"destination_concurrency_negative_feedback",
     "$default_destination_concurrency_negative_feedback"},
    {"destination_concurrency_positive_feedback",
     "$default_destination_concurrency_positive_feedback"},
    {"destination_rate_delay", "$default_destination_rate_delay"},
    {"destination_recipient_limit", "$default_destination_recipient_limit"},
    {"extra_recipient_limit", "$default_extra_recipient_limit"},
    {PN_P(initial_destination_concurrency), "$initial_destination_concurrency"},
    {"minimum_delivery_slots", "$default_minimum_delivery_slots"},
    {"recipient_limit", "$default_recipient_limit"},
    {"recipient_refill_delay", "$default_recipient_refill_delay"},
    {"recipient_refill_limit", "$default_recipient_refill_limit"},
    {"transport_rate_delay", "$default_transport_rate_delay"},
    {"time_limit", "$command_time_limit"}, /* pipe only: keep last */
};

static void add_derived(const char *service, const char *suffix, const char *defval)
{
    pn_buf name = PN_BUF_INIT;
    pn_buf_printf(&name, "%s_%s", service, suffix);
    if (pn_htable_has(cf.index, name.data)) {
        pn_buf_release(&name);
        return;
    }
    const pn_param_def *base = pn_htable_get(cf.index, defval + 1);
    pn_param_def *def = pn_calloc(1, sizeof(*def));
    def->type = base ? base->type : PN_PT_STR;
    def->unit = base ? base->unit : 0;
    def->defval = defval;
    def->readers = strcmp(suffix, "time_limit") == 0 ? PN_R(PIPE) : PN_R(QMGR);
    def->status = base ? base->status : PN_PS_IMPL;
    def->name = pn_buf_steal(&name);
    pn_htable_put(cf.index, def->name, def);
    pn_htable_put(cf.derived, def->name, def);
}

void pn_config_add_service(const char *service, const char *command)
{
    static const char *const agents[] = {"smtp", "lmtp", "local", "virtual", "pipe", "error", NULL};
    init_once();
    const char *base = strrchr(command, '/');
    base = base ? base + 1 : command;
    int is_agent = 0;
    for (int i = 0; agents[i]; i++)
        is_agent |= strcmp(base, agents[i]) == 0;
    if (!is_agent)
        return;
    size_t count = sizeof(derived_suffixes) / sizeof(derived_suffixes[0]);
    if (strcmp(base, "pipe") != 0)
        count--;
    for (size_t i = 0; i < count; i++)
        add_derived(service, derived_suffixes[i][0], derived_suffixes[i][1]);
}

const pn_param_def *pn_param_find(const char *name)
{
    init_once();
    return pn_htable_get(cf.index, name);
}

const char **pn_param_names(void)
{
    init_once();
    return pn_htable_keys(cf.index);
}

static const char *dynamic_default(const char *name)
{
    const char *cached = pn_htable_get(cf.dynamic, name);
    if (cached)
        return cached;
    pn_buf value = PN_BUF_INIT;
    pn_buf_init(&value);
    if (strcmp(name, PN_P(process_id)) == 0) {
        pn_buf_printf(&value, "%ld", (long)getpid());
    } else if (strcmp(name, PN_P(process_name)) == 0) {
        pn_buf_puts(&value, cf.process_name ? cf.process_name : "");
    } else if (strcmp(name, PN_P(service_name)) == 0) {
        pn_buf_puts(&value, cf.service_name ? cf.service_name : "");
    } else if (strcmp(name, PN_P(myhostname)) == 0) {
        const char *domain = pn_config_setting(PN_P(mydomain));
        pn_inet_my_hostname(&value, domain);
    } else if (strcmp(name, PN_P(mydomain)) == 0) {
        const char *host = pn_config_get(PN_P(myhostname));
        const char *dot = strchr(host, '.');
        pn_buf_puts(&value, dot && dot[1] ? dot + 1 : "localdomain");
    } else if (strcmp(name, PN_P(mynetworks)) == 0) {
        pn_inet_my_networks(&value, pn_config_get(PN_P(mynetworks_style)));
    }
    pn_htable_put(cf.dynamic, name, pn_buf_steal(&value));
    return pn_htable_get(cf.dynamic, name);
}

const char *pn_config_default(const char *name)
{
    const pn_param_def *def = pn_param_find(name);
    if (def == NULL)
        return NULL;
    if (def->flags & PN_PF_DYN)
        return dynamic_default(name);
    return def->defval;
}

const char *pn_config_setting(const char *name)
{
    init_once();
    struct setting *s = pn_htable_get(cf.settings, name);
    return s ? s->value : NULL;
}

int pn_config_setting_line(const char *name)
{
    init_once();
    struct setting *s = pn_htable_get(cf.settings, name);
    return s ? s->line : 0;
}

const char **pn_config_setting_names(void)
{
    init_once();
    return pn_htable_keys(cf.settings);
}

const char *pn_config_raw(const char *name)
{
    init_once();
    const pn_param_def *def = pn_param_find(name);
    if (def && (def->flags & PN_PF_RO))
        return pn_config_default(name);
    const char *value = pn_htable_get(cf.overrides, name);
    if (value)
        return value;
    value = pn_config_setting(name);
    if (value)
        return value;
    return pn_config_default(name);
}

static const char *raw_lookup(const char *name, void *ctx)
{
    (void)ctx;
    return pn_config_raw(name);
}

int pn_config_expand_text(const char *text, pn_buf *out, pn_buf *err)
{
    pn_expand_ctx ec = {raw_lookup, NULL, NULL, PN_EXPAND_RECURSE, NULL};
    return pn_expand(&ec, text, out, err);
}

/* where: "PATH, line N: " for a main.cf setting, else "". */
static void where(pn_buf *out, const char *name)
{
    int line = pn_config_setting_line(name);
    if (pn_htable_get(cf.overrides, name))
        pn_buf_puts(out, "-o override: ");
    else if (line > 0)
        pn_buf_printf(out, "%s, line %d: ", pn_config_main_path(), line);
}

static const char *expanded(const char *name);

const char *pn_config_get(const char *name)
{
    struct front *slot = front_hit(name);
    if (slot)
        return slot->value;
    const char *value = expanded(name);
    front_fill(name, value);
    return value;
}

static const char *expanded(const char *name)
{
    init_once();
    const char *cached = pn_htable_get(cf.cache, name);
    if (cached)
        return cached;
    const char *raw = pn_config_raw(name);
    if (raw == NULL)
        pn_panic("pn_config_get: unknown parameter \"%s\"", name);
    pn_buf out = PN_BUF_INIT, err = PN_BUF_INIT;
    pn_buf_init(&out);
    pn_expand_ctx ec = {raw_lookup, NULL, NULL, PN_EXPAND_RECURSE, name};
    if (pn_expand(&ec, raw, &out, &err) < 0) {
        pn_buf msg = PN_BUF_INIT;
        where(&msg, name);
        pn_fatal("%sparameter %s: %s", pn_buf_str(&msg), name, err.data);
    }
    pn_buf_release(&err);
    pn_htable_put(cf.cache, name, pn_buf_steal(&out));
    return pn_htable_get(cf.cache, name);
}

static void bad_value(const char *kind, const char *name, const char *value)
{
    pn_buf msg = PN_BUF_INIT;
    pn_buf_init(&msg);
    where(&msg, name);
    pn_fatal("%sbad %s configuration: %s = %s", msg.data, kind, name, value);
}

long pn_config_get_int(const char *name)
{
    const char *value = pn_config_get(name);
    struct front *slot = front_hit(name);
    if (slot && (slot->parsed & FRONT_INT))
        return slot->number;
    long out;
    if (pn_parse_long(value, &out) < 0)
        bad_value("numerical", name, value);
    if (slot) {
        slot->number = out;
        slot->parsed |= FRONT_INT;
    }
    return out;
}

int pn_config_get_bool(const char *name)
{
    const char *value = pn_config_get(name);
    struct front *slot = front_hit(name);
    if (slot && (slot->parsed & FRONT_BOOL))
        return (int)slot->flag;
    int out;
    if (pn_parse_bool(value, &out) < 0)
        bad_value("boolean", name, value);
    if (slot) {
        slot->flag = out;
        slot->parsed |= FRONT_BOOL;
    }
    return out;
}

/* A list parameter split once: the value it was split from, and its items. */
typedef struct split_list {
    char *value;
    pn_argv *items;
} split_list;

int pn_config_list_has(const char *name, const char *word)
{
    /* EHLO keywords are checked per session: the list is split once per value, not per call */
    static pn_htable *lists;
    if (lists == NULL)
        lists = pn_htable_new(8);
    const char *value = pn_config_get(name);
    split_list *l = pn_htable_get(lists, name);
    if (l == NULL || strcmp(l->value, value) != 0) {
        if (l == NULL) {
            l = pn_calloc(1, sizeof(*l));
            pn_htable_put(lists, name, l);
        } else {
            free(l->value);
            pn_argv_free(l->items);
        }
        l->value = pn_strdup(value);
        l->items = pn_argv_split(value, PN_SEPARATORS);
    }
    for (size_t i = 0; i < l->items->len; i++)
        if (strcasecmp(l->items->items[i], word) == 0)
            return 1;
    return 0;
}

long pn_config_get_time(const char *name)
{
    const char *value = pn_config_get(name);
    struct front *slot = front_hit(name);
    if (slot && (slot->parsed & FRONT_TIME))
        return slot->seconds;
    const pn_param_def *def = pn_param_find(name);
    long out;
    if (pn_parse_time(value, def && def->unit ? def->unit : 's', &out) < 0)
        bad_value("time", name, value);
    if (slot) {
        slot->seconds = out;
        slot->parsed |= FRONT_TIME;
    }
    return out;
}

const char *pn_config_get_hostname(const char *name)
{
    const char *value = pn_config_get(name);
    if (value[0] != '/')
        return value;
    pn_buf key = PN_BUF_INIT, line = PN_BUF_INIT;
    pn_buf_printf(&key, "%s\001file", name);
    const char *cached = pn_htable_get(cf.cache, key.data);
    if (cached) {
        pn_buf_release(&key);
        return cached;
    }
    pn_stream *stream = pn_stream_open(value, O_RDONLY, 0);
    if (stream == NULL)
        pn_fatal("open %s: %s", value, strerror(errno));
    int rc = pn_stream_get_line(stream, &line, 1024);
    pn_stream_close(stream);
    char *first = pn_trim(line.data);
    if (rc <= 0 || *first == 0)
        pn_fatal("%s file %s is empty", name, value);
    pn_htable_put(cf.cache, key.data, pn_strdup(first));
    pn_buf_release(&line);
    cached = pn_htable_get(cf.cache, key.data);
    pn_buf_release(&key);
    return cached;
}

/* a_restriction_class: named in smtpd_restriction_classes (its value is a restriction list) */
static int a_restriction_class(const char *name)
{
    const char *raw = pn_config_raw(PN_P(smtpd_restriction_classes));
    pn_argv *names = pn_argv_split(raw ? raw : "", PN_SEPARATORS);
    int found = 0;
    for (size_t i = 0; i < names->len && !found; i++)
        found = strcmp(names->items[i], name) == 0;
    pn_argv_free(names);
    return found;
}

int pn_config_is_used(const char *name)
{
    init_once();
    return pn_param_find(name) != NULL || pn_htable_has(cf.referenced, name) ||
           a_restriction_class(name);
}

void pn_config_warn_unused(void)
{
    const char **names = pn_config_setting_names();
    for (size_t i = 0; names[i]; i++) {
        if (pn_config_is_used(names[i]))
            continue;
        pn_warn("%s: unused parameter: %s=%s", pn_config_main_path(), names[i],
                pn_config_setting(names[i]));
    }
    free(names);
}
