/*
 * A string-keyed hash map (open addressing, linear probing) for the replay:
 * request ids seen, totals per budget period, report groups. Keys are
 * copied; values are the caller's.
 */
#ifndef TG_LEDGER_STRMAP_H
#define TG_LEDGER_STRMAP_H

#include <stddef.h>

typedef struct tg_strmap_entry {
        char *key; /* NULL: free slot */
        void *value;
} tg_strmap_entry_t;

typedef struct tg_strmap {
        tg_strmap_entry_t *slots;
        size_t cap, n;
} tg_strmap_t;

void tg_strmap_init(tg_strmap_t *m);

/* The value slot of key (len bytes), added with a NULL value when absent;
 * *added says which. NULL when out of memory. */
void **tg_strmap_put(tg_strmap_t *m, const char *key, size_t len, int *added);

/* The value of key, or NULL. */
void *tg_strmap_get(const tg_strmap_t *m, const char *key, size_t len);

/* The entries sorted by key (strcmp), malloc'd; n entries. NULL when out of
 * memory or empty. */
tg_strmap_entry_t *tg_strmap_sorted(const tg_strmap_t *m);

/* Frees the keys, and each value with free_value when given. */
void tg_strmap_free(tg_strmap_t *m, void (*free_value)(void *));

#endif
