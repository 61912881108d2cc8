#include "sim_rng.h"

#include <math.h>
#include <stdio.h>

/* splitmix64: tiny, fast and well mixed, which is all a simulator needs. */
uint64_t sim_rng_next(sim_rng_t *rng)
{
        uint64_t z = (rng->s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

void sim_rng_init(sim_rng_t *rng, uint64_t seed, uint64_t stream)
{
        /* Mix the stream number so neighbouring requests do not get
         * overlapping splitmix sequences. */
        sim_rng_t mix = {stream ^ 0x5851f42d4c957f2dULL};

        rng->s = seed ^ sim_rng_next(&mix);
}

double sim_rng_unit(sim_rng_t *rng)
{
        return (double)(sim_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double sim_rng_normal(sim_rng_t *rng)
{
        double u1 = sim_rng_unit(rng);
        double u2 = sim_rng_unit(rng);

        if (u1 < 1e-300)
                u1 = 1e-300;
        return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void sim_rng_uuid(sim_rng_t *rng, char out[37])
{
        uint64_t hi = sim_rng_next(rng);
        uint64_t lo = sim_rng_next(rng);

        hi = (hi & ~0xf000ULL) | 0x4000ULL;
        lo = (lo & ~(3ULL << 62)) | (2ULL << 62);
        snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
                 (unsigned)((hi >> 16) & 0xffff), (unsigned)(hi & 0xffff),
                 (unsigned)(lo >> 48),
                 (unsigned long long)(lo & 0xffffffffffffULL));
}
