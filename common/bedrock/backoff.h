/*
 * Exponential backoff with full jitter, as in the AWS Architecture Blog's
 * "Exponential Backoff And Jitter": sleep = random(0, min(cap, base * 2^n)).
 * Full jitter spreads the retries of many workers hit by the same throttle
 * over the whole window instead of bunching them at its end.
 *
 * No globals: each caller keeps its own PRNG state (seed it with anything
 * that differs between processes, e.g. pid ^ monotonic time).
 */
#ifndef TG_BEDROCK_BACKOFF_H
#define TG_BEDROCK_BACKOFF_H

#include <stdint.h>

/* splitmix64: advances *state and returns 64 random bits. Any seed,
 * including 0, is fine. Not for secrets. */
uint64_t tg_backoff_rand(uint64_t *state);

/* The delay before retry number `attempt` (1 = the first retry), uniform in
 * [0, min(cap_ms, base_ms * 2^attempt)]. Saturates instead of overflowing
 * for any attempt; returns 0 when base_ms or cap_ms is not positive. */
int64_t tg_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms,
                      uint64_t *rng_state);

#endif
