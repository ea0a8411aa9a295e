/* main.c: postmap, the lookup-table utility (build, -q, -s, -d, -i); see lib/mail/tablecmd.c. */
#include "mail/tablecmd.h"
#include "mail/tabsrc.h"

int main(int argc, char **argv)
{
    return pn_tablecmd_main(argc, argv, PN_TABSRC_MAP);
}
