/*
 * A ring of (offset, done) in arrival order. Finishing marks an entry by
 * binary search, then pops finished entries from the head: O(log n) per
 * request, no allocation once the ring has grown to the in-flight size.
 */
#include "offsets.h"

#include <stdlib.h>

typedef struct entry {
        int64_t offset;
        int done;
} entry_t;

struct tg_offsets_part {
        int32_t partition;
        entry_t *ring;
        size_t cap, head, len;
        int64_t commit; /* -1 until something finished */
};

tg_offsets_part_t *tg_offsets_part_new(int32_t partition)
{
        tg_offsets_part_t *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->partition = partition;
        p->commit = -1;
        return p;
}

void tg_offsets_part_destroy(tg_offsets_part_t *p)
{
        if (!p)
                return;
        free(p->ring);
        free(p);
}

static entry_t *at(const tg_offsets_part_t *p, size_t i)
{
        return &p->ring[(p->head + i) % p->cap];
}

static int grow(tg_offsets_part_t *p)
{
        size_t cap = p->cap ? p->cap * 2 : 64;
        entry_t *ring = malloc(cap * sizeof(*ring));

        if (!ring)
                return -1;
        for (size_t i = 0; i < p->len; i++)
                ring[i] = *at(p, i);
        free(p->ring);
        p->ring = ring;
        p->cap = cap;
        p->head = 0;
        return 0;
}

int tg_offsets_track(tg_offsets_part_t *p, int64_t offset)
{
        if (p->len && at(p, p->len - 1)->offset >= offset)
                return -1;
        if (!p->len && p->commit > offset)
                return -1;
        if (p->len == p->cap && grow(p))
                return -1;
        *at(p, p->len) = (entry_t){offset, 0};
        p->len++;
        return 0;
}

static entry_t *find(tg_offsets_part_t *p, int64_t offset)
{
        size_t lo = 0, hi = p->len;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int64_t o = at(p, mid)->offset;
                if (o == offset)
                        return at(p, mid);
                if (o < offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

int tg_offsets_done(tg_offsets_part_t *p, int64_t offset, int64_t *commit)
{
        entry_t *e = find(p, offset);
        int64_t before = p->commit;

        if (!e || e->done)
                return -1;
        e->done = 1;
        while (p->len && at(p, 0)->done) {
                p->commit = at(p, 0)->offset + 1;
                p->head = (p->head + 1) % p->cap;
                p->len--;
        }
        *commit = p->commit;
        return p->commit != before;
}

size_t tg_offsets_pending(const tg_offsets_part_t *p)
{
        return p->len;
}

int64_t tg_offsets_committable(const tg_offsets_part_t *p)
{
        return p->commit;
}

int32_t tg_offsets_partition(const tg_offsets_part_t *p)
{
        return p->partition;
}
