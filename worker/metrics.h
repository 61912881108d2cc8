/*
 * Prometheus metrics and the /metrics, /healthz, /readyz endpoint
 * (libmicrohttpd, its own thread; updates take a mutex, uncontended but for
 * scrapes). Label sets are bounded: past TG_METRICS_SERIES_MAX, new label
 * values are counted under "__other__".
 */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct tg_metrics tg_metrics_t;
struct tg_job;

#define TG_METRICS_SERIES_MAX 2000

/* label_keys: the tags used as labels, e.g. {"costCenter","applicationId",
 * "environment"}. port 0: no HTTP server (metrics still counted). */
tg_metrics_t *tg_metrics_new(int port, const char *const *label_keys,
                             int n_labels, char *errstr, size_t size);
void tg_metrics_destroy(tg_metrics_t *m);

/* The reason /readyz shows while not ready (readiness.c builds it). */
#define TG_READY_REASON_MAX 200
/* Sets readiness; 1 when it or its reason changed (the caller logs). */
int tg_metrics_set_ready(tg_metrics_t *m, int ready, const char *why);
void tg_metrics_decision(tg_metrics_t *m, const struct tg_job *j);
void tg_metrics_inflight(tg_metrics_t *m, int64_t n);
void tg_metrics_model_limit(tg_metrics_t *m, const char *model, int64_t n);
/* calls/s in thousandths; 0: no rate limit yet */
void tg_metrics_model_rate(tg_metrics_t *m, const char *model, int64_t milli);
void tg_metrics_bedrock_latency(tg_metrics_t *m, int64_t us);
void tg_metrics_redis_rtt(tg_metrics_t *m, int64_t us);
/* One admit (finish 0) or finish (1) call to the ledger with `requests`. */
void tg_metrics_ledger_batch(tg_metrics_t *m, int finish, int requests);
void tg_metrics_overhead(tg_metrics_t *m, int64_t us);
void tg_metrics_bedrock_error(tg_metrics_t *m, const char *type);
void tg_metrics_retry(tg_metrics_t *m);
void tg_metrics_rate_wait(tg_metrics_t *m, const char *budget, int64_t ms);
void tg_metrics_deferred(tg_metrics_t *m, const char *budget);
void tg_metrics_dlq(tg_metrics_t *m);
/* curl's sockets opened (one per connection), closed through our close
 * callback, and the uv_poll handles made for them (http.c): one per socket,
 * not one per call */
void tg_metrics_http_socket(tg_metrics_t *m);
void tg_metrics_http_socket_closed(tg_metrics_t *m);
void tg_metrics_http_poll(tg_metrics_t *m);
void tg_metrics_lag(tg_metrics_t *m, int32_t partition, int64_t lag);
/* The request states' gauge (tollgate_requests_in_state): names[0..n-1]
 * (static strings) are exported with the counts last set (the worker
 * publishes its loop-only counts every tick: no lock per state change). */
#define TG_METRICS_STATES_MAX 32
void tg_metrics_state_names(tg_metrics_t *m, const char *const *names, int n);
void tg_metrics_states(tg_metrics_t *m, const size_t *counts, int n);

/* Renders the text exposition format; caller frees. */
char *tg_metrics_render(tg_metrics_t *m);

#endif
