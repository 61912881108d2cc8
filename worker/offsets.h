/*
 * Per-partition offset tracking: requests finish out of order, but the
 * committed offset may only move to the oldest request not yet finished, so
 * a crash never skips one.
 */
#ifndef TG_OFFSETS_H
#define TG_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

typedef struct tg_offsets_part tg_offsets_part_t;

/* Creates the tracker of one partition. */
tg_offsets_part_t *tg_offsets_part_new(int32_t partition);
void tg_offsets_part_destroy(tg_offsets_part_t *p);

/* Records that `offset` started. Offsets must be given in increasing order
 * (as a partition delivers them); a lower one is ignored and returns -1. */
int tg_offsets_track(tg_offsets_part_t *p, int64_t offset);

/* Marks `offset` finished. Returns 1 and sets *commit to the offset to
 * commit (the next one to consume after everything finished below it) when
 * that moved forward, 0 when it did not, -1 when offset is not tracked. */
int tg_offsets_done(tg_offsets_part_t *p, int64_t offset, int64_t *commit);

/* Requests started and not finished. */
size_t tg_offsets_pending(const tg_offsets_part_t *p);

/* The offset safe to commit now, or -1 when nothing finished yet. */
int64_t tg_offsets_committable(const tg_offsets_part_t *p);

int32_t tg_offsets_partition(const tg_offsets_part_t *p);

#endif
