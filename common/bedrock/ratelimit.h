/*
 * Adaptive call rate for one model: a token bucket whose rate is learned
 * from ThrottlingException, in front of the adaptive concurrency limit
 * (aimd.h).
 *
 * Why a rate: Bedrock quotas are rates (requests and tokens per minute), and
 * a throttled call answers in microseconds and frees its concurrency slot at
 * once, so a concurrency limit does not bound the attempt rate (RESULTS.md
 * F6: 93 % of the first 5 s of calls throttled). A rate does.
 *
 * The controller:
 *   - off until the first throttle (no limit, as the AWS SDKs' adaptive
 *     retry mode); then every call, first attempt or retry, takes a token;
 *   - measures the *accepted* rate: calls sent minus calls throttled over
 *     a sliding window of TG_RATE_WINDOW_MS. Throttles answer at once while
 *     successes take the model's latency, so this sees what the quota let
 *     through without waiting for the successes to come back;
 *   - on a throttle of a call sent after the last cut (the calls already in
 *     flight saw the old rate: one overload cuts once), at most once per
 *     TG_RATE_CUT_MS: the rate falls to
 *     TG_RATE_DECREASE x the accepted rate or x the current rate, whichever
 *     is lower (each cut lowers it, even while the window still counts a
 *     burst the quota's own bucket let through; never below the floor),
 *     and the bucket is emptied;
 *   - on successes while calls wait for tokens (the rate is what holds them
 *     back; growing while idle would let a burst through at a rate never
 *     tested): after a hold of one window since the last cut, it grows
 *     linearly in time: quickly (TG_RATE_RECOVER of the last accepted rate
 *     per second) back to TG_RATE_PROBE_FROM of that rate, then slowly
 *     (TG_RATE_PROBE) above it, so the fleet probes the quota rarely and
 *     finds it again quickly after a cut; the longer without a throttle,
 *     the faster it grows (TG_RATE_ACCEL of the rate per second, per
 *     second since the cut, as CUBIC), so a rate cut too low or a share
 *     another worker left is taken in seconds; and at least by
 *     TG_RATE_SHARE of the highest accepted rate it measured, per second,
 *     per second since the cut, whatever its current rate: gates sharing
 *     a quota grow alike in absolute terms while a cut takes more from
 *     the larger, so their shares converge (AIMD) and no worker is left
 *     alone with a backlog at a small rate; never slower than
 *     TG_RATE_MIN_SPEED floors per second, so a gate cut to the floor
 *     climbs back (no starvation);
 *   - bucket capacity: a tenth of a second of calls (at least one), so an
 *     idle gate does not burst far past the rate.
 *
 * Several workers share one quota without talking: each cuts to what it got
 * accepted, so after a cut their sum is TG_RATE_DECREASE x the quota.
 *
 * One tg_rate_t per model per worker, used from the event loop only. Pure
 * arithmetic: the caller passes a monotonic time in ms.
 */
#ifndef TG_BEDROCK_RATELIMIT_H
#define TG_BEDROCK_RATELIMIT_H

#include <stdint.h>

#define TG_RATE_WINDOW_MS   1000
#define TG_RATE_DECREASE    0.9
#define TG_RATE_RECOVER     0.10
#define TG_RATE_PROBE_FROM  0.97
#define TG_RATE_PROBE       0.02
#define TG_RATE_MIN_SPEED   0.5  /* floors per second per second */
#define TG_RATE_ACCEL       0.02 /* growth /s, per s without a throttle */
#define TG_RATE_ACCEL_MAX_S 20.0
#define TG_RATE_SHARE       0.02 /* of the peak accepted rate, as ACCEL */
#define TG_RATE_CUT_MS      100  /* at most one cut per this */
#define TG_RATE_YOUNG_MS    100  /* shortest span a rate is measured on */

typedef struct tg_rate {
        int on;           /* engaged by a throttle */
        double rate;      /* calls/s while on */
        double floor;     /* calls/s, > 0 */
        double max;       /* calls/s */
        double tokens;    /* in the bucket */
        int64_t fill_ms;  /* last refill */
        double accepted;  /* accepted rate measured at the last cut */
        double peak;      /* highest such */
        int64_t cut_ms;   /* last cut */
        int64_t grow_ms;  /* last growth step */
        int win_on;       /* win_ms is valid */
        int first_window; /* no window has ended yet */
        int64_t win_ms;   /* start of the current window */
        double win_cur;   /* sent - throttled in the current window */
        double win_prev;  /* and in the one before */
        uint64_t cuts;    /* for tests and logs */
} tg_rate_t;

/* floor and max in calls/s (floor raised to 0.01, max to floor). */
void tg_rate_init(tg_rate_t *r, double floor, double max);

/* A call wants to go at now_ms: 1 (and it is counted as sent) when the
 * bucket has a token or the limiter is off, 0 when it must wait. */
int tg_rate_take(tg_rate_t *r, int64_t now_ms);

/* Milliseconds until tg_rate_take can succeed (>= 1 when it cannot now). */
int64_t tg_rate_wait_ms(tg_rate_t *r, int64_t now_ms);

/* A call sent at sent_ms was throttled at now_ms. Returns 1 when the rate
 * was cut, 0 when the call saw a rate already cut. */
int tg_rate_on_throttle(tg_rate_t *r, int64_t sent_ms, int64_t now_ms);

/* A call ended without throttling; `waiting`: calls are waiting for the
 * bucket, so the rate may grow. */
void tg_rate_on_success(tg_rate_t *r, int64_t now_ms, int waiting);

/* The accepted rate over the last window, calls/s. */
double tg_rate_accepted(tg_rate_t *r, int64_t now_ms);

/* The current rate limit in calls/s, 0 while off (no limit). */
double tg_rate_limit(const tg_rate_t *r);

#endif
