/*
 * Exactly-once outputs: completion, usage (and DLQ, alert, deferred)
 * messages and the consumed offsets go out in one Kafka transaction, so a
 * read_committed consumer sees each request's events once even across
 * crashes. The ledger's idempotency covers the Redis side: a request whose
 * transaction never committed is redelivered, finds its stored result and
 * publishes it again, now for good.
 *
 * Transactions are batched: the first message opens one, a timer commits
 * it every --txn-interval-ms with the offsets below the oldest unfinished
 * request. Commits block the loop for a broker round trip (a few ms), which
 * batching keeps to a small share of the time.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tgtime.h"
#include "worker.h"

#define TXN_TIMEOUT_MS 10000

int tg_txn_init(tg_worker_t *w, char *errstr, size_t size)
{
        rd_kafka_error_t *e = rd_kafka_init_transactions(w->producer, 30000);

        if (e) {
                snprintf(errstr, size, "transactions: %s",
                         rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                return -1;
        }
        for (int p = 0; p < TG_PARTITIONS_MAX; p++)
                w->txn_offsets[p] = -1;
        return 0;
}

/* Every produce happens inside a transaction when they are on. */
int tg_txn_ensure(tg_worker_t *w)
{
        rd_kafka_error_t *e;

        if (w->txn_aborting)
                return -1; /* nothing goes out until the abort is done */
        if (!w->txn || w->txn_open)
                return 0;
        e = rd_kafka_begin_transaction(w->producer);
        if (e) {
                tg_log(TG_LOG_ERROR, "begin transaction: %s",
                       rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                return -1;
        }
        w->txn_open = 1;
        w->txn_started_ms = tg_mono_ms();
        return 0;
}

void tg_txn_offset(tg_worker_t *w, int32_t partition, int64_t offset)
{
        w->txn_offsets[partition] = offset;
        w->txn_dirty = 1;
}

static rd_kafka_topic_partition_list_t *offsets_list(tg_worker_t *w)
{
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(8);

        for (int p = 0; p < TG_PARTITIONS_MAX; p++)
                if (w->txn_offsets[p] >= 0)
                        rd_kafka_topic_partition_list_add(l, w->t_requests, p)
                            ->offset = w->txn_offsets[p];
        return l;
}

static rd_kafka_error_t *send_offsets(tg_worker_t *w)
{
        rd_kafka_consumer_group_metadata_t *meta;
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_error_t *e;

        if (!w->txn_dirty || !w->consumer)
                return NULL;
        meta = rd_kafka_consumer_group_metadata(w->consumer);
        l = offsets_list(w);
        e = rd_kafka_send_offsets_to_transaction(w->producer, l, meta,
                                                 TXN_TIMEOUT_MS);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_consumer_group_metadata_destroy(meta);
        return e;
}

/* Aborting waits for the messages in flight. A retriable failure (they
 * did not finish within the timeout, e.g. just after the broker came back)
 * is tried again from the loop, which serves their delivery reports in
 * between, as librdkafka asks; until then nothing is produced. */
static void try_abort(tg_worker_t *w)
{
        rd_kafka_error_t *e =
            rd_kafka_abort_transaction(w->producer, TXN_TIMEOUT_MS);

        if (e) {
                int again = rd_kafka_error_is_retriable(e);
                tg_log(again ? TG_LOG_WARN : TG_LOG_ERROR, "abort: %s%s",
                       rd_kafka_error_string(e), again ? " (retrying)" : "");
                rd_kafka_error_destroy(e);
                if (!again)
                        w->fatal = w->stopping = 1;
                return;
        }
        w->txn_aborting = 0;
        w->txn_open = 0;
        w->txn_dirty = 0;
        tg_consumer_rewind(w);
}

/* A transaction that cannot commit: abort it and read again from the last
 * committed offsets; the ledger answers the redelivered requests from what
 * it stored. */
static void abort_and_rewind(tg_worker_t *w, const char *cause)
{
        tg_log(TG_LOG_WARN,
               "transaction aborted (%s): rewinding to the "
               "committed offsets",
               cause);
        w->txn_aborting = 1;
        try_abort(w);
}

static int failed(tg_worker_t *w, rd_kafka_error_t *e)
{
        if (rd_kafka_error_is_fatal(e)) {
                tg_log(TG_LOG_ERROR, "fatal transaction error: %s",
                       rd_kafka_error_string(e));
                w->fatal = w->stopping = 1;
        } else if (rd_kafka_error_txn_requires_abort(e)) {
                abort_and_rewind(w, rd_kafka_error_string(e));
        } else {
                /* retriable (e.g. a timeout while the broker is away):
                 * the transaction stays open, the next tick tries again */
                tg_log(TG_LOG_WARN, "transaction commit: %s (retrying)",
                       rd_kafka_error_string(e));
        }
        rd_kafka_error_destroy(e);
        return -1;
}

/* A message the open transaction refused (it failed and waits for an
 * abort, e.g. after AddPartitionsToTxn failed): abort and read again now,
 * as a failed commit would; only a producer that cannot abort stops. */
void tg_txn_abort(tg_worker_t *w, const char *why)
{
        if (w->txn_aborting)
                return; /* under way */
        if (w->txn_open) {
                abort_and_rewind(w, why);
                return;
        }
        tg_log(TG_LOG_ERROR, "transaction: %s, and none is open: stopping",
               why);
        w->fatal = w->stopping = 1;
}

int tg_txn_commit(tg_worker_t *w)
{
        rd_kafka_error_t *e;

        if (!w->txn || !w->txn_open)
                return 0;
        if (w->txn_aborting) {
                try_abort(w);
                return w->txn_aborting ? -1 : 0;
        }
        if ((e = send_offsets(w)))
                return failed(w, e);
        if ((e = rd_kafka_commit_transaction(w->producer, TXN_TIMEOUT_MS)))
                return failed(w, e);
        w->txn_open = 0;
        w->txn_dirty = 0;
        w->txn_commits++;
        return 0;
}

void tg_txn_tick(tg_worker_t *w)
{
        if (w->txn && w->txn_open &&
            (w->txn_aborting ||
             tg_mono_ms() - w->txn_started_ms >= w->conf->txn_interval_ms))
                tg_txn_commit(w);
}
