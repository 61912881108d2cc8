/*
 * Adaptive flow per model: each model has a gate with two limits a call
 * must pass, first attempt and retry alike.
 *
 *   rate         a token bucket whose rate is learned from
 *                ThrottlingException (common/bedrock/ratelimit.h): off
 *                until the first throttle, then cut to what Bedrock
 *                accepted, and grown back slowly while calls wait. Bedrock
 *                quotas are rates, and a throttled call answers at once and
 *                frees its slot, so only a rate bounds the attempts.
 *   concurrency  AIMD (common/bedrock/aimd.h): bounds the calls in flight;
 *                a throttle still cuts it, but never below twice what the
 *                rate needs at the observed latency, so it does not hold
 *                back what the rate lets through.
 *
 * Jobs over a limit wait in the gate's FIFO, holding their reservation: the
 * budget is already safe, only the call waits. A throttled retry waits at
 * the head (it is the oldest). Waiting jobs count as in flight, so a long
 * queue pauses the consumer through the usual backpressure
 * (--max-inflight); nothing fails for waiting. A timer wakes the gate when
 * the next token is due.
 */
#include <stdlib.h>

#include "tgtime.h"
#include "worker.h"

static void gate_admit_waiting(tg_model_gate_t *g);

static void gates_init(tg_worker_t *w, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                tg_model_gate_t *g = &w->gates[i];
                g->model = tg_catalog_model_at(w->catalog, i);
                g->w = w;
                tg_aimd_init(&g->aimd, w->conf->model_concurrency, 1,
                             w->conf->max_inflight);
                tg_rate_init(&g->rate, (double)w->conf->model_rate_min, 1e6);
        }
}

static tg_model_gate_t *gate_for(tg_worker_t *w, const tg_model_t *m)
{
        size_t n = tg_catalog_model_count(w->catalog);

        if (!w->gates) {
                w->gates = calloc(n, sizeof(*w->gates));
                if (!w->gates)
                        return NULL;
                gates_init(w, n);
                w->n_gates = n;
        }
        for (size_t i = 0; i < w->n_gates; i++)
                if (w->gates[i].model == m)
                        return &w->gates[i];
        return NULL;
}

static void on_timer(uv_timer_t *t)
{
        tg_model_gate_t *g = t->data;

        /* The worker is being destroyed (the ledger goes first): the jobs
         * on the list may already be freed. */
        if (!g->w->ledger)
                return;
        gate_admit_waiting(g);
}

static void arm_timer(tg_model_gate_t *g, int64_t ms)
{
        if (!g->timer_open) {
                if (uv_timer_init(g->w->loop, &g->timer))
                        return;
                g->timer.data = g;
                g->timer_open = 1;
        }
        if (!uv_is_active((uv_handle_t *)&g->timer))
                uv_timer_start(&g->timer, on_timer, (uint64_t)ms, 0);
}

/* 1 when a call may start now (and it takes its token). */
static int gate_pass(tg_model_gate_t *g)
{
        return g->active < tg_aimd_limit(&g->aimd) &&
               tg_rate_take(&g->rate, tg_mono_ms());
}

static void push_front(tg_job_list_t *l, tg_job_t *j)
{
        j->wait_next = l->head;
        l->head = j;
        if (!l->tail)
                l->tail = j;
        l->len++;
}

void tg_gate_enter(tg_job_t *j)
{
        tg_model_gate_t *g = gate_for(j->w, j->res.model);

        j->gate = g;
        if (!g || (!g->waiting.len && gate_pass(g))) {
                if (g)
                        g->active++;
                tg_job_call(j);
                return;
        }
        if (tg_job_set_state(j, TG_JOB_AT_GATE))
                return;
        if (j->throttles)
                push_front(&g->waiting, j);
        else
                tg_job_list_push(&g->waiting, j);
        if (g->active < tg_aimd_limit(&g->aimd))
                arm_timer(g, tg_rate_wait_ms(&g->rate, tg_mono_ms()));
}

static void gate_admit_waiting(tg_model_gate_t *g)
{
        while (g->waiting.len && g->active < tg_aimd_limit(&g->aimd)) {
                tg_job_t *j;
                if (!tg_rate_take(&g->rate, tg_mono_ms())) {
                        arm_timer(g, tg_rate_wait_ms(&g->rate, tg_mono_ms()));
                        return;
                }
                j = tg_job_list_pop(&g->waiting);
                g->active++;
                tg_job_run(j); /* AT_GATE: calls */
        }
}

/* The concurrency the rate needs at the observed latency, twice over. */
static int64_t rate_needs(tg_model_gate_t *g)
{
        double r = tg_rate_limit(&g->rate);

        return r > 0 ? (int64_t)(2.0 * r * g->lat_ms / 1000.0) + 1 : 1;
}

static void gate_update(tg_model_gate_t *g, tg_job_t *j, int throttled)
{
        int64_t now = tg_mono_ms();
        double ms = (double)(tg_mono_us() - j->call_start_us) / 1000.0;

        if (throttled) {
                tg_rate_on_throttle(&g->rate, j->call_start_us / 1000, now);
                tg_aimd_on_throttle(&g->aimd, now);
                tg_aimd_raise(&g->aimd, rate_needs(g));
                return;
        }
        if (j->call_start_us > 0 && ms >= 0)
                g->lat_ms = g->lat_ms > 0 ? 0.9 * g->lat_ms + 0.1 * ms : ms;
        tg_rate_on_success(&g->rate, now, g->waiting.len > 0);
        tg_aimd_on_success(&g->aimd);
}

void tg_gate_leave(tg_job_t *j, int throttled)
{
        tg_model_gate_t *g = j->gate;

        if (!g)
                return;
        j->gate = NULL;
        g->active--;
        gate_update(g, j, throttled);
        tg_metrics_model_limit(j->w->metrics, g->model->alias,
                               tg_aimd_limit(&g->aimd));
        tg_metrics_model_rate(j->w->metrics, g->model->alias,
                              (int64_t)(tg_rate_limit(&g->rate) * 1000.0));
        gate_admit_waiting(g);
}

void tg_gates_destroy(tg_worker_t *w)
{
        /* Their timers were closed with every other handle before the
         * loop was. */
        free(w->gates);
        w->gates = NULL;
        w->n_gates = 0;
}
