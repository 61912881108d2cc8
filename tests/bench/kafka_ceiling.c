/*
 * kafka_ceiling: librdkafka's own rate for the Kafka half of the worker's
 * job, the ceiling the throughput benchmark compares the worker with.
 *
 * It does the Kafka half of tollgate-worker's job on the same messages,
 * and nothing else: joins a consumer group on the requests topic with the
 * worker's consumer settings (read_committed, offsets stored by hand,
 * auto-commit every 500 ms), and for every request produces two messages
 * (its payload, keyed by its key, standing in for the completion and the
 * usage event) with the worker's producer settings (idempotent, acks=all,
 * lz4, linger.ms=5), storing a request's offset once both are
 * acknowledged, at most -m (4096) requests at a time. One thread drives
 * it, like the worker's loop. Not transactional (the worker is, by
 * default, since 2026-11-27), and offsets are stored per request rather
 * than up to the oldest unfinished one: a ceiling, not a replica.
 *
 *   kafka_ceiling -b BROKERS -t IN_TOPIC -o OUT_TOPIC -g GROUP -n COUNT
 *
 * Prints one JSON line: count, seconds from start (group join included)
 * and from the first message, and this process's CPU seconds.
 * Build: cc -O2 kafka_ceiling.c $(pkg-config --cflags --libs rdkafka)
 */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long done_n, inflight;

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
        char err[256];
        if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "kafka_ceiling: %s=%s: %s\n", k, v, err);
                exit(2);
        }
}

typedef struct pending {
        rd_kafka_message_t *msg;
        int left;
} pending_t;

static rd_kafka_t *consumer;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op)
{
        (void)rk;
        (void)op;
        pending_t *p = m->_private;

        if (m->err) {
                fprintf(stderr, "kafka_ceiling: delivery failed: %s\n",
                        rd_kafka_err2str(m->err));
                exit(1);
        }
        if (--p->left > 0)
                return;
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(p->msg->rkt),
                                          p->msg->partition)
            ->offset = p->msg->offset + 1;
        rd_kafka_offsets_store(consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_message_destroy(p->msg);
        free(p);
        inflight--;
        done_n++;
}

int main(int argc, char **argv)
{
        const char *brokers = "127.0.0.1:9092", *in = NULL, *out = NULL,
                   *group = "kafka-ceiling";
        long count = 0, max_inflight = 4096;
        int opt;
        char err[512];

        while ((opt = getopt(argc, argv, "b:t:o:g:n:m:")) != -1) {
                switch (opt) {
                case 'b':
                        brokers = optarg;
                        break;
                case 't':
                        in = optarg;
                        break;
                case 'o':
                        out = optarg;
                        break;
                case 'g':
                        group = optarg;
                        break;
                case 'n':
                        count = atol(optarg);
                        break;
                case 'm':
                        max_inflight = atol(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: kafka_ceiling -b B -t IN -o "
                                        "OUT -g GROUP -n COUNT [-m MAX]\n");
                        return 2;
                }
        }
        if (!in || !out || count <= 0) {
                fprintf(stderr, "kafka_ceiling: -t, -o and -n are needed\n");
                return 2;
        }
        double t0 = now_s(), t_first = 0;

        rd_kafka_conf_t *cc = rd_kafka_conf_new();
        set(cc, "bootstrap.servers", brokers);
        set(cc, "group.id", group);
        set(cc, "enable.auto.offset.store", "false");
        set(cc, "enable.auto.commit", "true");
        set(cc, "auto.commit.interval.ms", "500");
        set(cc, "auto.offset.reset", "earliest");
        set(cc, "isolation.level", "read_committed");
        set(cc, "queued.max.messages.kbytes", "32768");
        consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
        if (!consumer)
                return fprintf(stderr, "kafka_ceiling: %s\n", err), 1;
        rd_kafka_poll_set_consumer(consumer);

        rd_kafka_conf_t *pc = rd_kafka_conf_new();
        set(pc, "bootstrap.servers", brokers);
        set(pc, "enable.idempotence", "true");
        set(pc, "acks", "all");
        set(pc, "linger.ms", "5");
        set(pc, "compression.codec", "lz4");
        rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
        rd_kafka_t *producer =
            rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
        if (!producer)
                return fprintf(stderr, "kafka_ceiling: %s\n", err), 1;

        rd_kafka_topic_partition_list_t *sub =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, in, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(consumer, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(consumer);

        long consumed = 0;
        rd_kafka_message_t *batch[256];
        while (done_n < count) {
                long room = max_inflight - inflight;
                ssize_t n = 0;
                if (room > 0 && consumed < count)
                        n = rd_kafka_consume_batch_queue(
                            q, inflight ? 0 : 100, batch,
                            room < 256 ? (size_t)room : 256);
                for (ssize_t i = 0; i < n; i++) {
                        rd_kafka_message_t *m = batch[i];
                        if (m->err) {
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        if (!t_first)
                                t_first = now_s();
                        pending_t *p = calloc(1, sizeof(*p));
                        p->msg = m;
                        p->left = 2;
                        inflight++;
                        consumed++;
                        for (int k = 0; k < 2; k++) {
                                rd_kafka_resp_err_t e;
                                while (
                                    (e = rd_kafka_producev(
                                         producer, RD_KAFKA_V_TOPIC(out),
                                         RD_KAFKA_V_KEY(m->key, m->key_len),
                                         RD_KAFKA_V_VALUE(m->payload, m->len),
                                         RD_KAFKA_V_MSGFLAGS(
                                             RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_OPAQUE(p),
                                         RD_KAFKA_V_END)) ==
                                    RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                        rd_kafka_poll(producer, 10);
                                if (e) {
                                        fprintf(stderr,
                                                "kafka_ceiling: produce: %s\n",
                                                rd_kafka_err2str(e));
                                        return 1;
                                }
                        }
                }
                rd_kafka_poll(producer, n > 0 ? 0 : 1);
        }
        double t1 = now_s();
        rd_kafka_commit(consumer, NULL, 0);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        printf(
            "{\"count\": %ld, \"seconds\": %.3f, \"secondsFromFirst\": %.3f, "
            "\"cpuSeconds\": %.3f}\n",
            done_n, t1 - t0, t1 - t_first, cpu);
        fflush(stdout);
        rd_kafka_queue_destroy(q);
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
        rd_kafka_flush(producer, 10000);
        rd_kafka_destroy(producer);
        return 0;
}
