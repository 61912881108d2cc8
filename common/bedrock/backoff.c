/*
 * Full-jitter exponential backoff and its PRNG.
 */
#include "backoff.h"

uint64_t tg_backoff_rand(uint64_t *state)
{
        uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* min(cap, base * 2^attempt) without ever computing an overflowing
 * product: the doubling stops as soon as it would pass the cap. */
static int64_t window_ms(int attempt, int64_t base_ms, int64_t cap_ms)
{
        int64_t w = base_ms;

        for (int i = 0; i < attempt; i++) {
                if (w > cap_ms / 2)
                        return cap_ms;
                w *= 2;
        }
        return w < cap_ms ? w : cap_ms;
}

int64_t tg_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms,
                      uint64_t *rng_state)
{
        uint64_t span;

        if (base_ms <= 0 || cap_ms <= 0)
                return 0;
        if (attempt < 0)
                attempt = 0;
        /* The window is at most INT64_MAX, so span + 1 cannot wrap. The
         * modulo bias (a relative skew under span / 2^64) is negligible. */
        span = (uint64_t)window_ms(attempt, base_ms, cap_ms);
        return (int64_t)(tg_backoff_rand(rng_state) % (span + 1));
}
