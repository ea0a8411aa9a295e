/* mem.h: checked allocation. These functions never return NULL: running out of memory is
 * fatal, so callers never test for it. */
#ifndef PN_BASE_MEM_H
#define PN_BASE_MEM_H
#include <stddef.h>

void *pn_malloc(size_t size);
void *pn_calloc(size_t count, size_t size);
void *pn_realloc(void *ptr, size_t size);
/* pn_reallocarray: like pn_realloc for count * size, fatal on overflow. */
void *pn_reallocarray(void *ptr, size_t count, size_t size);
char *pn_strdup(const char *str);
char *pn_strndup(const char *str, size_t len);
void *pn_memdup(const void *data, size_t len);
/* pn_free_ptr: free *ptr and set it to NULL. */
void pn_free_ptr(void *ptr_to_ptr);

#endif
