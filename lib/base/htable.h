/* htable.h: string-keyed hash table with chaining. Keys are copied; values are the caller's. */
#ifndef PN_BASE_HTABLE_H
#define PN_BASE_HTABLE_H
#include <stddef.h>

typedef struct pn_htable pn_htable;

pn_htable *pn_htable_new(size_t size_hint);
/* pn_htable_free: free_value (may be NULL) is called for every value. */
void pn_htable_free(pn_htable *table, void (*free_value)(void *));
/* pn_htable_put: insert or replace; returns the replaced value or NULL. */
void *pn_htable_put(pn_htable *table, const char *key, void *value);
/* pn_htable_get: the value, or NULL when the key is absent. */
void *pn_htable_get(const pn_htable *table, const char *key);
int pn_htable_has(const pn_htable *table, const char *key);
/* pn_htable_remove: returns the removed value or NULL. */
void *pn_htable_remove(pn_htable *table, const char *key);
size_t pn_htable_count(const pn_htable *table);
/* pn_htable_keys: a NULL-terminated array of the keys (owned by the table), sorted with
 * strcmp; free the array with free(). */
const char **pn_htable_keys(const pn_htable *table);

#endif
