/* cfparams.h: the parameter registry and the configuration in force. Values are kept raw in
 * three layers (built-in default < main.cf < -o override) and expanded lazily on first typed
 * access. Names come from the one table in cfparams_table.c, plus the per-transport names
 * derived from master.cf services. */
#ifndef PN_CONFIG_CFPARAMS_H
#define PN_CONFIG_CFPARAMS_H
#include "base/argv.h"
#include "base/buf.h"
#include "config/cfparams_table.h"

/* pn_config_set_directory: the configuration directory (-c DIR or MAIL_CONFIG). */
void pn_config_set_directory(const char *dir);
const char *pn_config_directory(void);
const char *pn_config_main_path(void);
/* pn_config_read_main: read $config_directory/main.cf. A missing file is reported with
 * errno-style text; a syntax error names the file and line. 0 or -1 with err set. */
int pn_config_read_main(pn_buf *err);
/* pn_config_load: the usual start of a program: read main.cf or die. */
void pn_config_load(void);

/* Layers. */
void pn_config_override(const char *name, const char *value); /* -o name=value */
/* pn_config_is_override: is the value in force of name a -o override? */
int pn_config_is_override(const char *name);
/* pn_config_push_overrides: layer "name=value" settings (a master.cf service's -o options) over
 * the overrides in force, until pn_config_pop_overrides(); one level. */
void pn_config_push_overrides(const pn_argv *settings);
void pn_config_pop_overrides(void);
void pn_config_set_process(const char *process_name, const char *service_name);
/* pn_config_add_service: tell the registry about a master.cf service, so that the names
 * derived from it (relay_destination_concurrency_limit, ...) are known. */
void pn_config_add_service(const char *service, const char *command);
/* pn_config_note_references: $names used in text (master.cf -o values) count as used. */
void pn_config_note_references(const char *text);

/* Lookups. */
const pn_param_def *pn_param_find(const char *name);
/* pn_param_names: every known name, sorted (free the array, not the names). */
const char **pn_param_names(void);
const char *pn_config_default(const char *name); /* raw default, or NULL when unknown */
const char *pn_config_setting(const char *name); /* raw main.cf value, or NULL */
int pn_config_setting_line(const char *name);    /* its line in main.cf, 0 when not from it */
const char **pn_config_setting_names(void);      /* sorted; free the array only */
const char *pn_config_raw(const char *name);     /* override, else main.cf, else default */
/* pn_config_expand_text: expand text against the configuration (recursively). */
int pn_config_expand_text(const char *text, pn_buf *out, pn_buf *err);

/* Typed getters: fatal, naming the file and line, when the value is bad. */
const char *pn_config_get(const char *name);
long pn_config_get_int(const char *name);
int pn_config_get_bool(const char *name);
/* pn_config_list_has: is word (any case) one of the items of a list parameter
 * (notify_classes, smtpd_discard_ehlo_keywords, ...)? */
int pn_config_list_has(const char *name, const char *word);
long pn_config_get_time(const char *name);
/* pn_config_get_hostname: myhostname/myorigin with Debian's rule that a value starting
 * with '/' names a file whose first line is the value. */
const char *pn_config_get_hostname(const char *name);

/* pn_config_is_used: a known name, or a main.cf name that some value refers to as $name. */
int pn_config_is_used(const char *name);
/* pn_config_warn_unused: "unused parameter" warnings for unknown main.cf names. */
void pn_config_warn_unused(void);
/* pn_config_reset: forget everything (tests, reload). */
void pn_config_reset(void);

#endif
