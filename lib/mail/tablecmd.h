/* tablecmd.h: the body of the postmap and postalias commands, which differ only in their
 * source syntax and in the extra entries an alias database carries. */
#ifndef PN_MAIL_TABLECMD_H
#define PN_MAIL_TABLECMD_H

/* pn_tablecmd_main: syntax is PN_TABSRC_MAP (postmap) or PN_TABSRC_ALIAS (postalias,
 * newaliases). Returns the exit status. */
int pn_tablecmd_main(int argc, char **argv, int syntax);

#endif
