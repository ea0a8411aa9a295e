/* cfedit.h: in-place editing of main.cf and master.cf. The file is held as physical lines
 * grouped into logical entries; entries are replaced, deleted or appended, and the result is
 * written to a temporary file that is renamed over the original, so comments, order and
 * unrelated lines survive and readers never see a half-written file. */
#ifndef PN_CONFIG_CFEDIT_H
#define PN_CONFIG_CFEDIT_H
#include <stddef.h>

#include "base/buf.h"

typedef struct pn_cfedit pn_cfedit;

/* pn_cfedit_open: a missing file reads as empty (postconf -e creates main.cf). */
pn_cfedit *pn_cfedit_open(const char *path, pn_buf *err);
void pn_cfedit_free(pn_cfedit *edit);
size_t pn_cfedit_count(const pn_cfedit *edit);
/* pn_cfedit_logical: entry i as one logical line (continuations joined by one space). */
void pn_cfedit_logical(const pn_cfedit *edit, size_t i, pn_buf *out);
/* pn_cfedit_replace: new text for entry i (may hold newlines); NULL deletes the entry. Comment
 * lines inside a continued entry are kept. */
void pn_cfedit_replace(pn_cfedit *edit, size_t i, const char *text);
void pn_cfedit_append(pn_cfedit *edit, const char *text);
/* pn_cfedit_commit: write PATH.tmp, fsync, rename; keeps the old mode and owner. */
int pn_cfedit_commit(pn_cfedit *edit, pn_buf *err);

#endif
