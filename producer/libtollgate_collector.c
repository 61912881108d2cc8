/*
 * Collecting completions of known requestIds. Without a consumer group
 * (librdkafka's simple consumer, as kcat does without -G): a submitter only
 * reads, so there is nothing to commit, and joining a group would add a
 * rebalance to every run. Every partition is read from its beginning into
 * one queue; read_committed hides events of aborted worker transactions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_auth.h"
#include "libtollgate_int.h"

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        tg_collector_t *co = opaque;

        snprintf(co->last_error, sizeof(co->last_error), "%s", reason);
}

static int open_consumer(tg_collector_t *co, const tg_client_conf_t *conf,
                         char *errstr, size_t size)
{
        const char *const props[][2] = {
            {"isolation.level", "read_committed"},
            {"enable.partition.eof", "true"},
            {"fetch.wait.max.ms", "100"},
            {NULL, NULL},
        };
        rd_kafka_conf_t *kc =
            tg_kconf_new(conf, "consumer", props, errstr, size);

        if (!kc)
                return -1;
        rd_kafka_conf_set_opaque(kc, co);
        rd_kafka_conf_set_error_cb(kc, error_cb);
        co->rk = tg_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, size);
        if (!co->rk) {
                rd_kafka_conf_destroy(kc);
                return -1;
        }
        tg_kconf_topic(conf, "completions", co->topic, sizeof(co->topic));
        co->rkt = rd_kafka_topic_new(co->rk, co->topic, NULL);
        co->q = rd_kafka_queue_new(co->rk);
        return 0;
}

static int count_partitions(tg_collector_t *co, char *errstr, size_t size)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;

        err = rd_kafka_metadata(co->rk, 0, co->rkt, &md, 10000);
        if (err) {
                snprintf(errstr, size, "cannot reach the Kafka brokers: %s%s%s",
                         rd_kafka_err2str(err), co->last_error[0] ? ": " : "",
                         co->last_error);
                return -1;
        }
        if (md->topic_cnt == 1 && !md->topics[0].err)
                co->n_parts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        if (co->n_parts <= 0) {
                snprintf(errstr, size, "topic %s does not exist", co->topic);
                return -1;
        }
        return 0;
}

static int start_partitions(tg_collector_t *co, char *errstr, size_t size)
{
        co->at_end = calloc((size_t)co->n_parts, 1);
        if (!co->at_end) {
                snprintf(errstr, size, "out of memory");
                return -1;
        }
        for (; co->started < co->n_parts; co->started++) {
                if (rd_kafka_consume_start_queue(co->rkt, co->started,
                                                 RD_KAFKA_OFFSET_BEGINNING,
                                                 co->q) == -1) {
                        snprintf(errstr, size, "consume %s [%d]: %s", co->topic,
                                 (int)co->started,
                                 rd_kafka_err2str(rd_kafka_last_error()));
                        return -1;
                }
        }
        return 0;
}

tg_collector_t *tg_collector_new(const tg_client_conf_t *conf,
                                 const char *const *ids, size_t n, char *errstr,
                                 size_t errstr_size)
{
        tg_collector_t *co = calloc(1, sizeof(*co));

        if (!co || tg_idset_init(&co->set, n)) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (size_t i = 0; i < n; i++)
                if (tg_collector_add(co, ids[i])) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
        if (open_consumer(co, conf, errstr, errstr_size) ||
            count_partitions(co, errstr, errstr_size) ||
            start_partitions(co, errstr, errstr_size))
                goto err;
        return co;
err:
        tg_collector_destroy(co);
        return NULL;
}

int tg_collector_add(tg_collector_t *co, const char *id)
{
        return tg_idset_add(&co->set, id);
}
