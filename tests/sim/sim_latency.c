#include "sim_latency.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* z such that P(Z <= z) = 0.99 for a standard normal. */
#define SIM_Z99 2.3263478740408408

static int parse_ms(const char *s, char **end, double *out)
{
        errno = 0;
        *out = strtod(s, end);
        if (*end == s || errno || !isfinite(*out) || *out < 0 ||
            *out > SIM_LATENCY_MAX_MS)
                return -1;
        return 0;
}

static int parse_numbers(const char *s, double *v, int want)
{
        char *end;

        for (int i = 0; i < want; i++) {
                if (parse_ms(s, &end, &v[i]))
                        return -1;
                if (i + 1 < want) {
                        if (*end != ':')
                                return -1;
                        s = end + 1;
                }
        }
        return *end == '\0' ? 0 : -1;
}

static int fit_longtail(sim_latency_t *lat)
{
        if (lat->a <= 0 || lat->b < lat->a)
                return -1;
        lat->mu = log(lat->a);
        lat->sigma = (log(lat->b) - lat->mu) / SIM_Z99;
        return 0;
}

int sim_latency_parse(const char *spec, sim_latency_t *out, char *errstr,
                      size_t errstr_size)
{
        sim_latency_t lat = {0};
        double v[2] = {0, 0};
        int rc;

        if (!strncmp(spec, "uniform:", 8)) {
                lat.kind = SIM_LATENCY_UNIFORM;
                rc = parse_numbers(spec + 8, v, 2) || v[1] < v[0];
        } else if (!strncmp(spec, "longtail:", 9)) {
                lat.kind = SIM_LATENCY_LONGTAIL;
                rc = parse_numbers(spec + 9, v, 2);
        } else {
                lat.kind = SIM_LATENCY_FIXED;
                rc = parse_numbers(strncmp(spec, "fixed:", 6) ? spec : spec + 6,
                                   v, 1);
        }
        lat.a = v[0];
        lat.b = v[1];
        if (!rc && lat.kind == SIM_LATENCY_LONGTAIL)
                rc = fit_longtail(&lat);
        if (rc) {
                snprintf(errstr, errstr_size,
                         "bad latency spec '%.64s': want N, fixed:N, "
                         "uniform:MIN:MAX or longtail:P50:P99 (ms, "
                         "0 < P50 <= P99 for longtail)",
                         spec);
                return -1;
        }
        *out = lat;
        return 0;
}

uint64_t sim_latency_sample(const sim_latency_t *lat, sim_rng_t *rng)
{
        double ms;

        switch (lat->kind) {
        case SIM_LATENCY_UNIFORM:
                ms = lat->a + (lat->b - lat->a) * sim_rng_unit(rng);
                break;
        case SIM_LATENCY_LONGTAIL:
                ms = exp(lat->mu + lat->sigma * sim_rng_normal(rng));
                break;
        default:
                ms = lat->a;
        }
        if (ms > SIM_LATENCY_MAX_MS)
                ms = SIM_LATENCY_MAX_MS;
        return (uint64_t)(ms + 0.5);
}

void sim_latency_format(const sim_latency_t *lat, char *out, size_t size)
{
        switch (lat->kind) {
        case SIM_LATENCY_UNIFORM:
                snprintf(out, size, "uniform:%g:%g", lat->a, lat->b);
                break;
        case SIM_LATENCY_LONGTAIL:
                snprintf(out, size, "longtail:%g:%g", lat->a, lat->b);
                break;
        default:
                snprintf(out, size, "fixed:%g", lat->a);
        }
}
