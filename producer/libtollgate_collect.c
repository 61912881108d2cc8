/* Reading the collector's queue: keep wanted completions, note ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libtollgate_int.h"

static void note_end(tg_collector_t *co, int32_t p)
{
        if (p >= 0 && p < co->n_parts && !co->at_end[p]) {
                co->at_end[p] = 1;
                co->n_at_end++;
        }
}

/* Returns 1 when the message was a wanted completion, 0 when not, -1 on
 * an error that ends collecting. */
static int take(tg_collector_t *co, rd_kafka_message_t *m, char *errstr,
                size_t size)
{
        tg_idslot_t *slot;

        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                note_end(co, m->partition);
                return 0;
        }
        if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
            m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                snprintf(errstr, size, "reading %s: %s", co->topic,
                         rd_kafka_message_errstr(m));
                return -1;
        }
        if (m->err || !m->key || !m->payload)
                return 0; /* transient errors are retried by librdkafka */
        slot = tg_idset_find(&co->set, m->key, m->key_len);
        if (!slot)
                return 0;
        if (tg_idset_store(&co->set, slot, m->payload, m->len)) {
                snprintf(errstr, size, "out of memory");
                return -1;
        }
        return 1;
}

int tg_collector_poll(tg_collector_t *co, int timeout_ms, char *errstr,
                      size_t errstr_size)
{
        rd_kafka_message_t *msgs[BATCH];
        ssize_t n;
        int found = 0, r = 0;

        rd_kafka_poll(co->rk, 0); /* error events */
        n = rd_kafka_consume_batch_queue(co->q, timeout_ms, msgs, BATCH);
        if (n < 0) {
                snprintf(errstr, errstr_size, "reading %s: %s", co->topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        for (ssize_t i = 0; i < n; i++) {
                if (r >= 0)
                        r = take(co, msgs[i], errstr, errstr_size);
                if (r > 0)
                        found++;
                rd_kafka_message_destroy(msgs[i]);
        }
        return r < 0 ? -1 : found;
}

size_t tg_collector_wanted(const tg_collector_t *co)
{
        return co->set.n;
}

size_t tg_collector_found(const tg_collector_t *co)
{
        return co->set.found;
}

int tg_collector_done(const tg_collector_t *co)
{
        return co->set.found == co->set.n;
}

int tg_collector_caught_up(const tg_collector_t *co)
{
        return co->n_parts > 0 && co->n_at_end == co->n_parts;
}

const char *tg_collector_get(const tg_collector_t *co, const char *id,
                             size_t *len)
{
        tg_idslot_t *slot = tg_idset_find(&co->set, id, strlen(id));

        if (!slot || !slot->json)
                return NULL;
        if (len)
                *len = slot->len;
        return slot->json;
}

void tg_collector_destroy(tg_collector_t *co)
{
        if (!co)
                return;
        for (int32_t p = 0; p < co->started; p++)
                rd_kafka_consume_stop(co->rkt, p);
        if (co->q)
                rd_kafka_queue_destroy(co->q);
        if (co->rkt)
                rd_kafka_topic_destroy(co->rkt);
        if (co->rk)
                rd_kafka_destroy(co->rk);
        tg_idset_free(&co->set);
        free(co->at_end);
        free(co);
}
