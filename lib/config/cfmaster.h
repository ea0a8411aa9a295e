/* cfmaster.h: the master.cf model: one entry per (service, type) with its eight columns and
 * its command arguments, "-o name=value" overrides in both the short and the { long } form. */
#ifndef PN_CONFIG_CFMASTER_H
#define PN_CONFIG_CFMASTER_H
#include "base/argv.h"
#include "base/buf.h"

enum pn_master_field {
    PN_MF_SERVICE,
    PN_MF_TYPE,
    PN_MF_PRIVATE,
    PN_MF_UNPRIV,
    PN_MF_CHROOT,
    PN_MF_WAKEUP,
    PN_MF_MAXPROC,
    PN_MF_COMMAND,
    PN_MF_COUNT
};

typedef struct pn_master_entry {
    char *field[PN_MF_COMMAND]; /* the first seven columns as written ("-" kept) */
    pn_argv *args;              /* command and its arguments; -o values normalised */
    int line;                   /* where the entry starts */
} pn_master_entry;

typedef struct pn_master {
    char *path;
    pn_master_entry **entries;
    size_t count;
} pn_master;

extern const char *const pn_master_field_names[PN_MF_COUNT];

/* pn_master_read: parse a whole file; on error returns NULL with "PATH, line N: ..." in err.
 * A missing file gives an empty table when missing_ok, else an error. */
pn_master *pn_master_read(const char *path, int missing_ok, pn_buf *err);
/* pn_master_parse_entry: one logical line; NULL with err set (without file and line). */
pn_master_entry *pn_master_parse_entry(const char *line, pn_buf *err);
void pn_master_entry_free(pn_master_entry *entry);
void pn_master_free(pn_master *master);
pn_master_entry *pn_master_find(const pn_master *master, const char *service, const char *type);
/* pn_master_format: the entry as postconf -M prints it; fold keeps lines under 80 columns. */
void pn_master_format(const pn_master_entry *entry, int fold, pn_buf *out);
/* pn_master_command: the command and arguments as one line (the "command" field). */
void pn_master_command(const pn_master_entry *entry, pn_buf *out);
/* pn_master_overrides: the -o settings as "name=value" strings. */
pn_argv *pn_master_overrides(const pn_master_entry *entry);
/* Typed views of the columns, with the defaults for "-". */
int pn_master_private(const pn_master_entry *entry);
int pn_master_unpriv(const pn_master_entry *entry);
/* pn_master_chroot: "-" follows compatibility_level: y below level 1, else n. */
int pn_master_chroot(const pn_master_entry *entry, const char *compatibility_level);
/* pn_master_wakeup: seconds, 0 for none; *conditional set for the "N?" form. */
int pn_master_wakeup(const pn_master_entry *entry, int *conditional);
/* pn_master_maxproc: the limit, or -1 for "-" (default_process_limit). */
int pn_master_maxproc(const pn_master_entry *entry);

/* pn_master_learn_services: read $config_directory/master.cf (missing is fine) and register
 * its services with the parameter registry, so that per-transport parameter names such as
 * relay_destination_concurrency_limit are known. -1 with err on a bad file. */
int pn_master_learn_services(pn_buf *err);

#endif
