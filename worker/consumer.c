/*
 * The Kafka consumer on the loop: librdkafka writes a byte to a pipe when
 * its queue turns non-empty; we drain the queue from a uv_poll on that pipe.
 * Offsets are stored (and auto-committed) only up to the oldest unfinished
 * request of each partition; with transactions they are committed in the
 * transaction that carries the messages of the requests below them.
 */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "kafka_auth.h"
#include "log.h"
#include "worker.h"

#define BATCH 256

static void set_props(rd_kafka_conf_t *kc, tg_config_t *c, const char *who,
                      char *errstr, size_t size, int *rc)
{
        size_t wl = strlen(who);

        for (size_t i = 0; i < c->n_x && *rc == 0; i++) {
                const char *k = c->x[i].key;
                if (strncmp(k, "consumer.", 9) == 0 ||
                    strncmp(k, "producer.", 9) == 0) {
                        if (strncmp(k, who, wl) != 0)
                                continue;
                        k += wl + 1;
                }
                if (rd_kafka_conf_set(kc, k, c->x[i].value, errstr, size) !=
                    RD_KAFKA_CONF_OK)
                        *rc = -1;
        }
}

/* librdkafka's own log lines join ours as JSON (it calls from its
 * threads; tg_log only formats and writes one line). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
        tg_log_level_t l = level <= 3   ? TG_LOG_ERROR
                           : level == 4 ? TG_LOG_WARN
                           : level <= 6 ? TG_LOG_INFO
                                        : TG_LOG_DEBUG;

        tg_log(l, "kafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

int tg_kafka_conf_apply(rd_kafka_conf_t *kc, tg_config_t *c, const char *who,
                        char *errstr, size_t size)
{
        tg_kafka_auth_t auth;
        int rc = 0;

        rd_kafka_conf_set_log_cb(kc, log_cb);
        /* --kafka-auth around -X, so -X may adjust it (kafka_auth.h) */
        tg_config_kafka_auth(c, &auth);
        if (tg_kafka_auth_before(kc, &auth, errstr, size))
                return -1;
        set_props(kc, c, who, errstr, size, &rc);
        return rc ? rc : tg_kafka_auth_after(kc, &auth, errstr, size);
}

/* Drops the finished jobs held for a partition that is no longer ours, or
 * is read again: whoever reads their requests next answers them from what
 * the ledger stored. */
static void held_drop(tg_worker_t *w, int32_t p)
{
        tg_job_t *j;

        while ((j = tg_job_list_pop(&w->held[p])))
                tg_job_free(j);
}

static void part_assign(tg_worker_t *w, int32_t p)
{
        if (p < 0 || p >= TG_PARTITIONS_MAX)
                return;
        held_drop(w, p);
        tg_offsets_part_destroy(w->parts[p]);
        w->parts[p] = tg_offsets_part_new(p);
        w->part_gen[p]++;
}

static void part_revoke(tg_worker_t *w, int32_t p)
{
        if (p < 0 || p >= TG_PARTITIONS_MAX)
                return;
        /* In-flight jobs of this partition run on; the ledger makes their
         * redelivery to the new owner harmless. Their offsets are not ours
         * to commit any more. */
        held_drop(w, p);
        tg_offsets_part_destroy(w->parts[p]);
        w->parts[p] = NULL;
        w->part_gen[p]++;
        w->txn_offsets[p] = -1;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        tg_worker_t *w = opaque;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                for (int i = 0; i < parts->cnt; i++)
                        part_assign(w, parts->elems[i].partition);
                rd_kafka_assign(rk, parts);
                /* librdkafka keeps a partition paused by us across a
                 * revoke and a new assignment: resume explicitly, or one
                 * paused while Redis was down would never be read again.
                 * tg_worker_flow pauses again if it must. */
                rd_kafka_resume_partitions(rk, parts);
                w->assigned = parts->cnt;
                w->paused = 0;
                tg_log(TG_LOG_INFO, "assigned %d partitions", parts->cnt);
        } else {
                /* Commit what is done while the partitions are ours. */
                if (w->txn) {
                        tg_txn_commit(w);
                        tg_txn_revoke(w);
                } else
                        rd_kafka_commit(rk, NULL, 0);
                for (int i = 0; i < parts->cnt; i++)
                        part_revoke(w, parts->elems[i].partition);
                rd_kafka_assign(rk, NULL);
                w->assigned = 0;
                tg_log(TG_LOG_INFO, "revoked %d partitions", parts->cnt);
        }
        tg_worker_flow(w);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *op)
{
        tg_worker_t *w = op;

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char buf[512];
                rd_kafka_fatal_error(rk, buf, sizeof(buf));
                tg_log(TG_LOG_ERROR, "fatal Kafka error: %s", buf);
                w->fatal = 1;
                w->stopping = 1;
                return;
        }
        tg_log(TG_LOG_WARN, "kafka: %s", reason);
}

static rd_kafka_conf_t *consumer_conf(tg_worker_t *w, char *errstr, size_t size)
{
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        tg_config_t *c = w->conf;
        const char *props[][2] = {
            {"bootstrap.servers", c->brokers},
            {"group.id", c->group},
            {"enable.auto.offset.store", "false"},
            {"enable.auto.commit", "true"},
            {"auto.commit.interval.ms", "500"},
            {"auto.offset.reset", "earliest"},
            {"isolation.level", "read_committed"},
            {"queued.max.messages.kbytes", "32768"},
            {"partition.assignment.strategy", "range,roundrobin"},
            {"client.id", c->worker_id},
        };

        for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
                if (rd_kafka_conf_set(kc, props[i][0], props[i][1], errstr,
                                      size) != RD_KAFKA_CONF_OK)
                        goto err;
        if (tg_kafka_conf_apply(kc, c, "consumer", errstr, size))
                goto err;
        rd_kafka_conf_set_opaque(kc, w);
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
        rd_kafka_conf_set_error_cb(kc, error_cb);
        return kc;
err:
        rd_kafka_conf_destroy(kc);
        return NULL;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
        tg_worker_t *w = h->data;
        char buf[64];

        while (read(w->cq_pipe[0], buf, sizeof(buf)) > 0)
                ;
        tg_consumer_drain(w);
}

void tg_consumer_drain(tg_worker_t *w)
{
        rd_kafka_message_t *msgs[BATCH];

        /* Stopping early leaves messages queued, and librdkafka signals
         * the pipe only when the queue turns non-empty: remember to come
         * back when there is room. */
        w->drain_pending = 1;
        while (!w->stopping && w->inflight < (size_t)w->conf->max_inflight) {
                size_t room = (size_t)w->conf->max_inflight - w->inflight;
                ssize_t n = rd_kafka_consume_batch_queue(
                    w->cq, 0, msgs, room < BATCH ? room : BATCH);
                if (n <= 0) {
                        w->drain_pending = 0;
                        break;
                }
                for (ssize_t i = 0; i < n; i++)
                        tg_job_start(w, msgs[i]);
        }
        tg_worker_flow(w);
}

int tg_consumer_start(tg_worker_t *w, char *errstr, size_t size)
{
        rd_kafka_conf_t *kc = consumer_conf(w, errstr, size);
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t err;

        if (!kc)
                return -1;
        w->consumer = tg_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, size);
        if (!w->consumer) {
                rd_kafka_conf_destroy(kc);
                return -1;
        }
        rd_kafka_poll_set_consumer(w->consumer);
        w->cq = rd_kafka_queue_get_consumer(w->consumer);
        if (pipe2(w->cq_pipe, O_NONBLOCK | O_CLOEXEC))
                return snprintf(errstr, size, "pipe failed"), -1;
        rd_kafka_queue_io_event_enable(w->cq, w->cq_pipe[1], "1", 1);
        uv_poll_init(w->loop, &w->cq_poll, w->cq_pipe[0]);
        w->cq_poll.data = w;
        uv_poll_start(&w->cq_poll, UV_READABLE, on_readable);
        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, w->t_requests,
                                          RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(w->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err)
                return snprintf(errstr, size, "subscribe: %s",
                                rd_kafka_err2str(err)),
                       -1;
        return 0;
}

void tg_consumer_pause(tg_worker_t *w, int pause)
{
        rd_kafka_topic_partition_list_t *parts = NULL;

        if (w->paused == pause || !w->consumer)
                return;
        if (rd_kafka_assignment(w->consumer, &parts) == 0 && parts) {
                if (pause)
                        rd_kafka_pause_partitions(w->consumer, parts);
                else
                        rd_kafka_resume_partitions(w->consumer, parts);
                rd_kafka_topic_partition_list_destroy(parts);
        }
        w->paused = pause;
}

void tg_consumer_offset_done(tg_worker_t *w, tg_job_t *j)
{
        tg_offsets_part_t *p;
        rd_kafka_topic_partition_list_t *l;
        int64_t commit;

        if (!w->consumer || j->partition < 0 ||
            j->partition >= TG_PARTITIONS_MAX)
                return;
        p = w->parts[j->partition];
        if (!p || w->part_gen[j->partition] != j->part_gen)
                return; /* revoked since: not ours to commit */
        if (tg_offsets_done(p, j->offset, &commit) != 1)
                return;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, w->t_requests, j->partition)
            ->offset = commit;
        rd_kafka_offsets_store(w->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
}

/* Sorted by offset; jobs mostly finish in order, so usually an append. */
static void held_insert(tg_job_list_t *l, tg_job_t *j)
{
        tg_job_t **pp = &l->head;

        if (!l->tail || l->tail->offset < j->offset) {
                tg_job_list_push(l, j);
                return;
        }
        while ((*pp)->offset < j->offset)
                pp = &(*pp)->wait_next;
        j->wait_next = *pp;
        *pp = j;
        l->len++;
}

/* Everything below `commit` finished: produce the held jobs' messages in
 * offset order and move the transaction's offset past them. */
static void release(tg_worker_t *w, int32_t p, int64_t commit)
{
        tg_job_list_t *l = &w->held[p];
        tg_job_t *j;

        while (l->head && l->head->offset < commit) {
                j = tg_job_list_pop(l);
                if (j->emit(j)) {
                        /* Refused: commit nothing from it on, then abort
                         * and read again (or stop if that fails). */
                        tg_txn_offset(w, p, j->offset);
                        w->part_gen[p]++;
                        tg_job_free(j);
                        held_drop(w, p);
                        tg_txn_abort(w, "a message was refused");
                        return;
                }
                tg_job_free(j);
        }
        tg_txn_offset(w, p, commit);
}

/* With transactions, a job's messages go out in the transaction that also
 * commits its offset, so a read_committed reader sees them exactly once:
 * a crash or an abort loses both, and the request, read again, is answered
 * from what the ledger stored. Requests finish out of order, so a finished
 * job is held (still counted in flight) until every request before it on
 * its partition finished; otherwise its events could commit while its
 * offset does not, and its redelivery would publish them twice. A job
 * whose partition was revoked or rewound since it started is dropped: its
 * request is read again. */
void tg_consumer_ready(tg_worker_t *w, tg_job_t *j)
{
        int32_t p = j->partition;
        int64_t commit = -1;
        int rc = -1;

        if (p >= 0 && p < TG_PARTITIONS_MAX && w->parts[p] &&
            w->part_gen[p] == j->part_gen)
                rc = tg_offsets_done(w->parts[p], j->offset, &commit);
        if (rc < 0) {
                tg_job_free(j);
                return;
        }
        held_insert(&w->held[p], j);
        if (rc == 1)
                release(w, p, commit);
}

/* The group's committed offsets of parts (a few tries: the coordinator may
 * just be coming back); -1 when they stay unknown. */
static int committed(tg_worker_t *w, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

        for (int tries = 0; tries < 3; tries++) {
                err = rd_kafka_committed(w->consumer, parts, 10000);
                for (int i = 0; !err && i < parts->cnt; i++)
                        err = parts->elems[i].err;
                if (!err)
                        return 0;
        }
        tg_log(TG_LOG_ERROR, "rewind: committed offsets unknown (%s): stopping",
               rd_kafka_err2str(err));
        return -1;
}

/* After an aborted transaction: read again from the committed offsets. Jobs
 * still in flight from before belong to the old generation and no longer
 * move offsets. */
void tg_consumer_rewind(tg_worker_t *w)
{
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_error_t *e;

        if (rd_kafka_assignment(w->consumer, &parts) || !parts)
                return;
        if (parts->cnt == 0) {
                /* Revoked meanwhile: the new owners read from the
                 * committed offsets anyway (and librdkafka refuses to
                 * seek an empty list). */
                rd_kafka_topic_partition_list_destroy(parts);
                return;
        }
        if (committed(w, parts)) {
                /* Without them a rewind could only guess (from the start:
                 * everything published again); a restart reads from
                 * them instead. */
                w->fatal = w->stopping = 1;
                rd_kafka_topic_partition_list_destroy(parts);
                return;
        }
        for (int i = 0; i < parts->cnt; i++) {
                if (parts->elems[i].offset < 0)
                        parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                part_assign(w, parts->elems[i].partition);
                w->txn_offsets[parts->elems[i].partition] = -1;
        }
        e = rd_kafka_seek_partitions(w->consumer, parts, 10000);
        if (e) {
                tg_log(TG_LOG_ERROR, "rewind: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                w->fatal = w->stopping = 1;
        }
        rd_kafka_topic_partition_list_destroy(parts);
}

void tg_consumer_commit_sync(tg_worker_t *w)
{
        rd_kafka_resp_err_t err;

        if (!w->consumer)
                return;
        if (w->txn) {
                tg_txn_commit(w);
                return;
        }
        err = rd_kafka_commit(w->consumer, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                tg_log(TG_LOG_WARN, "commit: %s", rd_kafka_err2str(err));
}

void tg_consumer_close(tg_worker_t *w)
{
        if (!w->consumer)
                return;
        uv_poll_stop(&w->cq_poll);
        rd_kafka_queue_io_event_enable(w->cq, -1, NULL, 0);
        rd_kafka_consumer_close(w->consumer);
        /* rd_kafka_destroy waits for every message of the handle to be
         * destroyed, forever: jobs left unfinished (a drain that timed
         * out, a fatal stop) still hold theirs. */
        for (tg_job_t *j = w->jobs; j; j = j->all_next) {
                if (j->msg)
                        rd_kafka_message_destroy(j->msg);
                j->msg = NULL;
        }
        rd_kafka_queue_destroy(w->cq);
        rd_kafka_destroy(w->consumer);
        w->consumer = NULL;
        close(w->cq_pipe[0]);
        close(w->cq_pipe[1]);
}
