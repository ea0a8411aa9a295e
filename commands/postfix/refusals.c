/* refusals.c: what postfix check, start and reload say about the configuration against the
 * parameter table (doc/configuration.md): a bad value is an error with file and line; a setting
 * Postern does not implement is a warning ("setting ignored"), or, when ignoring it could
 * weaken security or lose mail, an error naming the master.cf services that will not start. */
#include <stdlib.h>
#include <string.h>

#include "base/argv.h"
#include "base/htable.h"
#include "base/log.h"
#include "base/mem.h"
#include "config/cfcheck.h"
#include "config/cfmaster.h"
#include "config/cfparams.h"
#include "config/cfrestrict.h"
#include "postfix.h"

int config_values_check(void)
{
    int errors = 0;
    pn_buf why = PN_BUF_INIT;
    for (unsigned i = 0; i < pn_param_table_size; i++) {
        const pn_param_def *def = &pn_param_table[i];
        if (def->status != PN_PS_IMPL || (def->readers & PN_R_DAEMONS) == 0)
            continue;
        pn_buf_reset(&why);
        if (pn_config_check_value(def, &why) < 0) {
            pn_error("%s", why.data);
            errors++;
        }
    }
    pn_buf_release(&why);
    return errors;
}

/* The services refused for one reason, in master.cf order. */
typedef struct refusal {
    pn_buf services;
} refusal;

static void note(pn_htable *seen, pn_argv *order, const char *text, const pn_master_entry *e)
{
    refusal *r = pn_htable_get(seen, text);
    if (r == NULL) {
        r = pn_calloc(1, sizeof(*r));
        pn_htable_put(seen, text, r);
        pn_argv_add(order, text);
    }
    pn_buf_printf(&r->services, "%s%s (master.cf, line %d)", r->services.len ? ", " : "",
                  e->field[PN_MF_SERVICE], e->line);
}

static void free_refusal(void *ptr)
{
    refusal *r = ptr;
    pn_buf_release(&r->services);
    free(r);
}

/* restriction_warnings: the entries of the restriction lists in force that smtpd does not
 * carry out (a request that reaches one is refused with 451 4.3.5); origin is "main.cf" or
 * "master.cf: service S" for a -o value. */
static void restriction_warnings(const char *service)
{
    pn_buf names = PN_BUF_INIT;
    for (int i = 0; pn_restriction_params[i]; i++) {
        const char *param = pn_restriction_params[i];
        int from_o = pn_config_is_override(param);
        if ((service != NULL) != from_o)
            continue;
        pn_buf_reset(&names);
        if (pn_restriction_unimplemented(pn_config_get(param), &names) == 0)
            continue;
        pn_argv *list = pn_argv_split(names.data, " ");
        for (size_t k = 0; k < list->len; k++) {
            if (service)
                pn_warn("master.cf: service %s: parameter %s: %s %s is not implemented by Postern; "
                        "a request that reaches it is refused with 451 4.3.5",
                        service, param,
                        pn_restriction_known(list->items[k]) ? "restriction"
                                                             : "unknown restriction",
                        list->items[k]);
            else
                pn_warn("main.cf: parameter %s: %s %s is not implemented by Postern; a request "
                        "that reaches it is refused with 451 4.3.5",
                        param,
                        pn_restriction_known(list->items[k]) ? "restriction"
                                                             : "unknown restriction",
                        list->items[k]);
        }
        pn_argv_free(list);
    }
    pn_buf_release(&names);
}

int config_refusals(void)
{
    pn_buf path = PN_BUF_INIT, err = PN_BUF_INIT, text = PN_BUF_INIT;
    pn_buf_printf(&path, "%s/master.cf", pn_config_directory());
    pn_master *m = pn_master_read(path.data, 1, &err);
    if (m == NULL)
        pn_fatal("%s", err.data);
    pn_htable *seen = pn_htable_new(16);
    pn_argv *order = pn_argv_new();
    uint64_t running = 0; /* the programs master.cf runs */

    for (size_t i = 0; i < m->count; i++) {
        const pn_master_entry *e = m->entries[i];
        int program = pn_program_find(e->args->items[0]);
        if (program < 0)
            continue;
        running |= UINT64_C(1) << program;
        pn_argv *settings = pn_master_overrides(e);
        pn_config_push_overrides(settings);
        for (unsigned k = 0; k < pn_param_table_size; k++) {
            const pn_param_def *def = &pn_param_table[k];
            int from_o = pn_config_is_override(def->name);
            int status = pn_config_refusal(def);
            pn_buf_reset(&text);
            pn_config_refusal_text(def, e->field[PN_MF_SERVICE], &text);
            if (status == PN_PS_FATAL && (def->readers & (UINT64_C(1) << program)))
                note(seen, order, text.data, e);
            else if (status && from_o)
                pn_warn("%s; setting ignored", text.data);
        }
        if (program == PN_PROG_SMTPD)
            restriction_warnings(e->field[PN_MF_SERVICE]);
        pn_config_pop_overrides();
        pn_argv_free(settings);
    }
    restriction_warnings(NULL);
    /* main.cf settings that no service refuses to run with are ignored, with a warning */
    for (unsigned k = 0; k < pn_param_table_size; k++) {
        const pn_param_def *def = &pn_param_table[k];
        int status = pn_config_refusal(def);
        if (status == 0 || (status == PN_PS_FATAL && (def->readers & running)))
            continue;
        pn_buf_reset(&text);
        pn_config_refusal_text(def, NULL, &text);
        pn_warn("%s; setting ignored", text.data);
    }
    for (size_t i = 0; i < order->len; i++) {
        refusal *r = pn_htable_get(seen, order->items[i]);
        pn_error("%s; services that will not start: %s", order->items[i], r->services.data);
    }
    int count = (int)order->len;
    pn_htable_free(seen, free_refusal);
    pn_argv_free(order);
    pn_master_free(m);
    pn_buf_release(&path);
    pn_buf_release(&err);
    pn_buf_release(&text);
    return count;
}
