#include "metrics.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"
#include "tgtime.h"
#include "worker.h"

static const double latency_buckets[TG_HIST_BUCKETS] = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,   1,     2.5,   5,    10,    30,   120};

void tg_hist_observe(tg_hist_t *h, double v)
{
        for (int i = 0; i < TG_HIST_BUCKETS; i++)
                if (v <= latency_buckets[i])
                        h->buckets[i]++;
        h->count++;
        h->sum += v;
}

const double *tg_hist_bounds(void)
{
        return latency_buckets;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return (h ^ 0xff) * 1099511628211ULL;
}

/* Finds or adds the series for these label values (linear probing). */
static tg_series_t *series_get(tg_metrics_t *m, const char *vals[])
{
        uint64_t h = 14695981039346656037ULL;
        size_t i;

        for (int k = 0; k < m->n_labels; k++)
                h = hash_str(h, vals[k]);
        for (i = h % TG_SERIES_SLOTS;; i = (i + 1) % TG_SERIES_SLOTS) {
                tg_series_t *s = &m->series[i];
                int same = s->used;
                for (int k = 0; same && k < m->n_labels; k++)
                        same = strcmp(s->labels[k], vals[k]) == 0;
                if (same)
                        return s;
                if (s->used)
                        continue;
                if (m->n_series >= TG_METRICS_SERIES_MAX)
                        return NULL;
                s->used = 1;
                m->n_series++;
                for (int k = 0; k < m->n_labels; k++)
                        snprintf(s->labels[k], sizeof(s->labels[k]), "%s",
                                 vals[k]);
                return s;
        }
}

void tg_metrics_decision(tg_metrics_t *m, const tg_job_t *j)
{
        const char *vals[TG_LABELS_MAX + 2];
        tg_series_t *s;

        vals[0] = tg_status_name(j->status);
        vals[1] = j->res.model ? j->res.model->alias : "unknown";
        for (int k = 0; k < m->n_labels - 2; k++) {
                const char *v = tg_request_tag(&j->req, m->label_keys[k]);
                vals[k + 2] = v ? v : "";
        }
        pthread_mutex_lock(&m->lock);
        s = series_get(m, vals);
        if (!s) {
                for (int k = 1; k < m->n_labels; k++)
                        vals[k] = "__other__";
                s = series_get(m, vals);
        }
        if (s) {
                s->requests++;
                s->input_tokens += (uint64_t)j->usage.input_tokens;
                s->output_tokens += (uint64_t)j->usage.output_tokens;
                s->cost_nano +=
                    (uint64_t)(j->status == TG_STATUS_COMPLETED ? j->cost_nano
                                                                : 0);
        }
        if (j->overrun_nano > 0) {
                m->overruns++;
                m->overrun_nano += (uint64_t)j->overrun_nano;
        }
        tg_hist_observe(&m->overhead,
                        (double)(tg_mono_us() - j->t0_us - j->bedrock_us) /
                            1e6);
        pthread_mutex_unlock(&m->lock);
}

#define LOCKED(m, stmt)                                                        \
        do {                                                                   \
                pthread_mutex_lock(&(m)->lock);                                \
                stmt;                                                          \
                pthread_mutex_unlock(&(m)->lock);                              \
        } while (0)

void tg_metrics_inflight(tg_metrics_t *m, int64_t n)
{
        LOCKED(m, m->inflight = n;
               if (n > m->inflight_peak) m->inflight_peak = n);
}

void tg_metrics_state_names(tg_metrics_t *m, const char *const *names, int n)
{
        LOCKED(m, m->state_names = names;
               m->n_states =
                   n < TG_METRICS_STATES_MAX ? n : TG_METRICS_STATES_MAX);
}

void tg_metrics_states(tg_metrics_t *m, const size_t *counts, int n)
{
        pthread_mutex_lock(&m->lock);
        for (int s = 0; s < n && s < TG_METRICS_STATES_MAX; s++)
                m->in_state[s] = (int64_t)counts[s];
        pthread_mutex_unlock(&m->lock);
}

void tg_metrics_bedrock_latency(tg_metrics_t *m, int64_t us)
{
        LOCKED(m, tg_hist_observe(&m->bedrock, (double)us / 1e6));
}

void tg_metrics_redis_rtt(tg_metrics_t *m, int64_t us)
{
        LOCKED(m, tg_hist_observe(&m->redis, (double)us / 1e6));
}

void tg_metrics_ledger_batch(tg_metrics_t *m, int finish, int requests)
{
        pthread_mutex_lock(&m->lock);
        m->batches[finish]++;
        m->batch_requests[finish] += (uint64_t)requests;
        if ((uint64_t)requests > m->batch_max[finish])
                m->batch_max[finish] = (uint64_t)requests;
        pthread_mutex_unlock(&m->lock);
}

void tg_metrics_overhead(tg_metrics_t *m, int64_t us)
{
        LOCKED(m, tg_hist_observe(&m->overhead, (double)us / 1e6));
}

void tg_metrics_retry(tg_metrics_t *m)
{
        LOCKED(m, m->retries++);
}

void tg_metrics_dlq(tg_metrics_t *m)
{
        LOCKED(m, m->dlq++);
}

void tg_metrics_http_socket(tg_metrics_t *m)
{
        LOCKED(m, m->http_sockets++);
}

void tg_metrics_http_socket_closed(tg_metrics_t *m)
{
        LOCKED(m, m->http_closed++);
}

void tg_metrics_http_poll(tg_metrics_t *m)
{
        LOCKED(m, m->http_polls++);
}

static void named_set(tg_named_t *a, int *n, const char *name, int64_t v,
                      int add)
{
        for (int i = 0; i < *n; i++) {
                if (strcmp(a[i].name, name) == 0) {
                        a[i].value = add ? a[i].value + v : v;
                        return;
                }
        }
        if (*n < TG_NAMED_MAX) {
                snprintf(a[*n].name, sizeof(a[*n].name), "%s", name);
                a[(*n)++].value = v;
        }
}

void tg_metrics_bedrock_error(tg_metrics_t *m, const char *type)
{
        LOCKED(m, named_set(m->errors, &m->n_errors, type, 1, 1));
}

void tg_metrics_model_limit(tg_metrics_t *m, const char *model, int64_t n)
{
        LOCKED(m, named_set(m->limits, &m->n_limits, model, n, 0));
}

void tg_metrics_model_rate(tg_metrics_t *m, const char *model, int64_t milli)
{
        LOCKED(m, named_set(m->rates, &m->n_rates, model, milli, 0));
}

void tg_metrics_lag(tg_metrics_t *m, int32_t partition, int64_t lag)
{
        char name[16];

        snprintf(name, sizeof(name), "%d", (int)partition);
        LOCKED(m, named_set(m->lags, &m->n_lags, name, lag, 0));
}

int tg_metrics_set_ready(tg_metrics_t *m, int ready, const char *why)
{
        int changed;

        why = why ? why : "";
        LOCKED(m, changed = m->ready != ready || strcmp(m->not_ready, why);
               m->ready = ready;
               snprintf(m->not_ready, sizeof(m->not_ready), "%s", why));
        return changed;
}

void tg_metrics_rate_wait(tg_metrics_t *m, const char *budget, int64_t ms)
{
        LOCKED(m, named_set(m->rate_waits, &m->n_rate_waits, budget, 1, 1);
               named_set(m->rate_wait_ms, &m->n_rate_wait_ms, budget, ms, 1));
}

void tg_metrics_deferred(tg_metrics_t *m, const char *budget)
{
        LOCKED(m, named_set(m->deferred, &m->n_deferred, budget, 1, 1));
}
