#include "sim_knobs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_knobs_defaults(sim_knobs_snapshot_t *snap)
{
        memset(snap, 0, sizeof(*snap));
        snap->latency.kind = SIM_LATENCY_FIXED;
        snap->output_tokens = 40;
}

void sim_knobs_init(sim_knobs_t *knobs, const sim_knobs_snapshot_t *initial)
{
        pthread_mutex_init(&knobs->lock, NULL);
        knobs->cur = *initial;
}

void sim_knobs_destroy(sim_knobs_t *knobs)
{
        pthread_mutex_destroy(&knobs->lock);
}

void sim_knobs_get(sim_knobs_t *knobs, sim_knobs_snapshot_t *out)
{
        pthread_mutex_lock(&knobs->lock);
        *out = knobs->cur;
        pthread_mutex_unlock(&knobs->lock);
}

int sim_knobs_parse_rate(const char *s, double *out)
{
        char *end;

        errno = 0;
        *out = strtod(s, &end);
        return (end == s || *end || errno || !(*out >= 0 && *out <= 1)) ? -1
                                                                        : 0;
}

int sim_knobs_set_error_rate(sim_knobs_snapshot_t *snap, const char *spec,
                             char *errstr, size_t errstr_size)
{
        const char *eq = strchr(spec, '=');
        char name[64];
        int err;
        double rate;

        if (!eq || (size_t)(eq - spec) >= sizeof(name))
                goto err;
        memcpy(name, spec, (size_t)(eq - spec));
        name[eq - spec] = '\0';
        err = sim_err_lookup(name);
        if (err < 0 || sim_knobs_parse_rate(eq + 1, &rate))
                goto err;
        snap->error_rates[err] = rate;
        return 0;
err:
        snprintf(errstr, errstr_size,
                 "bad error rate '%.80s': want TYPE=F with F in [0,1] and "
                 "TYPE a Bedrock error (e.g. InternalServerException)",
                 spec);
        return -1;
}

static int json_rate(json_t *v, double *out)
{
        if (!json_is_number(v))
                return -1;
        *out = json_number_value(v);
        return (*out >= 0 && *out <= 1) ? 0 : -1;
}

static int json_count(json_t *v, uint64_t max, uint64_t *out)
{
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (uint64_t)json_integer_value(v) > max)
                return -1;
        *out = (uint64_t)json_integer_value(v);
        return 0;
}

static int apply_error_rates(sim_knobs_snapshot_t *snap, json_t *map,
                             char *errstr, size_t errstr_size)
{
        const char *key;
        json_t *v;

        if (!json_is_object(map))
                goto err;
        memset(snap->error_rates, 0, sizeof(snap->error_rates));
        json_object_foreach(map, key, v)
        {
                int err = sim_err_lookup(key);

                if (err < 0 || json_rate(v, &snap->error_rates[err]))
                        goto err;
        }
        return 0;
err:
        snprintf(errstr, errstr_size,
                 "errorRates must map Bedrock error types to rates in [0,1]");
        return -1;
}

static int apply_latency(sim_knobs_snapshot_t *snap, json_t *changes,
                         char *errstr, size_t errstr_size)
{
        json_t *spec = json_object_get(changes, "latency");
        json_t *ms = json_object_get(changes, "latencyMs");
        char buf[64];

        if (ms) {
                if (!json_is_integer(ms))
                        goto err;
                snprintf(buf, sizeof(buf), "%lld",
                         (long long)json_integer_value(ms));
                return sim_latency_parse(buf, &snap->latency, errstr,
                                         errstr_size);
        }
        if (!spec)
                return 0;
        if (!json_is_string(spec))
                goto err;
        return sim_latency_parse(json_string_value(spec), &snap->latency,
                                 errstr, errstr_size);
err:
        snprintf(errstr, errstr_size,
                 "latency must be a spec string, latencyMs an integer");
        return -1;
}

static int apply_scalars(sim_knobs_snapshot_t *snap, json_t *changes,
                         char *errstr, size_t errstr_size)
{
        json_t *v;

        if ((v = json_object_get(changes, "throttleRate")) &&
            json_rate(v, &snap->throttle_rate)) {
                snprintf(errstr, errstr_size, "throttleRate must be in [0,1]");
                return -1;
        }
        if ((v = json_object_get(changes, "quotaRps")) &&
            json_count(v, 10000000, &snap->quota_rps)) {
                snprintf(errstr, errstr_size, "quotaRps must be >= 0");
                return -1;
        }
        if ((v = json_object_get(changes, "outputTokens")) &&
            (json_count(v, SIM_OUTPUT_TOKENS_MAX, &snap->output_tokens) ||
             snap->output_tokens < 1)) {
                snprintf(errstr, errstr_size, "outputTokens must be in [1,%d]",
                         SIM_OUTPUT_TOKENS_MAX);
                return -1;
        }
        return 0;
}

int sim_knobs_apply_json(sim_knobs_t *knobs, json_t *changes, char *errstr,
                         size_t errstr_size)
{
        sim_knobs_snapshot_t next;
        json_t *rates;

        if (!json_is_object(changes)) {
                snprintf(errstr, errstr_size, "body must be a JSON object");
                return -1;
        }
        sim_knobs_get(knobs, &next);
        if (apply_scalars(&next, changes, errstr, errstr_size) ||
            apply_latency(&next, changes, errstr, errstr_size))
                return -1;
        rates = json_object_get(changes, "errorRates");
        if (rates && apply_error_rates(&next, rates, errstr, errstr_size))
                return -1;
        /* Last writer wins between concurrent POSTs, which is what a test
         * driving storms expects. */
        pthread_mutex_lock(&knobs->lock);
        knobs->cur = next;
        pthread_mutex_unlock(&knobs->lock);
        return 0;
}

json_t *sim_knobs_to_json(const sim_knobs_snapshot_t *snap)
{
        json_t *rates = json_object();
        char lat[96];

        for (int i = 0; i < SIM_ERR_N_INJECTABLE; i++)
                if (snap->error_rates[i] > 0)
                        json_object_set_new(rates,
                                            sim_err_info((sim_err_t)i)->name,
                                            json_real(snap->error_rates[i]));
        sim_latency_format(&snap->latency, lat, sizeof(lat));
        return json_pack("{s:f,s:o,s:s,s:I,s:I}", "throttleRate",
                         snap->throttle_rate, "errorRates", rates, "latency",
                         lat, "quotaRps", (json_int_t)snap->quota_rps,
                         "outputTokens", (json_int_t)snap->output_tokens);
}

int sim_knobs_pick_fault(const sim_knobs_snapshot_t *snap, sim_rng_t *rng)
{
        double u = sim_rng_unit(rng);
        double acc = snap->throttle_rate;

        /* One draw against the stacked rates: with rates summing past 1
         * the first types listed win, which keeps the draw cheap. */
        if (u < acc)
                return SIM_ERR_THROTTLING;
        for (int i = 0; i < SIM_ERR_N_INJECTABLE; i++) {
                acc += snap->error_rates[i];
                if (u < acc)
                        return i;
        }
        return -1;
}
