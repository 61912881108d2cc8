/* The Prometheus text exposition format (version 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"

typedef struct out {
        char *buf;
        size_t len, cap;
} out_t;

static void put(out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(out_t *o, const char *fmt, ...)
{
        va_list ap;
        int n;

        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
                va_end(ap);
                if (n >= 0 && (size_t)n < o->cap - o->len) {
                        o->len += (size_t)n;
                        return;
                }
                char *b = realloc(o->buf, o->cap * 2);
                if (!b)
                        return;
                o->buf = b;
                o->cap *= 2;
        }
}

/* Label values come from tags: AWS tag characters need no escaping except
 * backslash and quote, which tags cannot hold; escape anyway. */
static void put_label(out_t *o, const char *k, const char *v, int first)
{
        put(o, "%s%s=\"", first ? "" : ",", k);
        for (; *v; v++) {
                if (*v == '"' || *v == '\\')
                        put(o, "\\%c", *v);
                else if (*v == '\n')
                        put(o, "\\n");
                else
                        put(o, "%c", *v);
        }
        put(o, "\"");
}

static void put_series_labels(out_t *o, const tg_metrics_t *m,
                              const tg_series_t *s)
{
        put(o, "{");
        put_label(o, "status", s->labels[0], 1);
        put_label(o, "model", s->labels[1], 0);
        for (int k = 2; k < m->n_labels; k++)
                put_label(o, m->label_keys[k - 2], s->labels[k], 0);
        put(o, "}");
}

static void put_counter_family(out_t *o, const tg_metrics_t *m,
                               const char *name, const char *help, int which)
{
        put(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
        for (size_t i = 0; i < TG_SERIES_SLOTS; i++) {
                const tg_series_t *s = &m->series[i];
                uint64_t v[] = {s->requests, s->input_tokens, s->output_tokens,
                                s->cost_nano};
                if (!s->used)
                        continue;
                put(o, "%s", name);
                put_series_labels(o, m, s);
                put(o, " %llu\n", (unsigned long long)v[which]);
        }
}

static void put_hist(out_t *o, const char *name, const char *help,
                     const tg_hist_t *h)
{
        const double *b = tg_hist_bounds();

        put(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
        for (int i = 0; i < TG_HIST_BUCKETS; i++)
                put(o, "%s_bucket{le=\"%g\"} %llu\n", name, b[i],
                    (unsigned long long)h->buckets[i]);
        put(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n",
            name, (unsigned long long)h->count, name, h->sum, name,
            (unsigned long long)h->count);
}

static void put_named(out_t *o, const char *name, const char *type,
                      const char *help, const char *label, const tg_named_t *a,
                      int n)
{
        put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        for (int i = 0; i < n; i++) {
                put(o, "%s{", name);
                put_label(o, label, a[i].name, 1);
                put(o, "} %lld\n", (long long)a[i].value);
        }
}

/* A gauge kept in thousandths. */
static void put_named_milli(out_t *o, const char *name, const char *help,
                            const char *label, const tg_named_t *a, int n)
{
        put(o, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
        for (int i = 0; i < n; i++) {
                put(o, "%s{", name);
                put_label(o, label, a[i].name, 1);
                put(o, "} %.3f\n", (double)a[i].value / 1000.0);
        }
}

/* Values kept in milliseconds, exposed in seconds as Prometheus expects. */
static void put_named_seconds(out_t *o, const char *name, const char *help,
                              const char *label, const tg_named_t *a, int n)
{
        put(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
        for (int i = 0; i < n; i++) {
                put(o, "%s{", name);
                put_label(o, label, a[i].name, 1);
                put(o, "} %.3f\n", (double)a[i].value / 1000.0);
        }
}

static void put_scalar(out_t *o, const char *name, const char *type,
                       const char *help, long long v)
{
        put(o, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type,
            name, v);
}

static void put_states(out_t *o, const tg_metrics_t *m)
{
        const char *name = "tollgate_requests_in_state";

        if (!m->n_states)
                return;
        put(o,
            "# HELP %s Requests in flight in each state "
            "(docs/architecture.md)\n# TYPE %s gauge\n",
            name, name);
        for (int s = 0; s < m->n_states; s++)
                put(o, "%s{state=\"%s\"} %lld\n", name, m->state_names[s],
                    (long long)m->in_state[s]);
}

/* Ledger calls of admit.lua/finish.lua (batched or not) and their
 * requests: requests / batches is the mean batch size. */
static void put_batches(out_t *o, const tg_metrics_t *m)
{
        static const char *const script[2] = {"admit", "finish"};
        static const char *const fam[3][3] = {
            {"tollgate_ledger_batches_total", "counter",
             "Ledger admit/finish calls (one batch each)"},
            {"tollgate_ledger_batch_requests_total", "counter",
             "Requests in those calls"},
            {"tollgate_ledger_batch_max_requests", "gauge",
             "Most requests in one such call"},
        };
        const uint64_t *v[3] = {m->batches, m->batch_requests, m->batch_max};

        for (int f = 0; f < 3; f++) {
                put(o, "# HELP %s %s\n# TYPE %s %s\n", fam[f][0], fam[f][2],
                    fam[f][0], fam[f][1]);
                for (int s = 0; s < 2; s++)
                        put(o, "%s{script=\"%s\"} %llu\n", fam[f][0], script[s],
                            (unsigned long long)v[f][s]);
        }
}

char *tg_metrics_render(tg_metrics_t *m)
{
        out_t o = {malloc(65536), 0, 65536};

        if (!o.buf)
                return NULL;
        pthread_mutex_lock(&m->lock);
        put_counter_family(&o, m, "tollgate_requests_total",
                           "Requests decided, by status and labels", 0);
        put_counter_family(&o, m, "tollgate_input_tokens_total",
                           "Input tokens billed", 1);
        put_counter_family(&o, m, "tollgate_output_tokens_total",
                           "Output tokens billed", 2);
        put_counter_family(&o, m, "tollgate_cost_nano_usd_total",
                           "Cost of approved requests, nano-USD", 3);
        put_scalar(&o, "tollgate_inflight", "gauge", "Requests in flight",
                   m->inflight);
        put_scalar(&o, "tollgate_inflight_peak", "gauge",
                   "Most requests in flight at once", m->inflight_peak);
        put_states(&o, m);
        put_named(&o, "tollgate_model_concurrency_limit", "gauge",
                  "Adaptive concurrency limit per model", "model", m->limits,
                  m->n_limits);
        put_named_milli(&o, "tollgate_model_rate_limit",
                        "Adaptive call rate limit per model, calls/s (0: none "
                        "yet, no throttle seen)",
                        "model", m->rates, m->n_rates);
        put_named(&o, "tollgate_bedrock_errors_total", "counter",
                  "Bedrock errors by AWS error type", "type", m->errors,
                  m->n_errors);
        put_scalar(&o, "tollgate_bedrock_retries_total", "counter",
                   "Bedrock calls retried", (long long)m->retries);
        put_named(&o, "tollgate_rate_limited_total", "counter",
                  "Admissions held by a budget's rate limit", "budget",
                  m->rate_waits, m->n_rate_waits);
        put_named_seconds(&o, "tollgate_rate_wait_seconds_total",
                          "Time requests were held by rate limits", "budget",
                          m->rate_wait_ms, m->n_rate_wait_ms);
        put_named(&o, "tollgate_deferred_total", "counter",
                  "Requests parked on the deferred topic", "budget",
                  m->deferred, m->n_deferred);
        put_scalar(&o, "tollgate_dlq_total", "counter",
                   "Messages sent to the DLQ", (long long)m->dlq);
        put_scalar(&o, "tollgate_http_sockets_opened_total", "counter",
                   "Sockets opened for Bedrock connections",
                   (long long)m->http_sockets);
        put_scalar(&o, "tollgate_http_sockets_closed_total", "counter",
                   "Sockets of Bedrock connections closed",
                   (long long)m->http_closed);
        put_scalar(&o, "tollgate_http_poll_handles_created_total", "counter",
                   "uv_poll handles made for those sockets",
                   (long long)m->http_polls);
        put_scalar(&o, "tollgate_overruns_total", "counter",
                   "Requests whose real cost passed their reservation",
                   (long long)m->overruns);
        put_scalar(&o, "tollgate_overrun_nano_usd_total", "counter",
                   "Cost above reservations, recorded exactly, nano-USD",
                   (long long)m->overrun_nano);
        put_named(&o, "tollgate_consumer_lag", "gauge",
                  "Messages behind the end of each partition", "partition",
                  m->lags, m->n_lags);
        put_hist(&o, "tollgate_bedrock_latency_seconds",
                 "Bedrock call latency per attempt", &m->bedrock);
        put_hist(&o, "tollgate_redis_rtt_seconds", "Ledger call round trip",
                 &m->redis);
        put_batches(&o, m);
        put_hist(&o, "tollgate_overhead_seconds",
                 "Time a request spends in tollgate outside Bedrock calls",
                 &m->overhead);
        put_scalar(&o, "tollgate_ready", "gauge", "1 when admitting work",
                   m->ready);
        pthread_mutex_unlock(&m->lock);
        return o.buf;
}
