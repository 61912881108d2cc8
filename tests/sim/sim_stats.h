/*
 * Counters behind GET /_sim/stats, so tests can check that what they sent
 * is what the simulator saw. Admin endpoints are not counted.
 */
#ifndef SIM_STATS_H
#define SIM_STATS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "sim_errors.h"

/* Distinct model ids tracked one by one; the rest are summed under
 * "(other)" so a client sending random ids cannot grow memory. */
#define SIM_STATS_MODELS_MAX 256
#define SIM_STATS_STATUS_MAX 600

typedef enum sim_stats_op {
        SIM_STATS_CONVERSE,
        SIM_STATS_INVOKE,
        SIM_STATS_OTHER,
} sim_stats_op_t;

typedef struct sim_stats_event {
        sim_stats_op_t op;
        const char *model_id; /* decoded; NULL or "" when not routed */
        int status;
        int is_error;
        sim_err_t error;
        int auth_failure;
        int delayed;
        uint64_t input_tokens;
        uint64_t output_tokens;
} sim_stats_event_t;

typedef struct sim_stats {
        pthread_mutex_t lock;
        uint64_t requests;
        uint64_t by_op[3];
        uint64_t auth_failures;
        uint64_t delayed;
        uint64_t input_tokens;
        uint64_t output_tokens;
        uint64_t by_status[SIM_STATS_STATUS_MAX];
        uint64_t by_error[SIM_ERR_COUNT];
        struct {
                char *id;
                uint64_t n;
        } models[SIM_STATS_MODELS_MAX];
        int n_models;
        uint64_t other_models;
        atomic_long in_flight;
        atomic_long peak_in_flight;
} sim_stats_t;

void sim_stats_init(sim_stats_t *st);
void sim_stats_destroy(sim_stats_t *st);
/* Zeroes the counters; in-flight keeps counting what is still open. */
void sim_stats_reset(sim_stats_t *st);
void sim_stats_enter(sim_stats_t *st);
void sim_stats_leave(sim_stats_t *st);
void sim_stats_record(sim_stats_t *st, const sim_stats_event_t *ev);
json_t *sim_stats_to_json(sim_stats_t *st);

#endif
