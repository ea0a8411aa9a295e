/* postsuper.h: the parts of postsuper. */
#ifndef PN_POSTSUPER_H
#define PN_POSTSUPER_H

/* structure.c: postsuper -s; the number of files renamed or moved. */
int structure_repair(void);

#endif
