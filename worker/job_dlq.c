/*
 * Bytes that are not a JSON object cannot carry a requestId, so they get no
 * completion: they go to the DLQ untouched (key, value, headers), with the
 * reason in a header, and the partition moves on.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "worker.h"

#define TG_DLQ_REASON_HEADER "tollgate-dlq-reason"

static rd_kafka_headers_t *dlq_headers(rd_kafka_message_t *m,
                                       const char *reason)
{
        rd_kafka_headers_t *orig = NULL, *h;
        char origin[320];

        if (rd_kafka_message_headers(m, &orig) == 0)
                h = rd_kafka_headers_copy(orig);
        else
                h = rd_kafka_headers_new(2);
        rd_kafka_header_add(h, TG_DLQ_REASON_HEADER, -1, reason, -1);
        snprintf(origin, sizeof(origin), "%s/%d/%lld",
                 rd_kafka_topic_name(m->rkt), (int)m->partition,
                 (long long)m->offset);
        rd_kafka_header_add(h, "tollgate-dlq-origin", -1, origin, -1);
        return h;
}

int tg_job_emit_dlq(tg_job_t *j)
{
        rd_kafka_message_t *m = j->msg;
        rd_kafka_headers_t *h = j->hdrs;

        j->hdrs = NULL; /* consumed by the send */
        j->deliveries = 1;
        return tg_producer_send(j->w, j->w->t_dlq, m->key, m->key_len,
                                m->payload, m->len, j, h);
}

void tg_job_dlq(tg_job_t *j, const char *reason)
{
        rd_kafka_message_t *m = j->msg;

        tg_log(TG_LOG_WARN, "dlq %s/%d/%lld: %s", rd_kafka_topic_name(m->rkt),
               (int)m->partition, (long long)m->offset, reason);
        tg_metrics_dlq(j->w->metrics);
        j->hdrs = dlq_headers(m, reason);
        tg_job_end(j, TG_END_DLQ, reason);
}
