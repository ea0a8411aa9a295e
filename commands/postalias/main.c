/* main.c: postalias, and newaliases when called by that name: alias databases in the
 * "name: value, value" syntax; see lib/mail/tablecmd.c. */
#include "mail/tablecmd.h"
#include "mail/tabsrc.h"

int main(int argc, char **argv)
{
    return pn_tablecmd_main(argc, argv, PN_TABSRC_ALIAS);
}
