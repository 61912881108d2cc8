/*
 * Spend per (budget, period) from both sides, for reconcile and rebuild:
 * the sum of approved usage events in Kafka, and the hashes
 * tg:{tg}:b:<id>:<period> in Redis.
 */
#ifndef TG_LEDGER_TOTALS_H
#define TG_LEDGER_TOTALS_H

#include <jansson.h>
#include <stdint.h>

#include "cli.h"
#include "replay.h"
#include "strmap.h"

typedef struct tg_pair {
        char id[TG_BUDGET_ID_MAX + 1];
        char period[TG_PERIOD_LABEL_MAX];
        int in_kafka, in_redis;
        int64_t k_spent, k_tokens, k_approved; /* from the usage topic */
        int64_t r_spent, r_tokens, r_approved; /* from Redis */
        int64_t r_reserved, r_reserved_tokens;
} tg_pair_t;

typedef struct tg_totals {
        tg_strmap_t pairs; /* "id:period" -> tg_pair_t */
        tg_replay_stats_t stats;
        json_t *issues; /* [{kind, requestId, partition, offset, reason}] */
} tg_totals_t;

void tg_totals_init(tg_totals_t *t);
void tg_totals_free(tg_totals_t *t);

/* Replays the usage topic into t. Returns 0, or an exit code after
 * printing the error. Issues (conflicts, malformed events) are collected,
 * not printed. */
int tg_totals_from_kafka(tg_cli_t *cli, tg_totals_t *t);

/* Reads every budget hash (SCAN) into t. Returns 0 or an exit code. */
int tg_totals_from_redis(tg_cli_t *cli, struct redisContext *c, tg_totals_t *t);

/* The pair for id and period, created when new; NULL when out of memory. */
tg_pair_t *tg_totals_pair(tg_totals_t *t, const char *id, const char *period);

/* The pairs sorted by id, then period (malloc'd array of pointers). */
tg_pair_t **tg_totals_sorted(const tg_totals_t *t, size_t *n);

/* Prints the collected issues to stderr, one line each. */
void tg_totals_print_issues(const tg_totals_t *t);

#endif
