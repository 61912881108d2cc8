/*
 * The idempotent producer for completions, usage, alerts and the DLQ.
 * Delivery reports arrive on the loop like the consumer's messages. A job is
 * finished (and its offset released) only when all its events are
 * acknowledged; a failed delivery is produced again, so nothing is lost.
 *
 * Delivery reports are events (RD_KAFKA_EVENT_DR, no dr_msg_cb), served
 * only by tg_producer_serve, which only the loop thread calls: the flush
 * inside a commit or abort, running on txn.c's thread, then waits for the
 * loop to serve them instead of running our code on that thread. Never call
 * rd_kafka_poll or rd_kafka_flush on this producer: in this mode they drop
 * delivery reports or wait for nobody.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kafka_auth.h"
#include "log.h"
#include "tgtime.h"
#include "worker.h"

int tg_kafka_conf_apply(rd_kafka_conf_t *kc, tg_config_t *c, const char *who,
                        char *errstr, size_t size);

static void dr_msg(tg_worker_t *w, const rd_kafka_message_t *m)
{
        void *j = m->_private; /* the sender's opaque */
        rd_kafka_headers_t *h = NULL;

        if (m->err && w->txn) {
                /* The transaction cannot commit now; txn.c aborts it and
                 * rewinds, so the request is answered again. */
                tg_log(TG_LOG_WARN,
                       "delivery to %s failed in a "
                       "transaction: %s",
                       rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                return;
        }
        if (m->err) {
                /* Idempotence already retried inside librdkafka; once it
                 * gives up, send again rather than lose an event. */
                tg_log(TG_LOG_WARN, "delivery to %s failed (%s): resending",
                       rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                if (rd_kafka_message_headers(m, &h) == 0)
                        h = rd_kafka_headers_copy(h);
                else
                        h = NULL;
                if (tg_producer_send(w, rd_kafka_topic_name(m->rkt), m->key,
                                     m->key_len, m->payload, m->len, j, h) == 0)
                        return;
                tg_worker_fatal(w, "resending to %s refused",
                                rd_kafka_topic_name(m->rkt));
        }
        if (j)
                w->cbs.delivered(j);
}

void tg_producer_serve(tg_worker_t *w, int timeout_ms)
{
        rd_kafka_event_t *ev;
        const rd_kafka_message_t *m;

        while ((ev = rd_kafka_queue_poll(w->pq, timeout_ms))) {
                if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR)
                        while ((m = rd_kafka_event_message_next(ev)))
                                dr_msg(w, m);
                rd_kafka_event_destroy(ev);
                timeout_ms = 0;
        }
}

void tg_producer_flush(tg_worker_t *w, int timeout_ms)
{
        int64_t end = tg_mono_ms() + timeout_ms;

        while (rd_kafka_outq_len(w->producer) > 0 && tg_mono_ms() < end)
                tg_producer_serve(w, 10);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
        tg_worker_t *w = h->data;
        char buf[64];

        while (read(w->pq_pipe[0], buf, sizeof(buf)) > 0)
                ;
        tg_producer_serve(w, 0);
}

static rd_kafka_conf_t *producer_conf(tg_worker_t *w, int txn, char *errstr,
                                      size_t size)
{
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        tg_config_t *c = w->conf;
        char tid[320], linger[24];
        const char *props[][2] = {
            {"bootstrap.servers", c->brokers},
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"linger.ms", "5"},
            {"compression.codec", "lz4"},
            {"message.timeout.ms", "300000"},
            {"client.id", c->worker_id},
        };

        for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
                if (rd_kafka_conf_set(kc, props[i][0], props[i][1], errstr,
                                      size) != RD_KAFKA_CONF_OK)
                        goto err;
        /* The id survives a restart with the same --worker-id, which
         * fences the dead instance's open transaction at once; the short
         * timeout bounds how long a crash can hold back readers. */
        snprintf(tid, sizeof(tid), "tollgate-%s-%s", c->group, c->worker_id);
        if (txn && (rd_kafka_conf_set(kc, "transactional.id", tid, errstr,
                                      size) != RD_KAFKA_CONF_OK ||
                    rd_kafka_conf_set(kc, "transaction.timeout.ms", "15000",
                                      errstr, size) != RD_KAFKA_CONF_OK ||
                    rd_kafka_conf_set(kc, "message.timeout.ms", "15000", errstr,
                                      size) != RD_KAFKA_CONF_OK))
                goto err;
        /* In a transaction nothing is visible before the commit, and the
         * commit flushes (librdkafka sends at once, whatever linger.ms
         * says), so waiting up to the commit costs no latency and saves
         * produce requests: 0.049 -> 0.011 cores of the producer's broker
         * thread at 500 req/s. -X producer.linger.ms still overrides. */
        snprintf(linger, sizeof(linger), "%lld",
                 (long long)(c->txn_interval_ms < 5      ? 5
                             : c->txn_interval_ms > 1000 ? 1000
                                                         : c->txn_interval_ms));
        if (txn && rd_kafka_conf_set(kc, "linger.ms", linger, errstr, size) !=
                       RD_KAFKA_CONF_OK)
                goto err;
        if (tg_kafka_conf_apply(kc, c, "producer", errstr, size))
                goto err;
        rd_kafka_conf_set_opaque(kc, w);
        rd_kafka_conf_set_events(kc, RD_KAFKA_EVENT_DR);
        return kc;
err:
        rd_kafka_conf_destroy(kc);
        return NULL;
}

static int producer_new(tg_worker_t *w, int txn, char *errstr, size_t size)
{
        rd_kafka_conf_t *kc = producer_conf(w, txn, errstr, size);

        if (!kc)
                return -1;
        w->producer = tg_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, size);
        if (!w->producer) {
                rd_kafka_conf_destroy(kc);
                return -1;
        }
        return 0;
}

/* Transactions where the broker supports them, else idempotence alone
 * (duplicates are then byte-identical re-publications). */
static int producer_create(tg_worker_t *w, char *errstr, size_t size)
{
        if (!w->conf->transactions)
                return producer_new(w, 0, errstr, size);
        if (producer_new(w, 1, errstr, size))
                return -1;
        w->txn = 1;
        if (tg_txn_init(w, errstr, size) == 0)
                return 0;
        tg_log(TG_LOG_WARN, "%s: falling back to idempotent delivery", errstr);
        rd_kafka_destroy(w->producer);
        w->txn = 0;
        return producer_new(w, 0, errstr, size);
}

int tg_producer_start(tg_worker_t *w, char *errstr, size_t size)
{
        if (producer_create(w, errstr, size))
                return -1;
        w->pq = rd_kafka_queue_get_main(w->producer);
        if (pipe2(w->pq_pipe, O_NONBLOCK | O_CLOEXEC))
                return snprintf(errstr, size, "pipe failed"), -1;
        rd_kafka_queue_io_event_enable(w->pq, w->pq_pipe[1], "1", 1);
        uv_poll_init(w->loop, &w->pq_poll, w->pq_pipe[0]);
        w->pq_poll.data = w;
        uv_poll_start(&w->pq_poll, UV_READABLE, on_readable);
        return w->txn ? tg_txn_start(w, errstr, size) : 0;
}

/* hdrs is consumed. */
int tg_producer_send(tg_worker_t *w, const char *topic, const void *key,
                     size_t key_len, const void *value, size_t len, void *j,
                     rd_kafka_headers_t *hdrs)
{
        rd_kafka_resp_err_t err;
        int rc = tg_txn_ensure(w);

        if (rc == 1) /* a commit runs: into the next transaction */
                return tg_txn_hold(w, topic, key, key_len, value, len, hdrs);
        if (rc) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                return -1;
        }
        if (w->txn)
                j = NULL; /* the job is done once its messages are queued */
        if (!hdrs)
                hdrs = rd_kafka_headers_new(0);
        for (int tries = 0;; tries++) {
                err =
                    rd_kafka_producev(w->producer, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_KEY(key, key_len),
                                      RD_KAFKA_V_VALUE((void *)value, len),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_OPAQUE(j),
                                      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 100)
                        break;
                /* The local queue is bounded; serve delivery reports to make
                 * room. Rare: the queue holds 100,000 messages. */
                tg_producer_serve(w, 10);
        }
        if (err) {
                rd_kafka_headers_destroy(hdrs);
                tg_log(TG_LOG_ERROR, "produce to %s: %s", topic,
                       rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

void tg_producer_close(tg_worker_t *w)
{
        if (!w->producer)
                return;
        tg_txn_commit(w);
        tg_producer_flush(w, 30000);
        tg_txn_stop(w);
        uv_poll_stop(&w->pq_poll);
        rd_kafka_queue_io_event_enable(w->pq, -1, NULL, 0);
        rd_kafka_queue_destroy(w->pq);
        rd_kafka_destroy(w->producer);
        w->producer = NULL;
        close(w->pq_pipe[0]);
        close(w->pq_pipe[1]);
}
