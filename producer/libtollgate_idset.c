/*
 * The collector's set of wanted requestIds, each with its completion: open
 * addressing with linear probing, FNV-1a, kept at most half full. A
 * completions topic holds every request ever made, so the lookup of an
 * unwanted id must be cheap: one hash and a probe or two.
 */
#include <stdlib.h>
#include <string.h>

#include "libtollgate_int.h"

static uint64_t hash(const char *s, size_t len)
{
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)s[i];
                h *= 1099511628211ULL;
        }
        return h;
}

int tg_idset_init(tg_idset_t *s, size_t hint)
{
        memset(s, 0, sizeof(*s));
        s->cap = 64;
        while (s->cap < hint * 2)
                s->cap *= 2;
        s->slots = calloc(s->cap, sizeof(*s->slots));
        return s->slots ? 0 : -1;
}

void tg_idset_free(tg_idset_t *s)
{
        for (size_t i = 0; s->slots && i < s->cap; i++) {
                free(s->slots[i].id);
                free(s->slots[i].json);
        }
        free(s->slots);
        memset(s, 0, sizeof(*s));
}

static tg_idslot_t *probe(tg_idslot_t *slots, size_t cap, const char *id,
                          size_t len)
{
        size_t i = (size_t)hash(id, len) & (cap - 1);

        while (slots[i].id && !(strncmp(slots[i].id, id, len) == 0 &&
                                slots[i].id[len] == '\0'))
                i = (i + 1) & (cap - 1);
        return &slots[i];
}

tg_idslot_t *tg_idset_find(const tg_idset_t *s, const char *id, size_t len)
{
        tg_idslot_t *slot = probe(s->slots, s->cap, id, len);

        return slot->id ? slot : NULL;
}

static int grow(tg_idset_t *s)
{
        size_t cap = s->cap * 2;
        tg_idslot_t *slots = calloc(cap, sizeof(*slots));

        if (!slots)
                return -1;
        for (size_t i = 0; i < s->cap; i++)
                if (s->slots[i].id)
                        *probe(slots, cap, s->slots[i].id,
                               strlen(s->slots[i].id)) = s->slots[i];
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
        return 0;
}

int tg_idset_add(tg_idset_t *s, const char *id)
{
        tg_idslot_t *slot;

        if ((s->n + 1) * 2 > s->cap && grow(s))
                return -1;
        slot = probe(s->slots, s->cap, id, strlen(id));
        if (slot->id)
                return 0;
        slot->id = strdup(id);
        if (!slot->id)
                return -1;
        s->n++;
        return 0;
}

int tg_idset_store(tg_idset_t *s, tg_idslot_t *slot, const void *json,
                   size_t len)
{
        char *copy = malloc(len + 1);

        if (!copy)
                return -1;
        memcpy(copy, json, len);
        copy[len] = '\0';
        if (!slot->json)
                s->found++;
        free(slot->json);
        slot->json = copy;
        slot->len = len;
        return 0;
}
