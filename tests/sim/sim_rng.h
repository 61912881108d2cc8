/*
 * Small deterministic PRNG. Each request gets its own stream derived from
 * (seed, request sequence number), so a given --seed makes the n-th
 * request draw the same faults and latencies whatever thread serves it.
 */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdint.h>

typedef struct sim_rng {
        uint64_t s;
} sim_rng_t;

void sim_rng_init(sim_rng_t *rng, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(sim_rng_t *rng);
/* Uniform in [0, 1). */
double sim_rng_unit(sim_rng_t *rng);
/* Standard normal (Box-Muller). */
double sim_rng_normal(sim_rng_t *rng);
/* RFC 4122 version 4 UUID text into out[37]. */
void sim_rng_uuid(sim_rng_t *rng, char out[37]);

#endif
