/*
 * Admission: reserve the request's worst-case cost against every matching
 * budget in one Lua call, or learn that the ledger already knows the request
 * (redelivery) and act on what it knows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bedrock/backoff.h"
#include "keys.h"
#include "ledger_args.h"
#include "log.h"
#include "stored.h"
#include "tgtime.h"
#include "worker.h"

static void on_admit(tg_ledger_t *l, redisReply *r, void *opaque);

static int admit_send(tg_job_t *j)
{
        tg_worker_t *w = j->w;
        char req_key[192];
        tg_ledger_args_t a; /* ~60 KiB: only the counters are set */

        tg_ledger_args_init(&a);
        tg_key_request(req_key, sizeof(req_key), j->request_id);
        tg_ledger_args_str(&a, TG_KEY_VERSION);
        tg_ledger_args_str(&a, req_key);
        tg_ledger_args_str(&a, TG_KEY_LEASES);
        for (size_t i = 0; i < j->n_budgets; i++)
                tg_ledger_args_str(&a, j->budgets[i].key);
        for (size_t i = 0; i < j->n_budgets; i++)
                tg_ledger_args_str(&a, j->budgets[i].rate_key);
        tg_ledger_args_keys_done(&a);
        tg_ledger_args_str(&a, w->budgets_version);
        tg_ledger_args_str(&a, w->conf->worker_id);
        tg_ledger_args_int(&a, tg_time_now_us() / 1000);
        tg_ledger_args_int(&a, w->conf->lease_ms);
        tg_ledger_args_int(&a, j->bound.cost_nano);
        tg_ledger_args_int(&a, j->bound.input_tokens + j->bound.output_tokens);
        tg_ledger_args_int(&a, w->conf->retention_s);
        tg_ledger_args_str(&a, j->request_id);
        for (size_t i = 0; i < j->n_budgets; i++) {
                tg_ledger_args_str(&a, j->budgets[i].id);
                tg_ledger_args_int(&a, j->budgets[i].limit_nano);
                tg_ledger_args_int(&a, j->budgets[i].limit_tokens);
                tg_ledger_args_int(&a, j->budgets[i].rpm);
                tg_ledger_args_int(&a, j->budgets[i].tpm);
        }
        tg_budgets_degrade_args(j, &a);
        return tg_ledger_args_eval(w->ledger, TG_SCRIPT_ADMIT, &a, on_admit, j);
}

/* At most --admit-window admissions await Redis at once; the rest wait
 * here, oldest first. Redis answers a connection in order, so without it a
 * settlement sent behind a whole batch of admissions (the consumer hands
 * over up to --max-inflight at once) waited for all of them: finished jobs
 * piled up against --max-inflight and the pipeline moved in convoys
 * (RESULTS.md, F8). */
static int admit_slot(tg_job_t *j)
{
        tg_worker_t *w = j->w;
        int64_t win = w->conf->admit_window;

        if (win <= 0 || w->admits_out < (size_t)win)
                return 1;
        if (tg_job_set_state(j, TG_JOB_WAIT_SLOT) == 0)
                tg_job_list_push(&w->wait_admit, j);
        return 0;
}

void tg_jobs_admit_more(tg_worker_t *w)
{
        int64_t win = w->conf->admit_window;

        while (w->wait_admit.len && (win <= 0 || w->admits_out < (size_t)win))
                tg_job_run(tg_job_list_pop(&w->wait_admit));
}

void tg_job_admit(tg_job_t *j)
{
        tg_worker_t *w = j->w;

        /* Fail closed: no reservation, no Bedrock call while the
         * credentials have expired; retried until they are back. */
        if (!tg_creds_valid(w->creds)) {
                tg_job_after(j, 1000, TG_JOB_ADMIT_LATER);
                return;
        }
        if (!w->budgets_loaded) {
                if (tg_job_set_state(j, TG_JOB_WAIT_BUDGETS))
                        return;
                tg_job_list_push(&w->wait_budgets, j);
                tg_budgets_reload(w);
                return;
        }
        if (tg_budgets_match(w, j)) {
                tg_job_end(j, TG_END_FAILED,
                           "internal: too many matching budgets");
                return;
        }
        if (!admit_slot(j) || tg_job_set_state(j, TG_JOB_ADMITTING))
                return;
        if (admit_send(j))
                tg_job_wait_redis(j, TG_JOB_ADMIT_NO_REDIS);
        else
                w->admits_out++;
}

static const char *elem(redisReply *r, size_t i)
{
        return (i < r->elements && r->element[i]->type == REDIS_REPLY_STRING)
                   ? r->element[i]->str
                   : "";
}

static void take_stored(tg_job_t *j, redisReply *r)
{
        char err[128];
        int rc;

        /* Already finished by someone: publish exactly what was stored
         * (the usage with its spent values in, as finish.lua says). */
        rc = tg_job_take_stored(j, r, err, sizeof(err));
        if (rc == TG_STORED_ECORRUPT) {
                /* Asking again gets the same bytes: the request moves on
                 * to the DLQ, for an operator, instead of stalling. */
                tg_log(TG_LOG_ERROR, "admit %s: %s", j->request_id, err);
                tg_job_dlq(j, err);
                return;
        }
        if (rc) {
                /* Nothing half published: ask again, the ledger keeps
                 * answering "done" with the same events. */
                tg_log(TG_LOG_ERROR, "admit %s: %s", j->request_id, err);
                tg_job_after(j, 1000, TG_JOB_ADMIT_LATER);
                return;
        }
        tg_job_end(j, TG_END_ANSWERED, NULL);
}

/* Our own reservation, and its first copy still runs in this process (the
 * request was read again after an aborted transaction, or sent twice):
 * wait for that copy to finish rather than call Bedrock a second time. */
static int running_here(tg_job_t *j)
{
        for (tg_job_t *o = j->w->jobs; o; o = o->all_next)
                if (o != j && o->reserved &&
                    strcmp(o->request_id, j->request_id) == 0)
                        return 1;
        return 0;
}

static void resume(tg_job_t *j, redisReply *r)
{
        const char *keys = elem(r, 1);

        j->reserved = 1;
        j->lease_ms = tg_mono_ms();
        if (tg_budgets_from_keys(j->w, j, keys) ||
            tg_budgets_tier_resume(j, r)) {
                tg_job_end(j, TG_END_FAILED,
                           "internal: unreadable reservation record");
                return;
        }
        tg_log(TG_LOG_INFO, "resuming %s after its worker's lease expired",
               j->request_id);
        tg_gate_enter(j);
}

static void rejected(tg_job_t *j, redisReply *r)
{
        if (tg_job_defer(j, elem(r, 1)))
                return;
        snprintf(j->reason, sizeof(j->reason), "budget_exceeded:%s",
                 elem(r, 1));
        tg_job_end(j, TG_END_REJECTED, j->reason);
}

/* Over a rate limit: hold the request (it keeps its place in flight, so a
 * long wait backs up into consumption) and ask again when the window
 * turns, with jitter so held requests do not return all at once. */
static void rate_wait(tg_job_t *j, redisReply *r)
{
        int64_t ms = strtoll(elem(r, 2), NULL, 10);

        ms = (ms < 10      ? 10
              : ms > 60000 ? 60000
                           : ms) +
             (int64_t)(tg_backoff_rand(&j->w->rng) % 250);
        j->wait_rate_ms += ms;
        tg_metrics_rate_wait(j->w->metrics, elem(r, 1), ms);
        tg_job_after(j, ms, TG_JOB_RATE_LIMITED);
}

static void on_admit(tg_ledger_t *l, redisReply *r, void *opaque)
{
        tg_job_t *j = opaque;
        const char *verdict;

        j->w->admits_out--;
        tg_jobs_admit_more(j->w);
        if (!r) {
                tg_job_wait_redis(j, TG_JOB_ADMIT_NO_REDIS);
                return;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
                tg_log(TG_LOG_ERROR, "admit %s: unexpected ledger reply: %s",
                       j->request_id,
                       r->type == REDIS_REPLY_ERROR ? r->str : "?");
                tg_job_after(j, 1000, TG_JOB_ADMIT_LATER);
                return;
        }
        verdict = elem(r, 0);
        if (strcmp(verdict, "ok") == 0) {
                j->reserved = 1;
                j->lease_ms = tg_mono_ms();
                if (tg_budgets_tier_ok(j, r))
                        tg_log(TG_LOG_ERROR,
                               "admit %s: unreadable tier in the ledger's "
                               "reply; calling at %s",
                               j->request_id, tg_tier_name(j->tier.tier));
                tg_gate_enter(j);
        } else if (strcmp(verdict, "rejected") == 0) {
                rejected(j, r);
        } else if (strcmp(verdict, "done") == 0) {
                take_stored(j, r);
        } else if (strcmp(verdict, "busy") == 0) {
                int64_t ms = strtoll(elem(r, 1), NULL, 10);
                tg_job_after(j,
                             ms < 100    ? 100
                             : ms > 5000 ? 5000
                                         : ms,
                             TG_JOB_ADMIT_LATER);
        } else if (strcmp(verdict, "rate") == 0) {
                rate_wait(j, r);
        } else if (strcmp(verdict, "resume") == 0) {
                if (running_here(j))
                        tg_job_after(j, 200, TG_JOB_ADMIT_LATER);
                else
                        resume(j, r);
        } else { /* stale: definitions changed; reload, then again */
                j->w->budgets_loaded = 0;
                tg_job_admit(j);
        }
}
