/*
 * The Kafka consumer on the loop: librdkafka writes a byte to a pipe when
 * its queue turns non-empty; we drain the queue from a uv_poll on that pipe.
 * Offsets are stored (and auto-committed) only up to the oldest unfinished
 * request of each partition; with transactions they are committed in the
 * transaction that carries the messages of the requests below them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "kafka_auth.h"
#include "log.h"
#include "tgtime.h"
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

/* A partition (again) ours, read from its committed offset; the outbox
 * drops what it held of it (whoever reads those requests next answers them
 * from what the ledger stored). */
static void part_assign(tg_worker_t *w, int32_t p)
{
        if (p < 0 || p >= TG_PARTITIONS_MAX)
                return;
        tg_outbox_assign(w->outbox, p);
}

static void part_revoke(tg_worker_t *w, int32_t p)
{
        if (p < 0 || p >= TG_PARTITIONS_MAX)
                return;
        /* In-flight jobs of this partition run on; the ledger makes their
         * redelivery to the new owner harmless. Their offsets are not ours
         * to commit any more. */
        tg_outbox_revoke(w->outbox, p);
        w->txn_offsets[p] = -1;
}

/* Before partitions go: commit what is done while they are ours. Lost
 * partitions (the session expired: someone else may own them already)
 * commit nothing; with transactions, what could not commit is aborted
 * (tg_txn_revoke), so no message commits without its offset. */
static void revoke_commit(tg_worker_t *w, int lost)
{
        if (w->txn) {
                if (!lost)
                        tg_txn_commit(w);
                tg_txn_revoke(w);
        } else if (!lost) {
                rd_kafka_commit(w->consumer, NULL, 0);
        }
}

/* Eager protocol (range, roundrobin): every rebalance revokes all
 * partitions, then assigns the new set whole. */
static void rebalance_eager(tg_worker_t *w, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_t *rk = w->consumer;

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
                w->ever_assigned = 1;
                w->paused = 0;
                tg_log(TG_LOG_INFO, "assigned %d partitions", parts->cnt);
                return;
        }
        revoke_commit(w, rd_kafka_assignment_lost(rk));
        for (int i = 0; i < parts->cnt; i++)
                part_revoke(w, parts->elems[i].partition);
        rd_kafka_assign(rk, NULL);
        w->assigned = 0;
        tg_log(TG_LOG_INFO, "revoked %d partitions", parts->cnt);
}

static void incremental_error(tg_worker_t *w, const char *what,
                              rd_kafka_error_t *e)
{
        if (!e)
                return;
        tg_worker_fatal(w, "%s: %s", what, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
}

static int is_static(tg_worker_t *w)
{
        char v[256];
        size_t n = sizeof(v);

        return rd_kafka_conf_get(rd_kafka_conf(w->consumer),
                                 "group.instance.id", v,
                                 &n) == RD_KAFKA_CONF_OK &&
               v[0];
}

/* Cooperative protocol (cooperative-sticky): only the partitions that move
 * are revoked; the others keep being read and their requests keep going
 * (docs/architecture.md, "Rebalances"; the outbox drops what the moved
 * ones held). The log line names the partitions
 * held afterwards, as the eager one does. */
static void rebalance_cooperative(tg_worker_t *w, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_t *rk = w->consumer;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                for (int i = 0; i < parts->cnt; i++)
                        part_assign(w, parts->elems[i].partition);
                incremental_error(w, "incremental assign",
                                  rd_kafka_incremental_assign(rk, parts));
                /* The same paused flag as above, for these alone; they
                 * join the others' state (paused while Redis is away). */
                if (parts->cnt) {
                        rd_kafka_resume_partitions(rk, parts);
                        if (w->paused)
                                rd_kafka_pause_partitions(rk, parts);
                }
                w->assigned += parts->cnt;
                w->ever_assigned = 1;
                tg_log(TG_LOG_INFO, "assigned %d partitions (+%d, cooperative)",
                       w->assigned, parts->cnt);
                return;
        }
        /* What is done commits while the partitions are ours; the work of
         * the ones that go is dropped as it finishes (part_revoke). */
        revoke_commit(w, rd_kafka_assignment_lost(rk));
        for (int i = 0; i < parts->cnt; i++)
                part_revoke(w, parts->elems[i].partition);
        incremental_error(w, "incremental unassign",
                          rd_kafka_incremental_unassign(rk, parts));
        w->assigned -= parts->cnt;
        if (w->assigned < 0)
                w->assigned = 0;
        tg_log(TG_LOG_INFO, "assigned %d partitions (-%d, cooperative)",
               w->assigned, parts->cnt);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        tg_worker_t *w = opaque;
        const char *proto = rd_kafka_rebalance_protocol(rk);

        if (proto && strcmp(proto, "COOPERATIVE") == 0)
                rebalance_cooperative(w, err, parts);
        else
                rebalance_eager(w, err, parts);
        tg_worker_flow(w);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *op)
{
        tg_worker_t *w = op;

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char buf[512];
                rd_kafka_fatal_error(rk, buf, sizeof(buf));
                tg_worker_fatal(w, "fatal Kafka error: %s", buf);
                return;
        }
        tg_log(TG_LOG_WARN, "kafka: %s", reason);
        /* The broker refused us, or no MSK IAM token could be made: not
         * ready until a broker is up again (readiness.c). */
        if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
                tg_ready_kafka_auth_error(w);
}

/* librdkafka's statistics (statistics.interval.ms): readiness learns from
 * them that a broker is up again after an authentication error. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
        (void)rk;
        tg_ready_kafka_stats(opaque, json, len);
        return 0; /* librdkafka frees json */
}

/* Statistics turned off with -X: readiness cannot see a broker up again,
 * so it leaves Kafka authentication out (readiness.c). */
static void stats_on(tg_worker_t *w, rd_kafka_conf_t *kc)
{
        char v[32];
        size_t n = sizeof(v);

        if (rd_kafka_conf_get(kc, "statistics.interval.ms", v, &n) ==
                RD_KAFKA_CONF_OK &&
            strtol(v, NULL, 10) <= 0) {
                w->kafka_up_ms = INT64_MAX;
                tg_log(TG_LOG_WARN,
                       "statistics.interval.ms=%s: /readyz "
                       "does not show Kafka authentication "
                       "failures",
                       v);
        }
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
            {"partition.assignment.strategy", "cooperative-sticky"},
            {"client.id", c->worker_id},
            /* readiness.c: a broker up again after an auth error */
            {"statistics.interval.ms", "1000"},
        };

        for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
                if (rd_kafka_conf_set(kc, props[i][0], props[i][1], errstr,
                                      size) != RD_KAFKA_CONF_OK)
                        goto err;
        if (tg_kafka_conf_apply(kc, c, "consumer", errstr, size))
                goto err;
        if (tg_assignment_conf(kc, c, &w->cooperative, errstr, size))
                goto err;
        stats_on(w, kc);
        rd_kafka_conf_set_opaque(kc, w);
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
        rd_kafka_conf_set_error_cb(kc, error_cb);
        rd_kafka_conf_set_stats_cb(kc, stats_cb);
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
                        w->cbs.message(w, msgs[i]);
        }
        tg_worker_flow(w);
}

static rd_kafka_resp_err_t subscribe(tg_worker_t *w)
{
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t err;

        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, w->t_requests,
                                          RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(w->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        return err;
}

int tg_consumer_start(tg_worker_t *w, char *errstr, size_t size)
{
        rd_kafka_conf_t *kc = consumer_conf(w, errstr, size);
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
        if ((err = subscribe(w)))
                return snprintf(errstr, size, "subscribe: %s",
                                rd_kafka_err2str(err)),
                       -1;
        return 0;
}

/* A static member restarted in a stable group gets its old assignment
 * without a rebalance (KIP-345). With cooperative-sticky that leaves a
 * gap: when the member it replaces had just revoked partitions (the first
 * of the two cooperative rounds) and died before rejoining, the second
 * round never comes and those partitions stay without an owner until some
 * other rebalance (seen after a broker kill -9: docs/operations.md, "Pod
 * churn"). The members meant to receive them hold nothing meanwhile. So a
 * static member that has held no partition for twice session.timeout.ms
 * leaves and rejoins (librdkafka 2.0.2 sends no JoinGroup for subscribing
 * again to the same topics; unsubscribing sends a LeaveGroup, and that
 * rebalances): it gives up nothing, the others keep theirs (sticky,
 * incremental), the leader assigns what is unowned. A member that is idle
 * because the group has more members than partitions repeats it with the
 * wait doubled each time, up to 10 minutes: a cheap rebalance. */
#define IDLE_WAIT_MAX_MS (10 * 60 * 1000)

static int64_t session_timeout_ms(tg_worker_t *w)
{
        char v[32];
        size_t n = sizeof(v);

        if (rd_kafka_conf_get(rd_kafka_conf(w->consumer), "session.timeout.ms",
                              v, &n) != RD_KAFKA_CONF_OK)
                return 45000;
        return strtoll(v, NULL, 10);
}

void tg_consumer_tick(tg_worker_t *w)
{
        int64_t now = tg_mono_ms();
        rd_kafka_resp_err_t err;

        if (!w->consumer || w->stopping || !w->cooperative ||
            !w->ever_assigned || w->assigned > 0 || !is_static(w)) {
                w->idle_since_ms = 0;
                if (w->assigned > 0)
                        w->idle_wait_ms = 0;
                return;
        }
        if (!w->idle_wait_ms)
                w->idle_wait_ms = 2 * session_timeout_ms(w);
        if (!w->idle_since_ms)
                w->idle_since_ms = now;
        if (now - w->idle_since_ms < w->idle_wait_ms)
                return;
        tg_log(TG_LOG_INFO,
               "static member: no partition for %lld ms; leaving and "
               "rejoining the group so that partitions a replaced member "
               "revoked get an owner",
               (long long)(now - w->idle_since_ms));
        rd_kafka_unsubscribe(w->consumer);
        if ((err = subscribe(w)))
                tg_worker_fatal(w, "subscribe again: %s",
                                rd_kafka_err2str(err));
        w->idle_since_ms = now;
        w->idle_wait_ms = w->idle_wait_ms * 2 > IDLE_WAIT_MAX_MS
                              ? IDLE_WAIT_MAX_MS
                              : w->idle_wait_ms * 2;
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

void tg_consumer_store(tg_worker_t *w, int32_t partition, int64_t offset)
{
        rd_kafka_topic_partition_list_t *l;

        if (!w->consumer)
                return;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, w->t_requests, partition)->offset =
            offset;
        rd_kafka_offsets_store(w->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
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
        tg_worker_fatal(w, "rewind: committed offsets unknown (%s)",
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
                 * them instead (committed() said why). */
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
                tg_worker_fatal(w, "rewind: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
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

/* librdkafka before 2.3.0 aborts in rd_kafka_destroy when a
 * cooperative-sticky member joined but never got its first assignment
 * (confluentinc/librdkafka#4312, fixed by #4381): a SIGTERM during a new
 * worker's first rebalance. Waiting for that assignment is no cure: a
 * member that left without a LeaveGroup (librdkafka 2.0.2 sends none when
 * it closes between a failed SyncGroup and its rejoin) holds the group's
 * rebalance for session.timeout.ms, 45 s. Such a consumer is closed (it
 * leaves the group) but not destroyed: it holds no message and no offset,
 * and the process exits without running destructors
 * (tg_consumer_abandoned, main.c). */
#define STICKY_FIX_VERSION 0x020300ff

static int abandoned;

int tg_consumer_abandoned(void)
{
        return abandoned;
}

static int destroy_would_abort(const tg_worker_t *w)
{
        return w->cooperative && !w->ever_assigned &&
               rd_kafka_version() < STICKY_FIX_VERSION;
}

/* Unsubscribing revokes (served here, by polling) and, once the
 * partitions are released, sends the LeaveGroup; rd_kafka_consumer_close
 * right away would end the group first and a static member would not
 * leave. Waits for the revocation, then LEAVE_GRACE_MS for the request. */
#define LEAVE_WAIT_MS  5000
#define LEAVE_GRACE_MS 300

static void leave_group(tg_worker_t *w)
{
        int64_t end = tg_mono_ms() + LEAVE_WAIT_MS, grace = 0;
        rd_kafka_topic_partition_list_t *a = NULL;
        rd_kafka_message_t *m;

        rd_kafka_unsubscribe(w->consumer);
        while (tg_mono_ms() < end && (!grace || tg_mono_ms() < grace)) {
                if ((m = rd_kafka_consumer_poll(w->consumer, 50)))
                        rd_kafka_message_destroy(m);
                if (!grace && rd_kafka_assignment(w->consumer, &a) == 0 &&
                    a->cnt == 0)
                        grace = tg_mono_ms() + LEAVE_GRACE_MS;
                if (a)
                        rd_kafka_topic_partition_list_destroy(a);
                a = NULL;
        }
}

void tg_consumer_close(tg_worker_t *w)
{
        if (!w->consumer)
                return;
        uv_poll_stop(&w->cq_poll);
        rd_kafka_queue_io_event_enable(w->cq, -1, NULL, 0);
        /* A static member's close does not leave the group, so that a
         * restart takes its partitions back; one that drains (SIGTERM: a
         * rolling update, a scale-down) leaves instead, or its partitions
         * would wait session.timeout.ms for it. A crash or a fatal stop
         * keeps the static seat. docs/operations.md, "Pod churn". */
        if (!w->fatal && is_static(w))
                leave_group(w);
        rd_kafka_consumer_close(w->consumer);
        if (destroy_would_abort(w)) {
                tg_log(TG_LOG_WARN,
                       "consumer closed before its first assignment: not "
                       "destroyed (librdkafka %s < 2.3 would abort, #4312)",
                       rd_kafka_version_str());
                abandoned = 1;
                w->consumer = NULL;
                w->cq = NULL;
                close(w->cq_pipe[0]);
                close(w->cq_pipe[1]);
                return;
        }
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
