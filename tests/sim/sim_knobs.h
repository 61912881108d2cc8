/*
 * The knobs that shape answers: fault rates, latency, account quota and
 * reply length. Set from flags at start, changed at run time by
 * POST /_sim/config so fault tests can start and stop storms. Request
 * handlers work on a snapshot copied under the lock, so a change never
 * tears a request in half.
 */
#ifndef SIM_KNOBS_H
#define SIM_KNOBS_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_errors.h"
#include "sim_latency.h"
#include "sim_rng.h"

#define SIM_OUTPUT_TOKENS_MAX 100000

typedef struct sim_knobs_snapshot {
        double throttle_rate;
        double error_rates[SIM_ERR_N_INJECTABLE];
        sim_latency_t latency;
        uint64_t quota_rps; /* 0: no account quota */
        uint64_t output_tokens;
} sim_knobs_snapshot_t;

typedef struct sim_knobs {
        pthread_mutex_t lock;
        sim_knobs_snapshot_t cur;
} sim_knobs_t;

void sim_knobs_defaults(sim_knobs_snapshot_t *snap);
void sim_knobs_init(sim_knobs_t *knobs, const sim_knobs_snapshot_t *initial);
void sim_knobs_destroy(sim_knobs_t *knobs);
void sim_knobs_get(sim_knobs_t *knobs, sim_knobs_snapshot_t *out);

/* Parses "TYPE=F" (F in [0,1]) into snap. */
int sim_knobs_set_error_rate(sim_knobs_snapshot_t *snap, const char *spec,
                             char *errstr, size_t errstr_size);
/* Parses a rate in [0,1]. */
int sim_knobs_parse_rate(const char *s, double *out);

/* Applies a JSON object of changes, all or nothing. Keys: throttleRate,
 * errorRates {Type: F} (replaces the whole map), latency (spec string),
 * latencyMs, quotaRps, outputTokens. */
int sim_knobs_apply_json(sim_knobs_t *knobs, json_t *changes, char *errstr,
                         size_t errstr_size);
json_t *sim_knobs_to_json(const sim_knobs_snapshot_t *snap);

/* Draws the injected fault for one request: an error type or -1. */
int sim_knobs_pick_fault(const sim_knobs_snapshot_t *snap, sim_rng_t *rng);

#endif
