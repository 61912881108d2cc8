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
 * request.
 *
 * A commit (send_offsets + commit_transaction) or an abort waits for broker
 * round trips, milliseconds to seconds: it runs on a helper thread, never
 * on the loop, which goes on consuming, calling Bedrock and serving the
 * producer's delivery reports (as events: librdkafka's flush inside the
 * commit then waits for the loop to serve them instead of calling our
 * callbacks on the helper thread; see producer.c). librdkafka refuses
 * produce() while a commit runs, so messages sent meanwhile are held here,
 * in order, and produced into the next transaction once the commit is
 * done. The offsets a commit sends are taken when it starts, before any
 * message is held, so they only cover requests whose messages went out in
 * that transaction.
 *
 * Only the loop touches the worker; the helper thread touches nothing but
 * the librdkafka handle and the job below (under its lock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tgtime.h"
#include "worker.h"

#define TXN_TIMEOUT_MS 10000

/* The transaction, as the loop sees it. Every change goes through txn_to,
 * which refuses (and logs) one the table does not allow:
 *
 *   IDLE --begin--> OPEN --commit--> COMMITTING --done--> IDLE
 *                    |                 |   ^ retriable: again
 *                    +----abort----+---+
 *                                  v
 *                              ABORTING --done, rewound--> IDLE
 *   COMMITTING/ABORTING --fatal error--> FATAL (the worker stops)
 */
typedef enum txn_state {
        TXN_IDLE,       /* none begun */
        TXN_OPEN,       /* begun: messages go into it */
        TXN_COMMITTING, /* a commit runs: messages are held */
        TXN_ABORTING,   /* an abort runs or is to retry: nothing goes out */
        TXN_FATAL,      /* the producer cannot go on */
        TXN_STATES
} txn_state_t;

static const char *const txn_names[TXN_STATES] = {"idle", "open", "committing",
                                                  "aborting", "fatal"};

/* allowed[from] has bit `to` set. */
static const unsigned txn_allowed[TXN_STATES] = {
    [TXN_IDLE] = 1u << TXN_OPEN | 1u << TXN_FATAL,
    [TXN_OPEN] = 1u << TXN_COMMITTING | 1u << TXN_ABORTING | 1u << TXN_FATAL,
    [TXN_COMMITTING] = 1u << TXN_IDLE | 1u << TXN_ABORTING | 1u << TXN_FATAL,
    [TXN_ABORTING] = 1u << TXN_IDLE | 1u << TXN_FATAL,
    [TXN_FATAL] = 0,
};

typedef enum bg_state {
        BG_IDLE,    /* no job: the loop may submit one */
        BG_QUEUED,  /* submitted, the thread has not taken it yet */
        BG_RUNNING, /* in librdkafka on the thread */
        BG_DONE,    /* result waiting for the loop */
} bg_state_t;

typedef enum bg_op {
        BG_COMMIT,
        BG_ABORT,
} bg_op_t;

/* A message sent while a commit runs, copied. */
typedef struct held {
        struct held *next;
        rd_kafka_headers_t *hdrs;
        void *key, *value;
        size_t key_len, len;
        char topic[];
} held_t;

struct tg_txn_bg {
        uv_thread_t thread;
        uv_mutex_t lock;
        uv_cond_t cond;   /* the thread waits for a job or quit */
        uv_async_t async; /* wakes the loop when a job is done */
        rd_kafka_t *producer;
        /* under lock */
        bg_state_t state;
        int quit;
        /* the job: set by the loop while IDLE, used by the thread while
         * RUNNING, read back by the loop once DONE */
        bg_op_t op;
        rd_kafka_topic_partition_list_t *offsets; /* NULL once sent */
        rd_kafka_consumer_group_metadata_t *meta;
        rd_kafka_error_t *error;
        /* messages held meanwhile, oldest first (loop only) */
        held_t *head, **tail;
        size_t held; /* on the list now */
        uint64_t held_total;
        /* the transaction (loop only) */
        txn_state_t txn;
        int dirty; /* offsets moved since the last commit */
        int64_t started_ms;
        uint64_t commits;
};

static void txn_to(tg_worker_t *w, txn_state_t to)
{
        struct tg_txn_bg *t = w->txn_bg;

        if (t->txn == to)
                return;
        if (!(txn_allowed[t->txn] & (1u << to))) {
                tg_log(TG_LOG_ERROR, "transaction: %s => %s refused",
                       txn_names[t->txn], txn_names[to]);
                return;
        }
        tg_log(TG_LOG_DEBUG, "transaction: %s => %s", txn_names[t->txn],
               txn_names[to]);
        t->txn = to;
}

static txn_state_t txn_state(const tg_worker_t *w)
{
        return w->txn_bg ? w->txn_bg->txn : TXN_IDLE;
}

size_t tg_txn_held(const tg_worker_t *w)
{
        return w->txn_bg ? w->txn_bg->held : 0;
}

static rd_kafka_error_t *bg_commit(struct tg_txn_bg *bg)
{
        rd_kafka_error_t *e;

        if (bg->offsets) {
                /* Retried with the same offsets and metadata after a
                 * retriable failure, as librdkafka recommends. */
                e = rd_kafka_send_offsets_to_transaction(
                    bg->producer, bg->offsets, bg->meta, TXN_TIMEOUT_MS);
                if (e)
                        return e;
                rd_kafka_topic_partition_list_destroy(bg->offsets);
                rd_kafka_consumer_group_metadata_destroy(bg->meta);
                bg->offsets = NULL;
                bg->meta = NULL;
        }
        /* Resumable after a timeout: calling it again picks it up. */
        return rd_kafka_commit_transaction(bg->producer, TXN_TIMEOUT_MS);
}

static void bg_main(void *arg)
{
        struct tg_txn_bg *bg = arg;
        rd_kafka_error_t *e;

        uv_mutex_lock(&bg->lock);
        for (;;) {
                while (!bg->quit && bg->state != BG_QUEUED)
                        uv_cond_wait(&bg->cond, &bg->lock);
                if (bg->quit)
                        break;
                bg->state = BG_RUNNING;
                uv_mutex_unlock(&bg->lock);
                e = bg->op == BG_COMMIT ? bg_commit(bg)
                                        : rd_kafka_abort_transaction(
                                              bg->producer, TXN_TIMEOUT_MS);
                uv_mutex_lock(&bg->lock);
                bg->error = e;
                bg->state = BG_DONE;
                uv_cond_broadcast(&bg->cond);
                uv_async_send(&bg->async);
        }
        uv_mutex_unlock(&bg->lock);
}

static bg_state_t bg_state(struct tg_txn_bg *bg)
{
        bg_state_t s;

        uv_mutex_lock(&bg->lock);
        s = bg->state;
        uv_mutex_unlock(&bg->lock);
        return s;
}

static void bg_submit(struct tg_txn_bg *bg, bg_op_t op)
{
        uv_mutex_lock(&bg->lock);
        bg->op = op;
        bg->error = NULL;
        bg->state = BG_QUEUED;
        uv_cond_broadcast(&bg->cond);
        uv_mutex_unlock(&bg->lock);
}

static void snapshot_free(struct tg_txn_bg *bg)
{
        if (bg->offsets)
                rd_kafka_topic_partition_list_destroy(bg->offsets);
        if (bg->meta)
                rd_kafka_consumer_group_metadata_destroy(bg->meta);
        bg->offsets = NULL;
        bg->meta = NULL;
}

static void held_drop(tg_worker_t *w)
{
        struct tg_txn_bg *bg = w->txn_bg;
        held_t *h;

        while ((h = bg->head)) {
                bg->head = h->next;
                if (h->hdrs)
                        rd_kafka_headers_destroy(h->hdrs);
                free(h);
        }
        bg->tail = &bg->head;
        bg->held = 0;
}

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

static void on_bg_done(uv_async_t *a);

static void bg_free(uv_handle_t *h)
{
        struct tg_txn_bg *bg = h->data;

        uv_cond_destroy(&bg->cond);
        uv_mutex_destroy(&bg->lock);
        free(bg);
}

int tg_txn_start(tg_worker_t *w, char *errstr, size_t size)
{
        struct tg_txn_bg *bg = calloc(1, sizeof(*bg));

        if (!bg || uv_mutex_init(&bg->lock))
                goto err;
        if (uv_cond_init(&bg->cond)) {
                uv_mutex_destroy(&bg->lock);
                goto err;
        }
        bg->producer = w->producer;
        bg->tail = &bg->head;
        uv_async_init(w->loop, &bg->async, on_bg_done);
        bg->async.data = w;
        if (uv_thread_create(&bg->thread, bg_main, bg)) {
                bg->async.data = bg;
                uv_close((uv_handle_t *)&bg->async, bg_free);
                bg = NULL;
                goto err;
        }
        w->txn_bg = bg;
        return 0;
err:
        free(bg);
        snprintf(errstr, size, "transactions: cannot start their thread");
        return -1;
}

/* Messages are produced in a transaction when they are on: returns 0 to
 * produce now, 1 to hold the message until the running commit is done, -1
 * to refuse it (an abort is under way, or no transaction can begin). */
int tg_txn_ensure(tg_worker_t *w)
{
        rd_kafka_error_t *e;

        if (!w->txn)
                return 0;
        switch (txn_state(w)) {
        case TXN_ABORTING: /* nothing goes out until the abort is done */
        case TXN_FATAL:
                return -1;
        case TXN_COMMITTING:
                return 1;
        case TXN_OPEN:
                return 0;
        default:
                break;
        }
        e = rd_kafka_begin_transaction(w->producer);
        if (e) {
                tg_log(TG_LOG_ERROR, "begin transaction: %s",
                       rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                return -1;
        }
        txn_to(w, TXN_OPEN);
        w->txn_bg->started_ms = tg_mono_ms();
        return 0;
}

/* hdrs is consumed. Holding is bounded by flow control: tg_worker_flow
 * counts held messages as in flight and pauses consumption. */
int tg_txn_hold(tg_worker_t *w, const char *topic, const void *key,
                size_t key_len, const void *value, size_t len,
                rd_kafka_headers_t *hdrs)
{
        struct tg_txn_bg *bg = w->txn_bg;
        size_t tl = strlen(topic) + 1;
        held_t *h = malloc(sizeof(*h) + tl + key_len + len + 1);

        if (!h) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                return -1;
        }
        memcpy(h->topic, topic, tl);
        h->key = key ? h->topic + tl : NULL;
        h->key_len = key ? key_len : 0;
        if (key)
                memcpy(h->key, key, key_len);
        h->value = h->topic + tl + h->key_len;
        h->len = len;
        if (len)
                memcpy(h->value, value, len);
        h->hdrs = hdrs;
        h->next = NULL;
        *bg->tail = h;
        bg->tail = &h->next;
        bg->held++;
        bg->held_total++;
        return 0;
}

void tg_txn_offset(tg_worker_t *w, int32_t partition, int64_t offset)
{
        w->txn_offsets[partition] = offset;
        if (w->txn_bg)
                w->txn_bg->dirty = 1;
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

/* Starts committing the open transaction: its offsets are the ones of now,
 * which cover exactly the requests whose messages were produced in it;
 * from here on messages are held for the next one. */
static void commit_start(tg_worker_t *w)
{
        struct tg_txn_bg *bg = w->txn_bg;

        if (bg->dirty && w->consumer) {
                bg->meta = rd_kafka_consumer_group_metadata(w->consumer);
                bg->offsets = offsets_list(w);
        }
        bg->dirty = 0;
        txn_to(w, TXN_COMMITTING);
        bg_submit(bg, BG_COMMIT);
}

static void abort_start(tg_worker_t *w)
{
        bg_submit(w->txn_bg, BG_ABORT);
}

/* A transaction that cannot commit: abort it and read again from the last
 * committed offsets; the ledger answers the redelivered requests from what
 * it stored, including those whose messages were held (their offsets were
 * in no commit). */
static void abort_and_rewind(tg_worker_t *w, const char *cause)
{
        tg_log(TG_LOG_WARN,
               "transaction aborted (%s): rewinding to the "
               "committed offsets",
               cause);
        txn_to(w, TXN_ABORTING);
        held_drop(w);
        if (bg_state(w->txn_bg) == BG_IDLE) {
                snapshot_free(w->txn_bg);
                abort_start(w);
        }
        /* else the running job (which may be reading the snapshot) ends
         * first; commit_done frees the snapshot and starts the abort */
}

static void rewound(tg_worker_t *w)
{
        txn_to(w, TXN_IDLE);
        w->txn_bg->dirty = 0;
        tg_consumer_rewind(w);
}

/* Aborting waits for the messages in flight. A retriable failure (they
 * did not finish within the timeout, e.g. just after the broker came back)
 * is tried again at the next tick; the loop serves their delivery reports
 * meanwhile, as librdkafka asks. Until then nothing is produced. */
static void abort_done(tg_worker_t *w, rd_kafka_error_t *e)
{
        int again;

        if (!e) {
                rewound(w);
                return;
        }
        again = rd_kafka_error_is_retriable(e);
        if (again)
                tg_log(TG_LOG_WARN, "abort: %s (retrying)",
                       rd_kafka_error_string(e));
        else {
                txn_to(w, TXN_FATAL);
                tg_worker_fatal(w, "abort: %s", rd_kafka_error_string(e));
        }
        rd_kafka_error_destroy(e);
}

/* The held messages, in order, into a new transaction. */
static void held_produce(tg_worker_t *w)
{
        struct tg_txn_bg *bg = w->txn_bg;
        held_t *h;
        int rc;

        while ((h = bg->head)) {
                bg->head = h->next;
                if (!bg->head)
                        bg->tail = &bg->head;
                bg->held--;
                rc = tg_producer_send(w, h->topic, h->key, h->key_len, h->value,
                                      h->len, NULL, h->hdrs);
                free(h);
                if (rc) {
                        /* As when release() meets a refusal: abort, and the
                         * rewind reads their requests again. */
                        held_drop(w);
                        tg_txn_abort(w, "a held message was refused");
                        return;
                }
        }
}

static void commit_failed(tg_worker_t *w, rd_kafka_error_t *e)
{
        if (rd_kafka_error_is_fatal(e)) {
                txn_to(w, TXN_FATAL);
                tg_worker_fatal(w, "fatal transaction error: %s",
                                rd_kafka_error_string(e));
                snapshot_free(w->txn_bg);
                held_drop(w);
        } else if (rd_kafka_error_txn_requires_abort(e)) {
                abort_and_rewind(w, rd_kafka_error_string(e));
        } else {
                /* retriable (e.g. a timeout while the broker is away):
                 * still committing, the next tick tries again; messages
                 * go on being held */
                tg_log(TG_LOG_WARN, "transaction commit: %s (retrying)",
                       rd_kafka_error_string(e));
        }
        rd_kafka_error_destroy(e);
}

static int commit_done(tg_worker_t *w, rd_kafka_error_t *e)
{
        if (txn_state(w) == TXN_ABORTING) {
                /* tg_txn_abort came while it ran: the held messages were
                 * dropped, so read again from what is committed now. */
                snapshot_free(w->txn_bg);
                if (e) {
                        rd_kafka_error_destroy(e);
                        abort_start(w);
                        return -1;
                }
                w->txn_bg->commits++;
                rewound(w);
                return 0;
        }
        if (e) {
                commit_failed(w, e);
                return -1;
        }
        txn_to(w, TXN_IDLE);
        w->txn_bg->commits++;
        held_produce(w);
        return 0;
}

/* Takes the helper's result, if it has one, and acts on it on the loop.
 * Returns 1 when there was none, else 0 (done) or -1 (failed). */
static int bg_collect(tg_worker_t *w)
{
        struct tg_txn_bg *bg = w->txn_bg;
        rd_kafka_error_t *e;
        bg_op_t op;
        int rc;

        uv_mutex_lock(&bg->lock);
        if (bg->state != BG_DONE) {
                uv_mutex_unlock(&bg->lock);
                return 1;
        }
        e = bg->error;
        op = bg->op;
        bg->error = NULL;
        bg->state = BG_IDLE;
        uv_mutex_unlock(&bg->lock);
        if (op == BG_ABORT) {
                rc = e ? -1 : 0;
                abort_done(w, e);
        } else {
                rc = commit_done(w, e);
        }
        tg_worker_flow(w);
        return rc;
}

static void on_bg_done(uv_async_t *a)
{
        bg_collect(a->data);
}

/* Waits for the running job, serving delivery reports meanwhile (the
 * commit's flush waits for them), then acts on its result. */
static int bg_wait(tg_worker_t *w)
{
        bg_state_t s;

        while ((s = bg_state(w->txn_bg)) == BG_QUEUED || s == BG_RUNNING)
                tg_producer_serve(w, 10);
        return bg_collect(w);
}

/* A message the open transaction refused (it failed and waits for an
 * abort, e.g. after AddPartitionsToTxn failed): abort and read again now,
 * as a failed commit would; only a producer that cannot abort stops. */
void tg_txn_abort(tg_worker_t *w, const char *why)
{
        switch (txn_state(w)) {
        case TXN_ABORTING: /* under way */
        case TXN_FATAL:
                return;
        case TXN_OPEN:
        case TXN_COMMITTING:
                abort_and_rewind(w, why);
                return;
        default:
                tg_worker_fatal(w, "transaction: %s, and none is open", why);
        }
}

/* Starts what is due: an abort to retry, a commit to retry or a new one. */
static void txn_next(tg_worker_t *w, int now)
{
        switch (txn_state(w)) {
        case TXN_ABORTING:
                abort_start(w);
                break;
        case TXN_COMMITTING:
                bg_submit(w->txn_bg, BG_COMMIT); /* same offsets, if any */
                break;
        case TXN_OPEN:
                if (now || tg_mono_ms() - w->txn_bg->started_ms >=
                               w->conf->txn_interval_ms)
                        commit_start(w);
                break;
        default:
                break;
        }
}

/* Commits now and waits (a rebalance, the end): the commit already
 * running, if any, then the transaction its held messages went into, and
 * so on, for a few rounds (each is bounded by TXN_TIMEOUT_MS). Returns 0
 * when nothing is left open, -1 otherwise. */
int tg_txn_commit(tg_worker_t *w)
{
        if (!w->txn || !w->txn_bg)
                return 0;
        for (int round = 0; round < 4; round++) {
                bg_wait(w);
                if (txn_state(w) == TXN_IDLE)
                        return 0;
                if (txn_state(w) == TXN_FATAL)
                        return -1;
                if (bg_state(w->txn_bg) == BG_IDLE)
                        txn_next(w, 1);
        }
        bg_wait(w);
        return txn_state(w) == TXN_IDLE ? 0 : -1;
}

/* The partitions go (eager rebalance: all of them), after tg_txn_commit
 * had its chance. Whatever it could not commit must not commit later:
 * the offsets of its requests are no longer ours, so its messages would
 * commit without them, and the new owner, reading those requests again,
 * would publish them a second time. Abort it (held messages are dropped);
 * the requests are answered by whoever reads them next. */
void tg_txn_revoke(tg_worker_t *w)
{
        if (!w->txn || !w->txn_bg)
                return;
        if (txn_state(w) == TXN_OPEN || txn_state(w) == TXN_COMMITTING ||
            w->txn_bg->held)
                abort_and_rewind(w, "partitions revoked before the "
                                    "transaction committed");
}

void tg_txn_tick(tg_worker_t *w)
{
        if (!w->txn || !w->txn_bg)
                return;
        bg_collect(w);
        if (bg_state(w->txn_bg) == BG_IDLE)
                txn_next(w, 0);
}

/* After the last commit: the thread ends, what it held is dropped (its
 * requests were not committed and will be read again). */
void tg_txn_stop(tg_worker_t *w)
{
        struct tg_txn_bg *bg = w->txn_bg;

        if (!bg)
                return;
        bg_wait(w);
        uv_mutex_lock(&bg->lock);
        bg->quit = 1;
        uv_cond_broadcast(&bg->cond);
        uv_mutex_unlock(&bg->lock);
        uv_thread_join(&bg->thread);
        tg_log(TG_LOG_INFO,
               "transactions: %llu committed, %llu messages held while one "
               "was committing",
               (unsigned long long)bg->commits,
               (unsigned long long)bg->held_total);
        snapshot_free(bg);
        held_drop(w);
        w->txn_bg = NULL;
        bg->async.data = bg;
        uv_close((uv_handle_t *)&bg->async, bg_free);
}
