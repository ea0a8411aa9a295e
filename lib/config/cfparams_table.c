/* cfparams_table.c: the parameter table, built from cfparams_list.h, and the program names.
 * This table is the single source of truth: postconf -d, the typed getters, the start-up
 * validation, the refusal of what Postern does not implement and the unused-parameter check
 * read it. */
#include "config/cfparams_table.h"

#include <string.h>

const pn_param_def pn_param_table[] = {
#define PN_PARAM(name, type, unit, flags, defval, readers, status, min, max, words)                \
    {#name, PN_PT_##type, unit, flags, defval, readers, PN_PS_##status, min, max, words},
#include "config/cfparams_list.h"
#undef PN_PARAM
};

const unsigned pn_param_table_size = sizeof(pn_param_table) / sizeof(pn_param_table[0]);

static const char *const program_names[] = {
#define PN_PROGRAM_NAME(id, name) name,
    PN_PROGRAM_LIST(PN_PROGRAM_NAME)
#undef PN_PROGRAM_NAME
};

int pn_program_find(const char *name)
{
    const char *slash = strrchr(name, '/');
    if (slash)
        name = slash + 1;
    for (int i = 0; i < PN_PROG_COUNT; i++)
        if (strcmp(program_names[i], name) == 0)
            return i;
    return -1;
}

const char *pn_program_name(int program)
{
    return program >= 0 && program < PN_PROG_COUNT ? program_names[program] : "?";
}
