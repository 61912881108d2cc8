/*
 * One request's state machine, top to bottom (docs/architecture.md, "A
 * request's life", draws it):
 *
 *   1. the states and their names (job_state.h, the table below);
 *   2. which change is allowed (`allowed`), checked by tg_job_set_state,
 *      the one function every change goes through: it logs "A => B" at
 *      debug level and keeps the per-state counts (w->in_state, published
 *      every tick as the gauge tollgate_requests_in_state);
 *   3. the waits: a timer (tg_job_after) or Redis's return
 *      (tg_job_wait_redis), each resuming the job through tg_job_run;
 *   4. the resume switch, tg_job_run: the step that follows each waiting
 *      state (no stored "next step" pointer: the state says it);
 *   5. the end, tg_job_end: every way a request ends (a status to settle,
 *      the ledger's stored answer, the DLQ, a deferral) goes through it;
 *      then the outbox (tg_job_output, tg_job_emit) and tg_job_free.
 *
 * Modelled on curl's lib/multi.c (CURLMstate, multistate()) and
 * librdkafka's rdkafka_txnmgr.c (transitions checked against a table). The
 * steps themselves live where their transport is: admission in
 * job_admit.c, the gates in gates.c, the call in job_call.c and
 * job_result.c, settling in job_finish.c; each sets the state it leaves
 * the job in.
 *
 * Thread rule: the loop thread only, like the jobs and the worker.
 */
#include <stdio.h>

#include "log.h"
#include "worker.h"

/* ------------------------------------------------------------ 1. states */

static const char *const state_names[TG_JOB_STATES] = {
    [TG_JOB_CONSUMED] = "consumed",
    [TG_JOB_WAIT_BUDGETS] = "waiting_budgets",
    [TG_JOB_WAIT_SLOT] = "waiting_admit_slot",
    [TG_JOB_ADMITTING] = "admitting",
    [TG_JOB_ADMIT_LATER] = "admit_later",
    [TG_JOB_RATE_LIMITED] = "rate_limited",
    [TG_JOB_ADMIT_NO_REDIS] = "admit_waiting_redis",
    [TG_JOB_AT_GATE] = "at_gate",
    [TG_JOB_CALLING] = "calling",
    [TG_JOB_BACKING_OFF] = "backing_off",
    [TG_JOB_SETTLING] = "settling",
    [TG_JOB_SETTLE_LATER] = "settle_later",
    [TG_JOB_SETTLE_NO_REDIS] = "settle_waiting_redis",
    [TG_JOB_HELD] = "held",
    [TG_JOB_PUBLISHING] = "publishing",
    [TG_JOB_DONE] = "done",
};

const char *tg_job_state_name(int s)
{
        return s >= 0 && s < TG_JOB_STATES ? state_names[s] : "unknown";
}

/* ----------------------------------------------------- 2. the transitions */

#define B(s) (1u << (s))

/* Where tg_job_admit can leave a job: waiting for definitions, a slot,
 * a timer or Redis; its admission sent; or ended (FAILED: too many
 * budgets) and settling. */
#define ADMIT_OUTCOMES                                                         \
        (B(TG_JOB_WAIT_BUDGETS) | B(TG_JOB_WAIT_SLOT) | B(TG_JOB_ADMITTING) |  \
         B(TG_JOB_ADMIT_LATER) | B(TG_JOB_ADMIT_NO_REDIS) |                    \
         B(TG_JOB_SETTLING))

/* allowed[from] has bit `to` set. A change to the same state is no change
 * (a step redone: a job that finds Redis away again). */
static const unsigned allowed[TG_JOB_STATES] = {
    /* parsed: admitted, or ended invalid (settling) or not JSON (DLQ) */
    [TG_JOB_CONSUMED] = ADMIT_OUTCOMES | B(TG_JOB_HELD),
    [TG_JOB_WAIT_BUDGETS] = ADMIT_OUTCOMES,
    [TG_JOB_WAIT_SLOT] = ADMIT_OUTCOMES,
    /* the verdict: ok/resume (gate), rate, busy, stale (admit again),
     * rejected (settling) or deferred, done (the stored answer: held) */
    [TG_JOB_ADMITTING] = ADMIT_OUTCOMES | B(TG_JOB_RATE_LIMITED) |
                         B(TG_JOB_AT_GATE) | B(TG_JOB_CALLING) | B(TG_JOB_HELD),
    [TG_JOB_ADMIT_LATER] = ADMIT_OUTCOMES,
    [TG_JOB_RATE_LIMITED] = ADMIT_OUTCOMES,
    [TG_JOB_ADMIT_NO_REDIS] = ADMIT_OUTCOMES,
    [TG_JOB_AT_GATE] = B(TG_JOB_CALLING),
    /* retried through the gate (throttled), after a backoff, or ended
     * (completed, failed: settling) */
    [TG_JOB_CALLING] =
        B(TG_JOB_AT_GATE) | B(TG_JOB_BACKING_OFF) | B(TG_JOB_SETTLING),
    [TG_JOB_BACKING_OFF] = B(TG_JOB_AT_GATE) | B(TG_JOB_CALLING),
    [TG_JOB_SETTLING] =
        B(TG_JOB_SETTLE_LATER) | B(TG_JOB_SETTLE_NO_REDIS) | B(TG_JOB_HELD),
    [TG_JOB_SETTLE_LATER] = B(TG_JOB_SETTLING),
    [TG_JOB_SETTLE_NO_REDIS] = B(TG_JOB_SETTLING),
    /* produced (idempotent: at once; transactions: in offset order), or
     * dropped (its partition revoked or read again) */
    [TG_JOB_HELD] = B(TG_JOB_PUBLISHING) | B(TG_JOB_DONE),
    [TG_JOB_PUBLISHING] = B(TG_JOB_DONE),
    [TG_JOB_DONE] = 0,
};

int tg_job_state_allowed(int from, int to)
{
        if (from < 0 || from >= TG_JOB_STATES || to < 0 || to >= TG_JOB_STATES)
                return 0;
        return from == to || (allowed[from] & B(to)) != 0;
}

/* The gauge: DONE is not a place a job stays, so it is not exported. */
void tg_job_states_register(tg_worker_t *w)
{
        tg_metrics_state_names(w->metrics, state_names, TG_JOB_DONE);
}

/* The counts to the gauge, once a tick (worker.c): a state change takes no
 * lock, and a /metrics scrape never holds up the loop on one. */
void tg_job_states_publish(tg_worker_t *w)
{
        tg_metrics_states(w->metrics, w->in_state, TG_JOB_DONE);
}

void tg_job_state_begin(tg_job_t *j)
{
        j->state = TG_JOB_CONSUMED;
        j->w->in_state[TG_JOB_CONSUMED]++;
}

/* Every change of a job's state. An illegal one is a bug: it is refused
 * (the job keeps its state) and stops the worker through tg_worker_fatal,
 * which logs it (the unfinished requests are read again by the restart);
 * -1. At shutdown
 * (tg_jobs_abandon) a job in any state may be freed unanswered. */
int tg_job_set_state(tg_job_t *j, tg_job_state_t to)
{
        tg_worker_t *w = j->w;
        tg_job_state_t from = j->state;

        if (from == to)
                return 0;
        if (!tg_job_state_allowed((int)from, (int)to) &&
            !(to == TG_JOB_DONE && w->closing)) {
                tg_worker_fatal(w,
                                "request %d/%lld: illegal state change "
                                "%s => %s",
                                (int)j->partition, (long long)j->offset,
                                state_names[from], tg_job_state_name(to));
                return -1;
        }
        if (tg_log_enabled(TG_LOG_DEBUG))
                tg_log(TG_LOG_DEBUG, "request %d/%lld %s: %s => %s",
                       (int)j->partition, (long long)j->offset, j->request_id,
                       state_names[from], state_names[to]);
        j->state = to;
        w->in_state[from]--;
        w->in_state[to]++;
        return 0;
}

/* --------------------------------------------------------- 3. the waits */

static void timer_fire(uv_timer_t *t)
{
        tg_job_run(t->data);
}

/* Waits ms in `state` (a timer state), then resumes. */
void tg_job_after(tg_job_t *j, int64_t ms, tg_job_state_t state)
{
        if (tg_job_set_state(j, state))
                return;
        if (!j->timer_open) {
                uv_timer_init(j->w->loop, &j->timer);
                j->timer.data = j;
                j->timer_open = 1;
        }
        uv_timer_start(&j->timer, timer_fire, (uint64_t)(ms > 0 ? ms : 0), 0);
}

/* Waits in `state` (ADMIT_NO_REDIS, SETTLE_NO_REDIS) for Redis. */
void tg_job_wait_redis(tg_job_t *j, tg_job_state_t state)
{
        if (tg_job_set_state(j, state))
                return;
        tg_job_list_push(&j->w->wait_redis, j);
        tg_worker_flow(j->w);
}

/* Redis is back: resume each waiting job, oldest first. Jobs that fail
 * again queue up behind, so take only those waiting now. Also called every
 * tick while the ledger is up: a call can fail with the link staying up
 * (NOSCRIPT after a SCRIPT FLUSH), and no state change would ever come. */
void tg_jobs_redis_up(tg_worker_t *w)
{
        size_t n = w->wait_redis.len;

        while (n-- > 0 && tg_ledger_up(w->ledger))
                tg_job_run(tg_job_list_pop(&w->wait_redis));
        tg_jobs_admit_more(w);
}

/* ---------------------------------------------------- 4. the resume switch */

/* A wait is over (a timer fired, Redis is back, a slot or a gate opened,
 * the definitions came): do the step the job's state waited for. States
 * left by a reply (admitting, calling, settling, publishing) are resumed
 * by that reply's callback, never from here. */
void tg_job_run(tg_job_t *j)
{
        switch (j->state) {
        case TG_JOB_WAIT_BUDGETS:
        case TG_JOB_WAIT_SLOT:
        case TG_JOB_ADMIT_LATER:
        case TG_JOB_RATE_LIMITED:
        case TG_JOB_ADMIT_NO_REDIS:
                tg_job_admit(j);
                return;
        case TG_JOB_AT_GATE: /* the gate gave it a slot and a token */
                tg_job_call(j);
                return;
        case TG_JOB_BACKING_OFF:
                tg_gate_enter(j);
                return;
        case TG_JOB_SETTLE_LATER:
        case TG_JOB_SETTLE_NO_REDIS:
                tg_job_finish(j);
                return;
        default:
                tg_worker_fatal(j->w, "%s: nothing to resume in state %s",
                                j->request_id, tg_job_state_name(j->state));
        }
}

/* ------------------------------------------------------------- 5. the end */

/* The one way a request ends. A status (completed, rejected, invalid,
 * failed) is settled first (job_finish.c: finish.lua stores the events,
 * then tg_job_publish); the ledger's stored answer is published as it is;
 * DLQ and deferred messages (their headers made by job_dlq.c and
 * job_defer.c) go to the outbox at once. reason: NULL, or the reason
 * (j->reason itself may be passed). */
void tg_job_end(tg_job_t *j, tg_job_end_t how, const char *reason)
{
        static const tg_status_t status[] = {
            [TG_END_COMPLETED] = TG_STATUS_COMPLETED,
            [TG_END_REJECTED] = TG_STATUS_REJECTED,
            [TG_END_INVALID] = TG_STATUS_INVALID,
            [TG_END_FAILED] = TG_STATUS_FAILED,
        };

        j->end = how;
        if (reason && reason != j->reason)
                snprintf(j->reason, sizeof(j->reason), "%s", reason);
        switch (how) {
        case TG_END_COMPLETED:
        case TG_END_REJECTED:
        case TG_END_INVALID:
        case TG_END_FAILED:
                j->status = status[how];
                if (tg_job_set_state(j, TG_JOB_SETTLING) == 0)
                        tg_job_finish(j);
                return;
        case TG_END_ANSWERED:
                tg_job_publish(j);
                return;
        default: /* DLQ, DEFERRED */
                tg_job_output(j);
        }
}

/* Its messages are ready: the outbox produces them now (idempotent: the
 * job then waits for their delivery reports, tg_job_delivered) or once
 * every request before it on its partition is ready too (transactions:
 * they go out in the transaction that commits their offset). */
void tg_job_output(tg_job_t *j)
{
        if (tg_job_set_state(j, TG_JOB_HELD) == 0)
                tg_outbox_ready(j->w->outbox, &j->ob);
}

/* The outbox's turn for the job (its emit op): produce what its end
 * decided. 0, or -1 when refused. */
int tg_job_emit(tg_job_t *j)
{
        if (tg_job_set_state(j, TG_JOB_PUBLISHING))
                return -1;
        switch (j->end) {
        case TG_END_DLQ:
                return tg_job_emit_dlq(j);
        case TG_END_DEFERRED:
                return tg_job_emit_deferred(j);
        default:
                return tg_job_emit_events(j);
        }
}

/* Shutdown: every job still in flight is freed unanswered (its offset
 * stays uncommitted: the restart reads it again). */
void tg_jobs_abandon(tg_worker_t *w)
{
        w->closing = 1;
        while (w->jobs)
                tg_job_free(w->jobs);
}

/* tg_job_free's change to DONE. Refused (a bug: the worker stops), the job
 * is freed all the same and counted out of its state. */
void tg_job_state_done(tg_job_t *j)
{
        tg_worker_t *w = j->w;

        if (tg_job_set_state(j, TG_JOB_DONE) == 0)
                return;
        w->in_state[j->state]--;
        w->in_state[TG_JOB_DONE]++;
        j->state = TG_JOB_DONE;
}
