/* cfparams_table.h: the shape of the parameter table (cfparams_table.c). */
#ifndef PN_CONFIG_CFPARAMS_TABLE_H
#define PN_CONFIG_CFPARAMS_TABLE_H

enum pn_param_type { PN_PT_STR, PN_PT_INT, PN_PT_BOOL, PN_PT_TIME };

#define PN_PF_DYN 1 /* default computed at run time (host names, networks, process data) */
#define PN_PF_RO 2  /* set by the program, never by main.cf */

typedef struct pn_param_def {
    const char *name;
    enum pn_param_type type;
    char unit; /* PN_PT_TIME: the unit of a bare number */
    int flags;
    const char *defval; /* raw default; may contain $ expressions */
} pn_param_def;

extern const pn_param_def pn_param_table[];
extern const unsigned pn_param_table_size;

#endif
