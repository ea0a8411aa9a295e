/* postconf.h: what the parts of the postconf command share. */
#ifndef PN_POSTCONF_H
#define PN_POSTCONF_H
#include "base/argv.h"
#include "config/cfmaster.h"

#define PC_DEFAULTS 0x0001   /* -d */
#define PC_NONDEFAULT 0x0002 /* -n */
#define PC_VALUE_ONLY 0x0004 /* -h */
#define PC_NAME_ONLY 0x0008  /* -H */
#define PC_EXPAND 0x0010     /* -x */
#define PC_FOLD 0x0020       /* -f */

/* show_main.c */
void show_main(int flags, char **names);
/* edit_main.c */
void edit_main_set(char **args);
void edit_main_remove(char **names, int comment_out);
/* master_ops.c */
void master_show(const pn_master *master, int fold, char **selectors);
/* value_only (-h): the values alone, one per line */
void master_show_fields(const pn_master *master, char **selectors, int value_only);
void master_show_params(const pn_master *master, char **selectors, int value_only);
void master_edit(char mode, char **args, int remove, int comment_out);
/* main.c */
const char *master_cf_path(void);

#endif
