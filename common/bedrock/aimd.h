/*
 * Adaptive concurrency for one model (AIMD, as TCP congestion control):
 * the number of calls allowed in flight grows by one per window of
 * successes and is cut by 30 % on throttling, so each worker settles just
 * under the share of the model's quota it can get.
 *
 * One tg_aimd_t per model per worker, used from the worker's event loop
 * only (no locking). Pure arithmetic: the caller passes the time.
 */
#ifndef TG_BEDROCK_AIMD_H
#define TG_BEDROCK_AIMD_H

#include <stdint.h>

#define TG_AIMD_DECREASE_FACTOR      0.7
#define TG_AIMD_DECREASE_INTERVAL_MS 100

typedef struct tg_aimd {
        double limit;        /* current limit, fractional between steps */
        int64_t min, max;    /* bounds, min >= 1 */
        int64_t last_cut_ms; /* when the limit was last cut */
        int64_t interval_ms; /* at most one cut per interval */
        int cut_once;        /* last_cut_ms is valid */
} tg_aimd_t;

/* Starts at `initial`, clamped to [min, max]; min is raised to 1 and max to
 * min when they make no sense. */
void tg_aimd_init(tg_aimd_t *a, int64_t initial, int64_t min, int64_t max);

/* A call finished without throttling: +1/limit, i.e. +1 per full window of
 * calls. Call it only while the limit is what holds calls back; growing it
 * while idle would let a burst through at a limit never tested. */
void tg_aimd_on_success(tg_aimd_t *a);

/* A call was throttled at now_ms (monotonic): the limit is multiplied by
 * TG_AIMD_DECREASE_FACTOR, at most once per interval_ms, because the calls
 * of one window that all see the same overload must cut only once.
 * Returns 1 when the limit was cut, 0 when the cut was already taken. */
int tg_aimd_on_throttle(tg_aimd_t *a, int64_t now_ms);

/* Raises the limit to at least n (within max): a throttle must not cut
 * the concurrency below what the rate limit in front of it needs. */
void tg_aimd_raise(tg_aimd_t *a, int64_t n);

/* The number of calls that may be in flight now: floor(limit), in
 * [min, max]. */
int64_t tg_aimd_limit(const tg_aimd_t *a);

#endif
