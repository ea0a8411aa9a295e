/* htable.c: a plain chained hash table (FNV-1a), grown when the load passes 1. */
#include "base/htable.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

struct entry {
    struct entry *next;
    char *key;
    void *value;
    uint32_t hash;
};

struct pn_htable {
    struct entry **slots;
    size_t size;
    size_t count;
};

static uint32_t hash_key(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *cp = (const unsigned char *)key; *cp; cp++) {
        h ^= *cp;
        h *= 16777619u;
    }
    return h;
}

pn_htable *pn_htable_new(size_t size_hint)
{
    pn_htable *table = pn_malloc(sizeof(*table));
    table->size = 16;
    while (table->size < size_hint)
        table->size *= 2;
    table->slots = pn_calloc(table->size, sizeof(struct entry *));
    table->count = 0;
    return table;
}

void pn_htable_free(pn_htable *table, void (*free_value)(void *))
{
    if (table == NULL)
        return;
    for (size_t i = 0; i < table->size; i++) {
        struct entry *e = table->slots[i];
        while (e) {
            struct entry *next = e->next;
            if (free_value)
                free_value(e->value);
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(table->slots);
    free(table);
}

static struct entry **find_slot(const pn_htable *table, const char *key, uint32_t hash)
{
    struct entry **pp = &table->slots[hash & (table->size - 1)];
    while (*pp && ((*pp)->hash != hash || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

static void grow(pn_htable *table)
{
    size_t new_size = table->size * 2;
    struct entry **slots = pn_calloc(new_size, sizeof(struct entry *));
    for (size_t i = 0; i < table->size; i++) {
        struct entry *e = table->slots[i];
        while (e) {
            struct entry *next = e->next;
            size_t idx = e->hash & (new_size - 1);
            e->next = slots[idx];
            slots[idx] = e;
            e = next;
        }
    }
    free(table->slots);
    table->slots = slots;
    table->size = new_size;
}

void *pn_htable_put(pn_htable *table, const char *key, void *value)
{
    uint32_t hash = hash_key(key);
    struct entry **pp = find_slot(table, key, hash);
    if (*pp) {
        void *old = (*pp)->value;
        (*pp)->value = value;
        return old;
    }
    struct entry *e = pn_malloc(sizeof(*e));
    e->key = pn_strdup(key);
    e->value = value;
    e->hash = hash;
    e->next = NULL;
    *pp = e;
    if (++table->count > table->size)
        grow(table);
    return NULL;
}

void *pn_htable_get(const pn_htable *table, const char *key)
{
    struct entry **pp = find_slot(table, key, hash_key(key));
    return *pp ? (*pp)->value : NULL;
}

int pn_htable_has(const pn_htable *table, const char *key)
{
    return *find_slot(table, key, hash_key(key)) != NULL;
}

void *pn_htable_remove(pn_htable *table, const char *key)
{
    struct entry **pp = find_slot(table, key, hash_key(key));
    struct entry *e = *pp;
    if (e == NULL)
        return NULL;
    void *value = e->value;
    *pp = e->next;
    free(e->key);
    free(e);
    table->count--;
    return value;
}

size_t pn_htable_count(const pn_htable *table)
{
    return table->count;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **pn_htable_keys(const pn_htable *table)
{
    const char **keys = pn_calloc(table->count + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < table->size; i++)
        for (struct entry *e = table->slots[i]; e; e = e->next)
            keys[n++] = e->key;
    qsort(keys, n, sizeof(char *), compare_keys);
    keys[n] = NULL;
    return keys;
}
