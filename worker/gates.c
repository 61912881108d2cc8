/*
 * Adaptive concurrency per model: each model has a gate whose limit falls
 * multiplicatively on ThrottlingException and climbs additively on success
 * (AIMD), so a fleet settles near the account's quota instead of hammering
 * it. Jobs over the limit wait in the gate's FIFO, holding their
 * reservation: the budget is already safe, only the call waits.
 */
#include <stdlib.h>

#include "tgtime.h"
#include "worker.h"

static tg_model_gate_t *gate_for(tg_worker_t *w, const tg_model_t *m)
{
        size_t n = tg_catalog_model_count(w->catalog);

        if (!w->gates) {
                w->gates = calloc(n, sizeof(*w->gates));
                if (!w->gates)
                        return NULL;
                for (size_t i = 0; i < n; i++) {
                        w->gates[i].model = tg_catalog_model_at(w->catalog, i);
                        tg_aimd_init(&w->gates[i].aimd,
                                     w->conf->model_concurrency, 1,
                                     w->conf->max_inflight);
                }
                w->n_gates = n;
        }
        for (size_t i = 0; i < w->n_gates; i++)
                if (w->gates[i].model == m)
                        return &w->gates[i];
        return NULL;
}

void tg_gate_enter(tg_job_t *j, void (*fn)(tg_job_t *))
{
        tg_model_gate_t *g = gate_for(j->w, j->res.model);

        j->gate = g;
        if (!g || g->active < tg_aimd_limit(&g->aimd)) {
                if (g)
                        g->active++;
                fn(j);
                return;
        }
        j->redis_fn = fn; /* reused: what to run when admitted */
        tg_job_list_push(&g->waiting, j);
}

static void gate_admit_waiting(tg_model_gate_t *g)
{
        while (g->waiting.len && g->active < tg_aimd_limit(&g->aimd)) {
                tg_job_t *j = tg_job_list_pop(&g->waiting);
                g->active++;
                j->redis_fn(j);
        }
}

void tg_gate_leave(tg_job_t *j, int throttled)
{
        tg_model_gate_t *g = j->gate;

        if (!g)
                return;
        j->gate = NULL;
        g->active--;
        if (throttled)
                tg_aimd_on_throttle(&g->aimd, tg_mono_ms());
        else
                tg_aimd_on_success(&g->aimd);
        tg_metrics_model_limit(j->w->metrics, g->model->alias,
                               tg_aimd_limit(&g->aimd));
        gate_admit_waiting(g);
}

void tg_gates_destroy(tg_worker_t *w)
{
        free(w->gates);
        w->gates = NULL;
        w->n_gates = 0;
}
