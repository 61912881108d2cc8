/*
 * Additive increase, multiplicative decrease of a concurrency limit.
 */
#include "aimd.h"

static double clamp(const tg_aimd_t *a, double v)
{
        if (v < (double)a->min)
                return (double)a->min;
        if (v > (double)a->max)
                return (double)a->max;
        return v;
}

void tg_aimd_init(tg_aimd_t *a, int64_t initial, int64_t min, int64_t max)
{
        a->min = min < 1 ? 1 : min;
        a->max = max < a->min ? a->min : max;
        a->limit = clamp(a, (double)initial);
        a->last_cut_ms = 0;
        a->interval_ms = TG_AIMD_DECREASE_INTERVAL_MS;
        a->cut_once = 0;
}

void tg_aimd_on_success(tg_aimd_t *a)
{
        a->limit = clamp(a, a->limit + 1.0 / a->limit);
}

int tg_aimd_on_throttle(tg_aimd_t *a, int64_t now_ms)
{
        /* A clock that went backwards must not freeze the limit high. */
        if (a->cut_once && now_ms >= a->last_cut_ms &&
            now_ms - a->last_cut_ms < a->interval_ms)
                return 0;
        a->limit = clamp(a, a->limit * TG_AIMD_DECREASE_FACTOR);
        a->last_cut_ms = now_ms;
        a->cut_once = 1;
        return 1;
}

void tg_aimd_raise(tg_aimd_t *a, int64_t n)
{
        if ((double)n > a->limit)
                a->limit = clamp(a, (double)n);
}

int64_t tg_aimd_limit(const tg_aimd_t *a)
{
        /* The epsilon keeps a limit that float sums left at 2.9999999 from
         * flooring to 2. */
        int64_t n = (int64_t)(a->limit + 1e-9);

        if (n < a->min)
                return a->min;
        return n > a->max ? a->max : n;
}
