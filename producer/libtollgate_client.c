/*
 * The submitting client: an idempotent librdkafka producer keyed by
 * requestId. Idempotence (with acks=all) is what makes librdkafka's own
 * retries safe: a request is on the topic once, in order, or reported as
 * not delivered, never twice because a broker ack got lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_auth.h"
#include "libtollgate_int.h"

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        tg_client_t *cl = opaque;
        char id[TG_ID_SIZE];

        cl->inflight--;
        cl->inflight_bytes -= m->len;
        if (!cl->on_delivery)
                return;
        snprintf(id, sizeof(id), "%.*s", (int)m->key_len, (const char *)m->key);
        cl->on_delivery(id, m->err ? rd_kafka_err2str(m->err) : NULL,
                        m->_private, cl->opaque);
}

/* Remembers librdkafka's errors for the caller instead of printing them:
 * a CLI shows the last one when deliveries fail. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        tg_client_t *cl = opaque;
        char fatal[256];

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                snprintf(cl->last_error, sizeof(cl->last_error), "fatal: %s",
                         fatal);
                cl->fatal = 1;
                return;
        }
        snprintf(cl->last_error, sizeof(cl->last_error), "%s", reason);
}

static rd_kafka_conf_t *producer_conf(const tg_client_conf_t *conf,
                                      char *errstr, size_t size)
{
        size_t max = conf->max_request_bytes ? conf->max_request_bytes
                                             : TG_REQUEST_SIZE_DEFAULT;
        char msg_max[32];
        /* librdkafka's own cap (1,000,000) is below our 1 MiB default:
         * a request the worker accepts must not be refused here. */
        const char *const props[][2] = {
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"linger.ms", "5"},
            {"compression.codec", "lz4"},
            {"message.max.bytes", msg_max},
            {NULL, NULL},
        };

        snprintf(msg_max, sizeof(msg_max), "%zu",
                 max + 64 * 1024 > 1000000 ? max + 64 * 1024 : 1000000);

        return tg_kconf_new(conf, "producer", props, errstr, size);
}

tg_client_t *tg_client_new(const tg_client_conf_t *conf, char *errstr,
                           size_t errstr_size)
{
        tg_client_t *cl = calloc(1, sizeof(*cl));
        rd_kafka_conf_t *kc = NULL;

        if (!cl) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        kc = producer_conf(conf, errstr, errstr_size);
        if (!kc)
                goto err;
        rd_kafka_conf_set_opaque(kc, cl);
        rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
        rd_kafka_conf_set_error_cb(kc, error_cb);
        cl->rk = tg_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size);
        if (!cl->rk)
                goto err;
        tg_kconf_topic(conf, "requests", cl->topic, sizeof(cl->topic));
        cl->max_bytes = conf->max_request_bytes ? conf->max_request_bytes
                                                : TG_REQUEST_SIZE_DEFAULT;
        cl->catalog = conf->catalog;
        cl->on_delivery = conf->on_delivery;
        cl->opaque = conf->opaque;
        return cl;
err:
        if (kc)
                rd_kafka_conf_destroy(kc);
        free(cl);
        return NULL;
}

int tg_client_check(tg_client_t *cl, int timeout_ms, char *errstr,
                    size_t errstr_size)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(cl->rk, cl->topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int rc = -1;

        err = rd_kafka_metadata(cl->rk, 0, rkt, &md, timeout_ms);
        rd_kafka_poll(cl->rk, 0); /* error_cb: why the brokers failed */
        if (err)
                snprintf(errstr, errstr_size,
                         "cannot reach the Kafka brokers: %s%s%s",
                         rd_kafka_err2str(err), cl->last_error[0] ? ": " : "",
                         cl->last_error);
        else if (md->topic_cnt != 1 || md->topics[0].err ||
                 md->topics[0].partition_cnt == 0)
                snprintf(errstr, errstr_size,
                         "topic %s does not exist (create it with "
                         "tollgate-topics)",
                         cl->topic);
        else
                rc = 0;
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return rc;
}

int tg_client_poll(tg_client_t *cl, int timeout_ms)
{
        return rd_kafka_poll(cl->rk, timeout_ms);
}

int tg_client_flush(tg_client_t *cl, int timeout_ms)
{
        /* flush serves delivery reports itself (a dr_msg_cb is set). */
        rd_kafka_flush(cl->rk, timeout_ms);
        return cl->inflight == 0 ? 0 : -1;
}

size_t tg_client_inflight(const tg_client_t *cl, size_t *bytes)
{
        if (bytes)
                *bytes = cl->inflight_bytes;
        return cl->inflight;
}

int tg_client_last_error(const tg_client_t *cl, char *errstr,
                         size_t errstr_size)
{
        snprintf(errstr, errstr_size, "%s", cl->last_error);
        return cl->fatal;
}

void tg_client_destroy(tg_client_t *cl)
{
        if (!cl)
                return;
        /* Dropped messages get a delivery report with __PURGE_QUEUE: serve
         * them so the caller's counts add up. */
        rd_kafka_purge(cl->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(cl->rk, 0);
        rd_kafka_destroy(cl->rk);
        free(cl);
}
