/*
 * Consumer lag per partition for /metrics (and KEDA-style autoscaling): the
 * high watermark librdkafka already caches from fetches, minus our position.
 * No broker round trip.
 */
#include "worker.h"

void tg_lag_update(tg_worker_t *w)
{
        rd_kafka_topic_partition_list_t *parts = NULL;

        if (!w->consumer || rd_kafka_assignment(w->consumer, &parts) || !parts)
                return;
        rd_kafka_position(w->consumer, parts);
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *p = &parts->elems[i];
                int64_t lo, hi;
                if (rd_kafka_get_watermark_offsets(
                        w->consumer, p->topic, p->partition, &lo, &hi) != 0 ||
                    hi < 0)
                        continue;
                tg_metrics_lag(w->metrics, p->partition,
                               p->offset >= 0 ? hi - p->offset : hi - lo);
        }
        rd_kafka_topic_partition_list_destroy(parts);
}
