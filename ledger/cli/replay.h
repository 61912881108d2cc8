/*
 * Replays the usage topic for reconcile, rebuild and report: every
 * partition from its first offset to the high watermark taken at start
 * (with read_committed, the last stable offset: aborted transactions are
 * never seen), without a consumer group and without committing.
 *
 * Each distinct requestId reaches the callback once. Re-publications of an
 * event are byte-identical and are counted as duplicates; two different
 * events with one requestId are a conflict, reported as an issue (the first
 * one read is the one delivered).
 */
#ifndef TG_LEDGER_REPLAY_H
#define TG_LEDGER_REPLAY_H

#include <jansson.h>

#include "kafka_auth.h"
#include <stddef.h>
#include <stdint.h>

typedef struct tg_replay_conf {
        const char *brokers;
        const char *topic;
        const char *const *props; /* "name=value" librdkafka properties */
        int n_props;
        const tg_kafka_auth_t *auth; /* --kafka-auth; NULL: none */
        int timeout_ms;     /* per broker request, and without progress */
        size_t max_message; /* larger messages are malformed */
} tg_replay_conf_t;

typedef struct tg_replay_stats {
        int partitions;
        int64_t messages;   /* read below the watermarks */
        int64_t events;     /* delivered to the callback */
        int64_t duplicates; /* identical re-publications, skipped */
        int64_t conflicts;  /* same requestId, different bytes */
        int64_t malformed;  /* unusable messages, skipped */
} tg_replay_stats_t;

typedef enum tg_replay_issue_kind {
        TG_REPLAY_CONFLICT,
        TG_REPLAY_MALFORMED,
} tg_replay_issue_kind_t;

typedef struct tg_replay_issue {
        tg_replay_issue_kind_t kind;
        const char *request_id; /* "" when unknown */
        int32_t partition;
        int64_t offset;
        const char *reason;
} tg_replay_issue_t;

/* Called once per distinct event, in partition order. Returns 0 to go on,
 * 1 when the event is unusable (reason in errstr: counted as malformed and
 * reported as an issue), -1 to stop the replay (errstr says why). */
typedef int(tg_replay_event_cb)(json_t *event, const char *request_id,
                                void *opaque, char *errstr, size_t errstr_size);

typedef void(tg_replay_issue_cb)(const tg_replay_issue_t *issue, void *opaque);

/* Returns 0 when every partition was read to its watermark, or -1 with
 * errstr (brokers unreachable, no such topic, timeout, callback stop). */
int tg_replay_run(const tg_replay_conf_t *conf, tg_replay_event_cb *on_event,
                  tg_replay_issue_cb *on_issue, void *opaque,
                  tg_replay_stats_t *stats, char *errstr, size_t errstr_size);

#endif
