/*
 * Latency distributions for successful answers. One spec parser serves the
 * command line, the environment and POST /_sim/config:
 *
 *   N | fixed:N             always N ms
 *   uniform:MIN:MAX         uniform in [MIN, MAX] ms
 *   longtail:P50:P99        log-normal whose median is P50 and whose 99th
 *                           percentile is P99 (ms)
 */
#ifndef SIM_LATENCY_H
#define SIM_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#include "sim_rng.h"

/* No single simulated delay is longer than this; it also caps the tail of
 * the log-normal so one unlucky draw cannot park a connection for hours. */
#define SIM_LATENCY_MAX_MS 600000.0

typedef enum sim_latency_kind {
        SIM_LATENCY_FIXED,
        SIM_LATENCY_UNIFORM,
        SIM_LATENCY_LONGTAIL,
} sim_latency_kind_t;

typedef struct sim_latency {
        sim_latency_kind_t kind;
        double a;         /* fixed ms, uniform min, longtail p50 */
        double b;         /* uniform max, longtail p99 */
        double mu, sigma; /* log-normal parameters, derived */
} sim_latency_t;

int sim_latency_parse(const char *spec, sim_latency_t *out, char *errstr,
                      size_t errstr_size);
uint64_t sim_latency_sample(const sim_latency_t *lat, sim_rng_t *rng);
void sim_latency_format(const sim_latency_t *lat, char *out, size_t size);

#endif
