/*
 * The worker's lifecycle: build every part on one loop, run, drain on
 * SIGTERM, close in the reverse order.
 */
#include "worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/bedrock_auth.h"
#include "ids.h"
#include "log.h"
#include "tgtime.h"

static void kick_cb(uv_timer_t *t)
{
        tg_consumer_drain(t->data);
}

/* Pause or resume consumption after anything that changes capacity; a
 * drain is scheduled, not called, so no callback recurses into another. */
void tg_worker_flow(tg_worker_t *w)
{
        /* Messages held while a commit runs (txn.c) count as in flight:
         * that pauses consumption, so at most --max-inflight jobs' worth
         * of messages can pile up whatever the commit takes. */
        int full =
            w->inflight + tg_txn_held(w) >= (size_t)w->conf->max_inflight;
        int down = !w->ledger || !tg_ledger_up(w->ledger);
        int pause = w->stopping || down || full;

        if (w->stopping &&
            (w->inflight == 0 || tg_mono_ms() > w->stop_deadline_ms)) {
                uv_stop(w->loop);
                return;
        }
        if (!w->consumer)
                return;
        if (pause != w->paused) {
                tg_consumer_pause(w, pause);
                w->drain_pending |= !pause;
        }
        if (!pause && w->drain_pending &&
            !uv_is_active((uv_handle_t *)&w->kick))
                uv_timer_start(&w->kick, kick_cb, 0, 0);
}

void tg_worker_fatal(tg_worker_t *w, const char *fmt, ...)
{
        char why[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        tg_log(TG_LOG_ERROR, "%s: stopping", why);
        w->fatal = 1;
        w->stopping = 1;
        w->stop_deadline_ms = 0; /* no drain: unfinished work is read again */
        /* A fixed reason: the message may quote a broker's words. */
        tg_ready_update(w);
}

static void on_ledger_state(tg_ledger_t *l, int up, void *opaque)
{
        tg_worker_t *w = opaque;

        w->ledger_was_up |= up;
        tg_ready_update(w);
        if (up)
                tg_jobs_redis_up(w);
        tg_worker_flow(w);
}

static void on_signal(uv_signal_t *s, int signum)
{
        tg_worker_t *w = s->data;

        if (w->stopping) {
                tg_log(TG_LOG_WARN, "second signal: exiting now");
                _exit(130);
        }
        tg_log(TG_LOG_INFO, "signal %d: draining %zu in flight (up to %lld ms)",
               signum, w->inflight, (long long)w->conf->drain_timeout_ms);
        w->stopping = 1;
        w->stop_deadline_ms = tg_mono_ms() + w->conf->drain_timeout_ms;
        tg_ready_update(w);
        tg_worker_flow(w);
}

static void on_tick(uv_timer_t *t)
{
        tg_worker_t *w = t->data;

        /* tg_worker_destroy runs the loop once more after the ledger is
         * gone, to let closing handles finish; a tick then has nothing to
         * renew or reap. */
        if (!w->ledger)
                return;
        tg_job_states_publish(w);
        if (w->wait_redis.len && tg_ledger_up(w->ledger))
                tg_jobs_redis_up(w); /* refused on a link that stayed up */
        tg_lease_tick(w);
        tg_reaper_tick(w);
        tg_consumer_tick(w);
        tg_ready_update(w); /* credentials and Kafka auth clear by themselves */
        tg_lag_update(w);
        /* librdkafka signals the consumer's pipe once per non-polling
         * period (edge-triggered), so a drain that stops with messages
         * still queued (a consume call that yields after a rebalance
         * callback, say) would wait for a wakeup that never comes while
         * nothing new is fetched. Draining once a tick bounds such a lost
         * wakeup to a second; it costs one empty consume call. */
        w->drain_pending = 1;
        tg_worker_flow(w);
}

static void on_txn_timer(uv_timer_t *t)
{
        tg_txn_tick(t->data);
}

static int endpoint_setup(tg_worker_t *w, char *errstr, size_t size)
{
        const char *e = w->conf->bedrock_endpoint;
        size_t n;

        if (e && *e)
                snprintf(w->endpoint, sizeof(w->endpoint), "%s", e);
        else
                snprintf(w->endpoint, sizeof(w->endpoint),
                         "https://bedrock-runtime.%s.amazonaws.com",
                         w->conf->region);
        n = strlen(w->endpoint);
        while (n && w->endpoint[n - 1] == '/')
                w->endpoint[--n] = '\0';
        if (tg_bedrock_auth_host(w->endpoint, w->host, sizeof(w->host)))
                return snprintf(errstr, size, "bad Bedrock endpoint %s",
                                w->endpoint),
                       -1;
        return 0;
}

static void topics_setup(tg_worker_t *w)
{
        tg_config_topic(w->conf, "requests", w->t_requests,
                        sizeof(w->t_requests));
        tg_config_topic(w->conf, "completions", w->t_completions,
                        sizeof(w->t_completions));
        tg_config_topic(w->conf, "usage", w->t_usage, sizeof(w->t_usage));
        tg_config_topic(w->conf, "alerts", w->t_alerts, sizeof(w->t_alerts));
        tg_config_topic(w->conf, "dlq", w->t_dlq, sizeof(w->t_dlq));
        tg_config_topic(w->conf, "deferred", w->t_deferred,
                        sizeof(w->t_deferred));
}

/* Tag keys that become metric labels: bounded in number here, in values by
 * the metrics' series cap. */
static int metrics_setup(tg_worker_t *w, char *errstr, size_t size)
{
        const char *keys[8];
        char labels[256], *save = NULL;
        int n = 0;

        snprintf(labels, sizeof(labels), "%s", w->conf->metrics_labels);
        for (char *k = strtok_r(labels, ",", &save); k && n < 8;
             k = strtok_r(NULL, ",", &save))
                keys[n++] = k;
        w->metrics =
            tg_metrics_new((int)w->conf->metrics_port, keys, n, errstr, size);
        return w->metrics ? 0 : -1;
}

static int parts_setup(tg_worker_t *w, char *errstr, size_t size)
{
        if (metrics_setup(w, errstr, size))
                return -1;
        tg_job_states_register(w);
        w->catalog = tg_catalog_load_file(w->conf->catalog, errstr, size);
        if (!w->catalog)
                return -1;
        /* STS (web identity, role_arn) in the worker's own region: a
         * --region given on the command line is not in the environment. */
        tg_creds_conf_t cc = {.region = w->conf->region};

        w->creds = tg_creds_new(&cc, errstr, size);
        if (!w->creds)
                return -1;
        if (endpoint_setup(w, errstr, size))
                return -1;
        if (w->conf->ledger_batch < 1 ||
            w->conf->ledger_batch > TG_LEDGER_BATCH_MAX)
                return snprintf(errstr, size,
                                "--ledger-batch: %lld is not in 1-%d",
                                (long long)w->conf->ledger_batch,
                                TG_LEDGER_BATCH_MAX),
                       -1;
        w->ledger = tg_ledger_new(w->loop, w->conf->redis, on_ledger_state, w,
                                  errstr, size);
        if (!w->ledger)
                return -1;
        tg_ledger_set_rtt_cb(w->ledger, tg_worker_rtt, w);
        tg_ledger_set_batch(w->ledger, (int)w->conf->ledger_batch);
        tg_ledger_set_batch_cb(w->ledger, tg_worker_batch, w);
        if (tg_http_start(w, errstr, size) ||
            tg_producer_start(w, errstr, size))
                return -1;
        /* After the producer: it knows whether transactions are on. */
        w->outbox = tg_jobs_outbox_new(w);
        if (!w->outbox)
                return snprintf(errstr, size, "out of memory"), -1;
        if (w->txn) {
                int64_t every = w->conf->txn_interval_ms / 2;
                uv_timer_start(&w->txn_timer, on_txn_timer,
                               (uint64_t)(every > 0 ? every : 1),
                               (uint64_t)(every > 0 ? every : 1));
        }
        return tg_consumer_start(w, errstr, size);
}

static void handles_setup(tg_worker_t *w)
{
        uv_timer_init(w->loop, &w->kick);
        w->kick.data = w;
        uv_timer_init(w->loop, &w->txn_timer);
        w->txn_timer.data = w;
        uv_timer_init(w->loop, &w->tick);
        w->tick.data = w;
        uv_timer_start(&w->tick, on_tick, 1000, 1000);
        uv_signal_init(w->loop, &w->sigterm);
        uv_signal_init(w->loop, &w->sigint);
        w->sigterm.data = w->sigint.data = w;
        uv_signal_start(&w->sigterm, on_signal, SIGTERM);
        uv_signal_start(&w->sigint, on_signal, SIGINT);
}

tg_worker_t *tg_worker_new(tg_config_t *conf, char *errstr, size_t size)
{
        tg_worker_t *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        w->conf = conf;
        w->cbs =
            (tg_worker_cbs_t){tg_job_start, tg_job_delivered, tg_job_http_done};
        w->rng = tg_random64();
        w->loop = calloc(1, sizeof(*w->loop));
        uv_loop_init(w->loop);
        handles_setup(w);
        topics_setup(w);
        if (parts_setup(w, errstr, size)) {
                tg_worker_destroy(w);
                return NULL;
        }
        tg_log(TG_LOG_INFO,
               "worker %s: consuming %s, Bedrock at %s, "
               "credentials from %s",
               conf->worker_id, w->t_requests, w->endpoint,
               tg_creds_source(w->creds));
        return w;
}

int tg_worker_run(tg_worker_t *w)
{
        uv_run(w->loop, UV_RUN_DEFAULT);
        if (w->inflight)
                tg_log(TG_LOG_WARN,
                       "stopping with %zu requests unfinished: their offsets "
                       "stay uncommitted and they will be redelivered",
                       w->inflight);
        /* Delivery reports served by the flush release offsets; commit
         * after them. */
        if (w->producer)
                tg_producer_flush(w, 10000);
        tg_consumer_commit_sync(w);
        return w->fatal ? 1 : 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

void tg_worker_destroy(tg_worker_t *w)
{
        tg_consumer_close(w);
        tg_producer_close(w);
        tg_ledger_destroy(w->ledger); /* pending calls fail into lists */
        w->ledger = NULL;
        tg_outbox_destroy(w->outbox); /* frees the jobs it held */
        w->outbox = NULL;
        tg_jobs_abandon(w);
        tg_http_stop(w);
        uv_run(w->loop, UV_RUN_NOWAIT);
        uv_walk(w->loop, close_walk, NULL);
        uv_run(w->loop, UV_RUN_DEFAULT);
        uv_loop_close(w->loop);
        free(w->loop);
        tg_budgets_destroy(w);
        tg_gates_destroy(w);
        tg_catalog_destroy(w->catalog);
        tg_creds_destroy(w->creds);
        tg_metrics_destroy(w->metrics);
        free(w);
}
