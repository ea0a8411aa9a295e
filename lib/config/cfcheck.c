/* cfcheck.c: the configuration against the parameter table: value checks (type, range, words)
 * and refusals of what Postern does not implement. Values are compared after expansion, so
 * "soft_bounce = $no_thanks" is judged by what it means, and a setting equal to the default
 * ("biff = yes", "smtpd_tls_security_level = none") is no reason for a warning. */
#include "config/cfcheck.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/argv.h"
#include "base/log.h"
#include "base/strutil.h"
#include "config/cfparams.h"

/* where: "PATH, line N: " for a main.cf setting, "-o override: " for a master.cf one. */
static void where(pn_buf *out, const char *name)
{
    int line = pn_config_setting_line(name);
    if (pn_config_is_override(name))
        pn_buf_puts(out, "-o override: ");
    else if (line > 0)
        pn_buf_printf(out, "%s, line %d: ", pn_config_main_path(), line);
}

/* word_ok: is item one of the space-separated words (any case)? */
static int word_ok(const char *words, const char *item)
{
    size_t n = strlen(item);
    for (const char *cp = words; *cp;) {
        size_t k = strcspn(cp, " ");
        if (k == n && strncasecmp(cp, item, n) == 0)
            return 1;
        cp += k;
        cp += strspn(cp, " ");
    }
    return 0;
}

static int check_words(const pn_param_def *def, const char *value, pn_buf *why)
{
    int list = def->words[0] == '*';
    const char *words = def->words + list;
    pn_argv *items = pn_argv_split(value, PN_SEPARATORS);
    int rc = 0;
    if (!list && items->len > 1)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < items->len; i++)
        if (!word_ok(words, items->items[i]))
            rc = -1;
    pn_argv_free(items);
    if (rc < 0) {
        where(why, def->name);
        pn_buf_printf(why, "bad %s value \"%s\": %s%s", def->name, value,
                      list ? "a list of " : "one of ", words);
    }
    return rc;
}

int pn_config_check_value(const pn_param_def *def, pn_buf *why)
{
    pn_buf value = PN_BUF_INIT, err = PN_BUF_INIT;
    pn_buf_init(&value);
    int rc = 0;
    if (pn_config_expand_text(pn_config_raw(def->name), &value, &err) < 0) {
        where(why, def->name);
        pn_buf_printf(why, "parameter %s: %s", def->name, pn_buf_str(&err));
        rc = -1;
        goto done;
    }
    long number = 0;
    int flag;
    const char *kind = NULL;
    switch (def->type) {
    case PN_PT_INT:
        if (pn_parse_long(value.data, &number) < 0)
            kind = "numerical";
        break;
    case PN_PT_TIME:
        if (pn_parse_time(value.data, def->unit ? def->unit : 's', &number) < 0)
            kind = "time";
        break;
    case PN_PT_BOOL:
        if (pn_parse_bool(value.data, &flag) < 0)
            kind = "boolean";
        break;
    case PN_PT_STR:
        if (def->words && value.len)
            rc = check_words(def, value.data, why);
        goto done;
    }
    if (kind) {
        where(why, def->name);
        pn_buf_printf(why, "bad %s configuration: %s = %s", kind, def->name, value.data);
        rc = -1;
    } else if (def->type != PN_PT_BOOL &&
               (number < def->min || (def->max > 0 && number > def->max))) {
        where(why, def->name);
        int low = number < def->min;
        pn_buf_printf(why, "invalid %s parameter value %s %c %ld", def->name, value.data,
                      low ? '<' : '>', low ? def->min : def->max);
        rc = -1;
    }
done:
    pn_buf_release(&value);
    pn_buf_release(&err);
    return rc;
}

void pn_config_validate(int program)
{
    uint64_t bit = program >= 0 ? UINT64_C(1) << program : 0;
    pn_buf why = PN_BUF_INIT;
    for (unsigned i = 0; i < pn_param_table_size; i++) {
        const pn_param_def *def = &pn_param_table[i];
        if (def->status != PN_PS_IMPL || !(def->readers & bit))
            continue;
        if (pn_config_check_value(def, &why) < 0)
            pn_fatal("%s", why.data);
    }
    pn_buf_release(&why);
}

/* normalised: the expansion of text in a form where equal meanings are equal strings. */
static void normalised(const pn_param_def *def, const char *text, pn_buf *out)
{
    pn_buf value = PN_BUF_INIT, err = PN_BUF_INIT;
    pn_buf_init(&value);
    if (pn_config_expand_text(text, &value, &err) < 0)
        pn_buf_set(&value, text);
    long number;
    int flag;
    if (def->type == PN_PT_BOOL && pn_parse_bool(value.data, &flag) == 0) {
        pn_buf_puts(out, flag ? "yes" : "no");
    } else if (def->type == PN_PT_INT && pn_parse_long(value.data, &number) == 0) {
        pn_buf_printf(out, "%ld", number);
    } else if (def->type == PN_PT_TIME &&
               pn_parse_time(value.data, def->unit ? def->unit : 's', &number) == 0) {
        pn_buf_printf(out, "%ld", number);
    } else {
        pn_argv *items = pn_argv_split(value.data, PN_SEPARATORS);
        for (size_t i = 0; i < items->len; i++)
            pn_buf_printf(out, "%s%s", i ? " " : "", items->items[i]);
        pn_argv_free(items);
    }
    pn_buf_release(&value);
    pn_buf_release(&err);
}

/* Refusals that depend on the value: a value that means what Postern does anyway is no
 * refusal. Values are compared normalised. */
static const struct {
    const char *name;
    const char *value;
    int status;
} by_value[] = {
    {PN_P(soft_bounce), "no", 0},
};

int pn_config_refusal(const pn_param_def *def)
{
    if (def->status != PN_PS_WARN && def->status != PN_PS_FATAL)
        return 0;
    if (!pn_config_is_override(def->name) && pn_config_setting(def->name) == NULL)
        return 0;
    pn_buf now = PN_BUF_INIT, dflt = PN_BUF_INIT;
    pn_buf_init(&now);
    pn_buf_init(&dflt);
    normalised(def, pn_config_raw(def->name), &now);
    normalised(def, pn_config_default(def->name), &dflt);
    int status = strcmp(now.data, dflt.data) == 0 ? 0 : (int)def->status;
    for (size_t i = 0; status && i < sizeof(by_value) / sizeof(by_value[0]); i++)
        if (strcmp(by_value[i].name, def->name) == 0 &&
            strcasecmp(by_value[i].value, now.data) == 0)
            status = by_value[i].status;
    pn_buf_release(&now);
    pn_buf_release(&dflt);
    return status;
}

void pn_config_refusal_text(const pn_param_def *def, const char *service, pn_buf *out)
{
    if (pn_config_is_override(def->name))
        pn_buf_printf(out, "master.cf: service %s: ", service ? service : "?");
    else
        pn_buf_puts(out, "main.cf: ");
    pn_buf_printf(out, "parameter %s is not implemented by Postern", def->name);
}

int pn_config_fatal_refusals(int program, const char *service, pn_buf *texts)
{
    uint64_t bit = program >= 0 ? UINT64_C(1) << program : 0;
    int count = 0;
    for (unsigned i = 0; i < pn_param_table_size; i++) {
        const pn_param_def *def = &pn_param_table[i];
        if ((def->readers & bit) && pn_config_refusal(def) == PN_PS_FATAL) {
            if (count++)
                pn_buf_puts(texts, "; ");
            pn_config_refusal_text(def, service, texts);
        }
    }
    return count;
}

void pn_config_refuse(int program, const char *service)
{
    uint64_t bit = program >= 0 ? UINT64_C(1) << program : 0;
    for (unsigned i = 0; i < pn_param_table_size; i++) {
        const pn_param_def *def = &pn_param_table[i];
        if ((def->readers & bit) && pn_config_refusal(def) == PN_PS_FATAL) {
            pn_buf text = PN_BUF_INIT;
            pn_config_refusal_text(def, service, &text);
            pn_fatal("%s; the %s service cannot run without it", text.data,
                     pn_program_name(program));
        }
    }
}
