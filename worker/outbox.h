/*
 * The outbox: where a finished request's messages wait for their turn and
 * its offset is released, in both delivery modes (docs/architecture.md,
 * "The outbox"). It knows no jobs and no Kafka: an entry is a (partition,
 * offset) embedded in the caller's item, and the caller's ops produce the
 * item's messages, take a released offset and free the item.
 *
 *   idempotent     ready() produces at once; once the caller saw every
 *                  delivery report it calls delivered(), and the offset is
 *                  released when everything below it was.
 *   transactional  ready() holds the entry until every request before it
 *                  on its partition is ready too, then produces them in
 *                  offset order and releases the offset into the open
 *                  transaction, so a message never commits without its
 *                  offset nor an offset without its messages.
 *
 * A partition revoked or read again (assign, revoke) drops what it holds
 * and bumps its generation: entries tracked before no longer move offsets
 * and are dropped when they come (their requests are answered by whoever
 * reads them next, from what the ledger stored).
 *
 * Thread rule: the loop thread only, like the worker that owns it.
 */
#ifndef TG_OUTBOX_H
#define TG_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#define TG_OUTBOX_PARTITIONS 4096

typedef struct tg_outbox tg_outbox_t;

/* Embedded in the caller's item; the outbox owns it between track() and
 * the drop op. */
typedef struct tg_outbox_entry {
        struct tg_outbox_entry *next; /* on a partition's held list */
        int32_t partition;
        int64_t offset;
        uint64_t gen; /* the partition's generation when tracked */
        int tracked;
} tg_outbox_entry_t;

typedef struct tg_outbox_ops {
        /* Produces the entry's messages: 0, or -1 when refused. */
        int (*emit)(tg_outbox_entry_t *e, void *opaque);
        /* The outbox is done with the entry: the caller frees its item. */
        void (*drop)(tg_outbox_entry_t *e, void *opaque);
        /* Everything of partition below offset is done: commit it (store
         * it for the consumer, or add it to the transaction). */
        void (*release)(int32_t partition, int64_t offset, void *opaque);
        /* A message was refused: nothing was released from the entry on;
         * in a transaction the caller aborts and reads again. */
        void (*refused)(int32_t partition, const char *why, void *opaque);
} tg_outbox_ops_t;

tg_outbox_t *tg_outbox_new(int transactional, const tg_outbox_ops_t *ops,
                           void *opaque);
/* Drops what is held (the items are given to the drop op). */
void tg_outbox_destroy(tg_outbox_t *o);

/* The partition is (again) ours, read from its committed offset. */
int tg_outbox_assign(tg_outbox_t *o, int32_t partition);
/* The partition is no longer ours. */
void tg_outbox_revoke(tg_outbox_t *o, int32_t partition);
int tg_outbox_owns(const tg_outbox_t *o, int32_t partition);

/* A request started (offsets in the order the partition gives them). */
void tg_outbox_track(tg_outbox_t *o, tg_outbox_entry_t *e, int32_t partition,
                     int64_t offset);
/* Its messages are ready. Returns 0, or -1 when they were refused in the
 * idempotent mode (the caller stops: its offset stays unreleased). The
 * entry may have been dropped on return (transactional mode). */
int tg_outbox_ready(tg_outbox_t *o, tg_outbox_entry_t *e);
/* Idempotent mode: all its messages were delivered; the entry is dropped. */
void tg_outbox_delivered(tg_outbox_t *o, tg_outbox_entry_t *e);

/* Entries held (transactional mode), over all partitions. */
size_t tg_outbox_held(const tg_outbox_t *o);

#endif
