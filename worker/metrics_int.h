/* The metrics' inside, shared by metrics.c, metrics_render.c and
 * metrics_http.c. */
#ifndef TG_METRICS_INT_H
#define TG_METRICS_INT_H

#include <pthread.h>
#include <stdint.h>

#include "metrics.h"

#define TG_HIST_BUCKETS 16
#define TG_LABELS_MAX   10   /* status, model, then up to 8 tag keys */
#define TG_SERIES_SLOTS 4096 /* > 2 * TG_METRICS_SERIES_MAX */
#define TG_NAMED_MAX    256

typedef struct tg_hist {
        uint64_t buckets[TG_HIST_BUCKETS];
        uint64_t count;
        double sum;
} tg_hist_t;

typedef struct tg_series {
        int used;
        char labels[TG_LABELS_MAX][64];
        uint64_t requests, input_tokens, output_tokens, cost_nano;
} tg_series_t;

typedef struct tg_named {
        char name[64];
        int64_t value;
} tg_named_t;

struct tg_metrics {
        pthread_mutex_t lock;
        struct MHD_Daemon *httpd;
        int n_labels; /* 2 + tag keys */
        char label_keys[TG_LABELS_MAX - 2][64];
        tg_series_t series[TG_SERIES_SLOTS];
        size_t n_series;
        tg_hist_t bedrock, redis, overhead;
        tg_named_t errors[TG_NAMED_MAX], limits[TG_NAMED_MAX],
            lags[TG_NAMED_MAX], rate_waits[TG_NAMED_MAX],
            rate_wait_ms[TG_NAMED_MAX], deferred[TG_NAMED_MAX],
            rates[TG_NAMED_MAX];
        int n_errors, n_limits, n_lags, n_rate_waits, n_rate_wait_ms,
            n_deferred, n_rates;
        uint64_t retries, dlq, overruns, overrun_nano;
        uint64_t http_sockets, http_closed, http_polls;
        uint64_t batches[2], batch_requests[2],
            batch_max[2]; /* admit, finish */
        int64_t inflight, inflight_peak;
        const char *const *state_names; /* static */
        int n_states;
        int64_t in_state[TG_METRICS_STATES_MAX];
        int ready;
        char not_ready[TG_READY_REASON_MAX];
};

void tg_hist_observe(tg_hist_t *h, double v);
const double *tg_hist_bounds(void);

#endif
