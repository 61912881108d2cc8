#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: keys are short ids, speed matters more than distribution. */
static uint64_t hash(const char *s, size_t len)
{
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)s[i];
                h *= 1099511628211ULL;
        }
        return h;
}

void tg_strmap_init(tg_strmap_t *m)
{
        memset(m, 0, sizeof(*m));
}

static tg_strmap_entry_t *find(const tg_strmap_entry_t *slots, size_t cap,
                               const char *key, size_t len)
{
        size_t i = (size_t)hash(key, len) & (cap - 1);

        while (slots[i].key && !(strncmp(slots[i].key, key, len) == 0 &&
                                 slots[i].key[len] == '\0'))
                i = (i + 1) & (cap - 1);
        return (tg_strmap_entry_t *)&slots[i];
}

static int grow(tg_strmap_t *m)
{
        size_t cap = m->cap ? m->cap * 2 : 64;
        tg_strmap_entry_t *slots = calloc(cap, sizeof(*slots));

        if (!slots)
                return -1;
        for (size_t i = 0; i < m->cap; i++) {
                const tg_strmap_entry_t *e = &m->slots[i];
                if (e->key)
                        *find(slots, cap, e->key, strlen(e->key)) = *e;
        }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
        return 0;
}

void **tg_strmap_put(tg_strmap_t *m, const char *key, size_t len, int *added)
{
        tg_strmap_entry_t *e;

        *added = 0;
        /* Keep the load under 3/4 so probes stay short. */
        if ((m->n + 1) * 4 > m->cap * 3 && grow(m))
                return NULL;
        e = find(m->slots, m->cap, key, len);
        if (e->key)
                return &e->value;
        e->key = strndup(key, len);
        if (!e->key)
                return NULL;
        e->value = NULL;
        m->n++;
        *added = 1;
        return &e->value;
}

void *tg_strmap_get(const tg_strmap_t *m, const char *key, size_t len)
{
        if (!m->cap)
                return NULL;
        return find(m->slots, m->cap, key, len)->value;
}

static int by_key(const void *a, const void *b)
{
        return strcmp(((const tg_strmap_entry_t *)a)->key,
                      ((const tg_strmap_entry_t *)b)->key);
}

tg_strmap_entry_t *tg_strmap_sorted(const tg_strmap_t *m)
{
        tg_strmap_entry_t *out;
        size_t n = 0;

        if (!m->n || !(out = malloc(m->n * sizeof(*out))))
                return NULL;
        for (size_t i = 0; i < m->cap; i++)
                if (m->slots[i].key)
                        out[n++] = m->slots[i];
        qsort(out, n, sizeof(*out), by_key);
        return out;
}

void tg_strmap_free(tg_strmap_t *m, void (*free_value)(void *))
{
        for (size_t i = 0; i < m->cap; i++) {
                if (!m->slots[i].key)
                        continue;
                free(m->slots[i].key);
                if (free_value)
                        free_value(m->slots[i].value);
        }
        free(m->slots);
        tg_strmap_init(m);
}
