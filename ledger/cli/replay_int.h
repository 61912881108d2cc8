/* The replay's state, shared by replay.c (Kafka) and replay_msg.c (one
 * message: caps, parsing, dedupe). */
#ifndef TG_LEDGER_REPLAY_INT_H
#define TG_LEDGER_REPLAY_INT_H

#include <librdkafka/rdkafka.h>

#include "replay.h"
#include "strmap.h"

typedef struct tg_replay {
        const tg_replay_conf_t *conf;
        rd_kafka_t *rk;
        int32_t nparts;
        int64_t *end;     /* per partition: the watermark taken at start */
        int64_t *next;    /* per partition: the next offset expected */
        char *done;       /* per partition */
        int remaining;    /* partitions not done */
        tg_strmap_t seen; /* requestId -> tg_replay_seen_t */
        tg_replay_event_cb *on_event;
        tg_replay_issue_cb *on_issue;
        void *opaque;
        tg_replay_stats_t *stats;
        char last_error[256]; /* the last consumer error, for timeouts */
} tg_replay_t;

/* Handles one message below its partition's watermark. Returns 0, or -1
 * with errstr when the callback stopped the replay. */
int tg_replay_msg(tg_replay_t *r, const rd_kafka_message_t *m, char *errstr,
                  size_t errstr_size);

#endif
