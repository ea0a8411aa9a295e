/* mem.c: checked allocation for the whole program. It must never return NULL; on failure it
 * writes one line to stderr and exits, without allocating. */
#include "base/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void out_of_memory(size_t size)
{
    static const char msg[] = "fatal: out of memory\n";
    (void)size;
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

void *pn_malloc(size_t size)
{
    void *ptr = malloc(size ? size : 1);
    if (ptr == NULL)
        out_of_memory(size);
    return ptr;
}

void *pn_calloc(size_t count, size_t size)
{
    void *ptr = calloc(count ? count : 1, size ? size : 1);
    if (ptr == NULL)
        out_of_memory(size);
    return ptr;
}

void *pn_realloc(void *ptr, size_t size)
{
    void *out = realloc(ptr, size ? size : 1);
    if (out == NULL)
        out_of_memory(size);
    return out;
}

void *pn_reallocarray(void *ptr, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        out_of_memory(SIZE_MAX);
    return pn_realloc(ptr, count * size);
}

char *pn_strdup(const char *str)
{
    return pn_memdup(str, strlen(str) + 1);
}

char *pn_strndup(const char *str, size_t len)
{
    size_t n = strnlen(str, len);
    char *out = pn_malloc(n + 1);
    memcpy(out, str, n);
    out[n] = 0;
    return out;
}

void *pn_memdup(const void *data, size_t len)
{
    void *out = pn_malloc(len);
    if (len)
        memcpy(out, data, len);
    return out;
}

void pn_free_ptr(void *ptr_to_ptr)
{
    void **pp = ptr_to_ptr;
    free(*pp);
    *pp = NULL;
}
