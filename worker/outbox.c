/*
 * See outbox.h. Per partition: the offset tracker (offsets.c: the oldest
 * unfinished request bounds the commit), a generation, and the entries
 * held for order, sorted by offset (requests mostly finish in order, so an
 * insert is usually an append).
 */
#include "outbox.h"

#include <stdlib.h>

#include "offsets.h"

typedef struct part {
        tg_offsets_part_t *offsets; /* NULL: not ours */
        uint64_t gen;
        tg_outbox_entry_t *head, *tail;
        size_t held;
} part_t;

struct tg_outbox {
        int txn;
        tg_outbox_ops_t ops;
        void *opaque;
        size_t held;
        part_t parts[TG_OUTBOX_PARTITIONS];
};

tg_outbox_t *tg_outbox_new(int transactional, const tg_outbox_ops_t *ops,
                           void *opaque)
{
        tg_outbox_t *o = calloc(1, sizeof(*o));

        if (!o)
                return NULL;
        o->txn = transactional;
        o->ops = *ops;
        o->opaque = opaque;
        return o;
}

static part_t *part(tg_outbox_t *o, int32_t p)
{
        return p >= 0 && p < TG_OUTBOX_PARTITIONS ? &o->parts[p] : NULL;
}

static void drop(tg_outbox_t *o, tg_outbox_entry_t *e)
{
        e->tracked = 0;
        o->ops.drop(e, o->opaque);
}

static void held_drop(tg_outbox_t *o, part_t *pt)
{
        tg_outbox_entry_t *e;

        while ((e = pt->head)) {
                pt->head = e->next;
                o->held--;
                drop(o, e);
        }
        pt->tail = NULL;
        pt->held = 0;
}

void tg_outbox_destroy(tg_outbox_t *o)
{
        if (!o)
                return;
        for (int p = 0; p < TG_OUTBOX_PARTITIONS; p++) {
                held_drop(o, &o->parts[p]);
                tg_offsets_part_destroy(o->parts[p].offsets);
        }
        free(o);
}

int tg_outbox_assign(tg_outbox_t *o, int32_t p)
{
        part_t *pt = part(o, p);

        if (!pt)
                return -1;
        held_drop(o, pt);
        tg_offsets_part_destroy(pt->offsets);
        pt->offsets = tg_offsets_part_new(p);
        pt->gen++;
        return pt->offsets ? 0 : -1;
}

void tg_outbox_revoke(tg_outbox_t *o, int32_t p)
{
        part_t *pt = part(o, p);

        if (!pt)
                return;
        held_drop(o, pt);
        tg_offsets_part_destroy(pt->offsets);
        pt->offsets = NULL;
        pt->gen++;
}

int tg_outbox_owns(const tg_outbox_t *o, int32_t p)
{
        return p >= 0 && p < TG_OUTBOX_PARTITIONS && o->parts[p].offsets;
}

void tg_outbox_track(tg_outbox_t *o, tg_outbox_entry_t *e, int32_t p,
                     int64_t offset)
{
        part_t *pt = part(o, p);

        e->next = NULL;
        e->partition = p;
        e->offset = offset;
        e->tracked =
            pt && pt->offsets && tg_offsets_track(pt->offsets, offset) == 0;
        e->gen = pt ? pt->gen : 0;
}

/* The entry's offset done: 1 and *commit when the committable offset
 * moved, 0 when not, -1 when the entry is not the partition's any more. */
static int done(tg_outbox_t *o, tg_outbox_entry_t *e, int64_t *commit)
{
        part_t *pt = part(o, e->partition);

        if (!e->tracked || !pt || !pt->offsets || pt->gen != e->gen)
                return -1;
        return tg_offsets_done(pt->offsets, e->offset, commit);
}

static void held_insert(part_t *pt, tg_outbox_entry_t *e)
{
        tg_outbox_entry_t **pp = &pt->head;

        e->next = NULL;
        if (!pt->tail || pt->tail->offset < e->offset) {
                if (pt->tail)
                        pt->tail->next = e;
                else
                        pt->head = e;
                pt->tail = e;
        } else {
                while ((*pp)->offset < e->offset)
                        pp = &(*pp)->next;
                e->next = *pp;
                *pp = e;
        }
        pt->held++;
}

static tg_outbox_entry_t *held_pop(tg_outbox_t *o, part_t *pt)
{
        tg_outbox_entry_t *e = pt->head;

        pt->head = e->next;
        if (!pt->head)
                pt->tail = NULL;
        pt->held--;
        o->held--;
        return e;
}

/* Everything below commit is ready: produce the held entries in offset
 * order, then release the offset. A refusal releases nothing from the
 * refused entry on and reads the partition again (new generation). */
static void release_held(tg_outbox_t *o, part_t *pt, int32_t p, int64_t commit)
{
        while (pt->head && pt->head->offset < commit) {
                tg_outbox_entry_t *e = held_pop(o, pt);
                if (o->ops.emit(e, o->opaque)) {
                        o->ops.release(p, e->offset, o->opaque);
                        pt->gen++;
                        drop(o, e);
                        held_drop(o, pt);
                        o->ops.refused(p, "a message was refused", o->opaque);
                        return;
                }
                drop(o, e);
        }
        o->ops.release(p, commit, o->opaque);
}

int tg_outbox_ready(tg_outbox_t *o, tg_outbox_entry_t *e)
{
        part_t *pt = part(o, e->partition);
        int64_t commit = -1;
        int rc;

        if (!o->txn) {
                if (o->ops.emit(e, o->opaque) == 0)
                        return 0;
                o->ops.refused(e->partition, "produce refused", o->opaque);
                return -1;
        }
        rc = done(o, e, &commit);
        if (rc < 0) {
                drop(o, e);
                return 0;
        }
        held_insert(pt, e);
        o->held++;
        if (rc == 1)
                release_held(o, pt, e->partition, commit);
        return 0;
}

void tg_outbox_delivered(tg_outbox_t *o, tg_outbox_entry_t *e)
{
        int64_t commit;

        if (done(o, e, &commit) == 1)
                o->ops.release(e->partition, commit, o->opaque);
        drop(o, e);
}

size_t tg_outbox_held(const tg_outbox_t *o)
{
        return o->held;
}
