/*
 * One request's life, top to bottom: this file is the whole of it, from the
 * Kafka message the consumer hands over to the job freed after its events
 * were published. docs/architecture.md ("A request's life") draws the same
 * machine and traces one request through it.
 *
 *   1-2.  the states and the table of allowed changes; tg_job_set_state is
 *         the one function every change goes through: it checks the table,
 *         logs "A => B" at debug level and keeps the per-state counts
 *         (the gauge tollgate_requests_in_state);
 *   3-4.  the waits (a timer, Redis's return, a list) and the resume switch,
 *         tg_job_run: the state says which step comes next, no stored
 *         "next step" pointer;
 *   5-8.  the steps in the order a request takes them: consumed (parsed,
 *         priced), admission (admit.lua), the call (Bedrock) and its result;
 *   9-10. the one end, tg_job_end, and settling (finish.lua);
 *   11-12. held in the outbox, published, released, freed.
 *
 * What this file calls out to, each for one service and back: budgets.c
 * (which budgets match), gates.c (a model's rate and concurrency), http.c
 * (curl multi, which calls tg_job_http_done), ledger/ (Redis, which calls
 * on_admit and on_finish), events.c (the JSON), outbox.c with producer.c and
 * txn.c (order, Kafka, the transaction). None of those knows a job's steps:
 * they call back through an opaque pointer.
 *
 * Modelled on curl's lib/multi.c (one state per transfer, multistate()) and
 * librdkafka's rdkafka_txnmgr.c (changes checked against a table).
 *
 * Thread rule: the loop thread only, like the jobs and the worker.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/bedrock_auth.h"
#include "bedrock/backoff.h"
#include "keys.h"
#include "ledger_args.h"
#include "log.h"
#include "stored.h"
#include "tgtime.h"
#include "worker.h"

/* The steps below that are called before they are defined. */
static void tg_jobs_admit_more(tg_worker_t *w);
static void tg_job_admit(tg_job_t *j);
static void on_admit(tg_ledger_t *l, redisReply *r, void *opaque);
static void tg_job_end(tg_job_t *j, tg_job_end_t how, const char *reason);
static int tg_job_take_stored(tg_job_t *j, redisReply *r, char *err,
                              size_t errlen);
static void on_finish(tg_ledger_t *l, redisReply *r, void *opaque);
static void tg_job_publish(tg_job_t *j);
static void tg_job_output(tg_job_t *j);
static int tg_job_emit_events(tg_job_t *j);
static int tg_job_emit_dlq(tg_job_t *j);
static void tg_job_dlq(tg_job_t *j, const char *reason);
static int tg_job_emit_deferred(tg_job_t *j);
static void tg_job_free(tg_job_t *j);

/* ----------------------------------------------------- 1. the states */

/* A request is in exactly one of these (job_state.h says what each waits
 * for); the gauge tollgate_requests_in_state counts them. */

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

/* ------------------------------------------------ 2. the transitions */

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

static void tg_job_state_begin(tg_job_t *j)
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

/* tg_job_free's change to DONE. Refused (a bug: the worker stops), the job
 * is freed all the same and counted out of its state. */
static void tg_job_state_done(tg_job_t *j)
{
        tg_worker_t *w = j->w;

        if (tg_job_set_state(j, TG_JOB_DONE) == 0)
                return;
        w->in_state[j->state]--;
        w->in_state[TG_JOB_DONE]++;
        j->state = TG_JOB_DONE;
}

/* ------------------------------------------------------ 3. the waits */

void tg_job_list_push(tg_job_list_t *l, tg_job_t *j)
{
        j->wait_next = NULL;
        if (l->tail)
                l->tail->wait_next = j;
        else
                l->head = j;
        l->tail = j;
        l->len++;
}

tg_job_t *tg_job_list_pop(tg_job_list_t *l)
{
        tg_job_t *j = l->head;

        if (!j)
                return NULL;
        l->head = j->wait_next;
        if (!l->head)
                l->tail = NULL;
        l->len--;
        j->wait_next = NULL;
        return j;
}

static void timer_fire(uv_timer_t *t)
{
        tg_job_run(t->data);
}

/* Waits ms in `state` (a timer state), then resumes. */
static void tg_job_after(tg_job_t *j, int64_t ms, tg_job_state_t state)
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

/* ---------------------------------------------- 4. the resume switch */

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

/* -------------------------------- 5. consumed: parsed, named, priced */

/* The consumer hands over a message: the job is created in CONSUMED,
 * tracked in the outbox at its (partition, offset), parsed, given its
 * request id and timestamp, resolved against the catalog and priced at its
 * worst case, all in one loop turn; then admitted. */

static void all_add(tg_worker_t *w, tg_job_t *j)
{
        j->all_next = w->jobs;
        if (w->jobs)
                w->jobs->all_prev = j;
        w->jobs = j;
}

/* The id every event of this message carries: the request's own, else the
 * Kafka key when it is a valid id, else one derived from where the message
 * sits, so a redelivery gets the same id. */
static void pick_request_id(tg_job_t *j)
{
        rd_kafka_message_t *m = j->msg;

        if (j->req.request_id[0]) {
                snprintf(j->request_id, sizeof(j->request_id), "%s",
                         j->req.request_id);
        } else if (m->key && tg_request_id_valid(m->key, m->key_len)) {
                snprintf(j->request_id, sizeof(j->request_id), "%.*s",
                         (int)m->key_len, (const char *)m->key);
        } else {
                /* The topic is hashed so the id stays within 128 chars. */
                uint64_t h = 14695981039346656037ULL;
                for (const char *t = rd_kafka_topic_name(m->rkt); *t; t++)
                        h = (h ^ (unsigned char)*t) * 1099511628211ULL;
                snprintf(j->request_id, sizeof(j->request_id),
                         "kafka-%016llx-%d-%lld", (unsigned long long)h,
                         (int)m->partition, (long long)m->offset);
        }
}

static void pick_timestamp(tg_job_t *j)
{
        rd_kafka_timestamp_type_t tt;
        int64_t ms = rd_kafka_message_timestamp(j->msg, &tt);

        if (j->req.timestamp[0])
                snprintf(j->timestamp, sizeof(j->timestamp), "%s",
                         j->req.timestamp);
        else
                tg_time_format_us((ms > 0 ? ms : tg_time_now_us() / 1000) *
                                      1000,
                                  j->timestamp, sizeof(j->timestamp));
}

static void invalid(tg_job_t *j, const char *why)
{
        snprintf(j->reason, sizeof(j->reason), "invalid: %s", why);
        tg_job_end(j, TG_END_INVALID, j->reason);
}

static void track(tg_worker_t *w, tg_job_t *j)
{
        tg_outbox_track(w->outbox, &j->ob, j->partition, j->offset);
}

static void start_valid(tg_job_t *j)
{
        char err[512];

        if (tg_catalog_resolve(j->w->catalog, j->req.model, &j->req, &j->res,
                               err, sizeof(err)))
                return invalid(j, err);
        if (tg_request_check_model(&j->req, j->res.model, err, sizeof(err)))
                return invalid(j, err);
        tg_tier_pick_init(&j->tier, &j->req);
        if (tg_cost_bound_tier(j->res.model, j->tier.tier, &j->req, &j->bound))
                return invalid(j, "request too large to price");
        tg_job_admit(j);
}

void tg_job_start(tg_worker_t *w, rd_kafka_message_t *msg)
{
        tg_job_t *j;
        char err[512];
        tg_parse_result_t r;

        if (msg->err) {
                if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        tg_log(TG_LOG_WARN, "consume: %s",
                               rd_kafka_message_errstr(msg));
                rd_kafka_message_destroy(msg);
                return;
        }
        /* After a fatal error nothing starts (the rest of a batch): the
         * restart reads these again. */
        j = w->fatal ? NULL : calloc(1, sizeof(*j));
        if (!j) {
                rd_kafka_message_destroy(msg);
                /* Untracked, its offset would be committed past once later
                 * ones finish: stop instead, it is read again. */
                if (!w->fatal)
                        tg_worker_fatal(w, "out of memory for a request");
                return;
        }
        j->w = w;
        j->msg = msg;
        j->partition = msg->partition;
        j->offset = msg->offset;
        j->t0_us = tg_mono_us();
        tg_job_state_begin(j);
        all_add(w, j);
        w->inflight++;
        track(w, j);
        tg_metrics_inflight(w->metrics, (int64_t)w->inflight);
        r = tg_request_parse(&j->req, msg->payload, msg->len,
                             (size_t)w->conf->max_request_bytes, err,
                             sizeof(err));
        if (r == TG_PARSE_NOT_JSON)
                return tg_job_dlq(j, err);
        j->parsed = 1;
        pick_request_id(j);
        pick_timestamp(j);
        if (r == TG_PARSE_INVALID)
                return invalid(j, err);
        start_valid(j);
}

/* ---------------------------------- 6. admission: admit.lua reserves */

/* Admission: reserve the request's worst-case cost against every matching
 * budget in one Lua call, or learn that the ledger already knows the
 * request (redelivery) and act on what it knows. A budget with
 * onExceed=defer parks the request instead of rejecting it: its bytes go to
 * PREFIX.deferred with the budget and period in headers, for
 * `tollgate-ledger release`; nothing is charged or published until then. */

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

/* Sends waiting admissions while --admit-window has room. */
static void tg_jobs_admit_more(tg_worker_t *w)
{
        int64_t win = w->conf->admit_window;

        while (w->wait_admit.len && (win <= 0 || w->admits_out < (size_t)win))
                tg_job_run(tg_job_list_pop(&w->wait_admit));
}

static void tg_job_admit(tg_job_t *j)
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

/* A ledger reply the job can read: an array of at least `min` elements,
 * 1. Otherwise 0, and the job waits: for Redis (no reply: `no_redis`) or
 * a second (a reply it cannot read, logged: `later`). Admission and
 * settling both start their reply callbacks with it. */
static int reply_usable(tg_job_t *j, redisReply *r, size_t min,
                        const char *what, tg_job_state_t no_redis,
                        tg_job_state_t later)
{
        if (!r) {
                tg_job_wait_redis(j, no_redis);
                return 0;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < min) {
                tg_log(TG_LOG_ERROR, "%s %s: unexpected ledger reply: %s", what,
                       j->request_id,
                       r->type == REDIS_REPLY_ERROR ? r->str : "?");
                tg_job_after(j, 1000, later);
                return 0;
        }
        return 1;
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

static rd_kafka_headers_t *defer_headers(rd_kafka_message_t *m,
                                         const tg_job_budget_t *b)
{
        rd_kafka_headers_t *orig = NULL, *h;

        if (rd_kafka_message_headers(m, &orig) == 0)
                h = rd_kafka_headers_copy(orig);
        else
                h = rd_kafka_headers_new(2);
        rd_kafka_header_remove(h, "tollgate-deferred-budget");
        rd_kafka_header_remove(h, "tollgate-deferred-period");
        rd_kafka_header_add(h, "tollgate-deferred-budget", -1, b->id, -1);
        rd_kafka_header_add(h, "tollgate-deferred-period", -1, b->period, -1);
        return h;
}

/* Returns 1 when the request was deferred, 0 when the budget rejects. */
static int tg_job_defer(tg_job_t *j, const char *budget_id)
{
        tg_worker_t *w = j->w;
        const tg_job_budget_t *b = NULL;

        for (size_t i = 0; i < j->n_budgets; i++)
                if (strcmp(j->budgets[i].id, budget_id) == 0)
                        b = &j->budgets[i];
        if (!b || !b->defer)
                return 0;
        tg_metrics_deferred(w->metrics, b->id);
        tg_log(TG_LOG_INFO, "%s deferred: over budget %s for %s", j->request_id,
               b->id, b->period);
        j->hdrs = defer_headers(j->msg, b);
        tg_job_end(j, TG_END_DEFERRED, NULL);
        return 1;
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
        if (!reply_usable(j, r, 1, "admit", TG_JOB_ADMIT_NO_REDIS,
                          TG_JOB_ADMIT_LATER))
                return;
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

/* -------------- 7. calling: Bedrock, signed afresh for every attempt */

/* The Bedrock call: Converse, signed afresh for every attempt, retried on
 * throttling and transient errors while the reservation stays in place.
 *
 * A reservation carries a lease deadline; past it the reaper of any worker
 * releases it, or the worker that gets the request resumes it. Live
 * requests keep theirs fresh (at each attempt and every tick), however long
 * their Bedrock call takes, so the lease can be short (a dead worker's
 * requests move on within lease-ms) without a slow generation ever losing
 * its reservation. */

static void on_renew(tg_ledger_t *l, redisReply *r, void *opaque)
{
        (void)l, (void)r, (void)opaque; /* best effort: finish settles
                                         * correctly either way */
}

/* Renews when a third of the lease has passed since it was last set. */
static void tg_lease_renew(tg_job_t *j)
{
        tg_worker_t *w = j->w;
        char req_key[192], deadline[24];
        const char *av[5];
        size_t al[5];

        if (!j->reserved || tg_mono_ms() - j->lease_ms < w->conf->lease_ms / 3)
                return;
        tg_key_request(req_key, sizeof(req_key), j->request_id);
        snprintf(deadline, sizeof(deadline), "%lld",
                 (long long)(tg_time_now_us() / 1000 + w->conf->lease_ms));
        av[0] = req_key, av[1] = TG_KEY_LEASES, av[2] = w->conf->worker_id;
        av[3] = deadline, av[4] = j->request_id;
        for (int i = 0; i < 5; i++)
                al[i] = strlen(av[i]);
        if (tg_ledger_eval(w->ledger, TG_SCRIPT_RENEW, 2, 3, av, al, on_renew,
                           NULL) == 0)
                j->lease_ms = tg_mono_ms();
}

void tg_lease_tick(tg_worker_t *w)
{
        if (!tg_ledger_up(w->ledger))
                return;
        for (tg_job_t *j = w->jobs; j; j = j->all_next)
                tg_lease_renew(j);
}

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
        tg_job_t *j = opaque;
        size_t len = size * n;

        /* Over the cap or out of memory: 0 aborts the transfer, and
         * tg_job_http_done reads which from the buffer's error. */
        return tg_dynbuf_add(&j->resp, p, len) ? 0 : len;
}

static void header_value(const char *line, size_t len, const char *name,
                         char *out, size_t size)
{
        size_t nl = strlen(name);
        const char *v;

        if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 ||
            line[nl] != ':')
                return;
        v = line + nl + 1;
        len -= nl + 1;
        while (len && (*v == ' ' || *v == '\t'))
                v++, len--;
        while (len &&
               (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
                len--;
        snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), v);
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque)
{
        tg_job_t *j = opaque;
        size_t len = size * n;

        header_value(p, len, "x-amzn-ErrorType", j->err_type_hdr,
                     sizeof(j->err_type_hdr));
        header_value(p, len, "x-amzn-RequestId", j->aws_request_id,
                     sizeof(j->aws_request_id));
        return len;
}

static int build_body(tg_job_t *j, char *err, size_t size)
{
        if (j->body)
                return 0;
        tg_converse_opts_t o = {.tier = j->tier.tier,
                                .send_tier = j->tier.send,
                                .request_id = j->request_id};

        j->body = tg_converse_build_opts(&j->req, j->res.model, &o,
                                         &j->body_len, err, size);
        return j->body ? 0 : -1;
}

static int sign(tg_job_t *j, const char *path, char *err, size_t size)
{
        tg_worker_t *w = j->w;
        tg_creds_snapshot_t creds;
        tg_bedrock_auth_req_t ar = {
            .region = w->conf->region,
            .host = w->host,
            .method = "POST",
            .path = path,
            .body = j->body,
            .body_len = j->body_len,
            .now = tg_time_now(),
        };

        tg_bedrock_auth_free(j->headers);
        j->headers = NULL;
        if (tg_creds_get(w->creds, &creds)) {
                snprintf(err, size, "no AWS credentials available");
                return -1;
        }
        j->headers = tg_bedrock_auth_headers(&creds, &ar, err, size);
        tg_secret_wipe(&creds, sizeof(creds));
        return j->headers ? 0 : -1;
}

static CURL *easy_new(tg_job_t *j, const char *url)
{
        tg_config_t *c = j->w->conf;
        CURL *e = tg_http_easy_get(j->w);

        if (!e)
                return NULL;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)j->body_len);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
        curl_easy_setopt(e, CURLOPT_PRIVATE, j);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)c->connect_timeout_ms);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->request_timeout_ms);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        /* The URL is ours (endpoint + encoded path); never follow a
         * redirect to another host. */
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)TG_RESPONSE_MAX);
        return e;
}

static void mask(char *s, const char *secret)
{
        size_t n = strlen(secret);
        char *p;

        if (n < 3)
                return;
        while ((p = strstr(s, secret))) {
                memmove(p + 3, p + n, strlen(p + n) + 1);
                memcpy(p, "***", 3);
        }
}

/* A reason goes into events, the ledger and logs, so no credential may be
 * in it. AWS explains a signature mismatch with the canonical request it
 * expected, which holds the session token (x-amz-security-token): cut the
 * message before that explanation, and mask any credential an error
 * echoes anyway. */
static void tg_job_redact(tg_job_t *j)
{
        tg_creds_snapshot_t c;
        char *cut = strstr(j->reason, "The Canonical String");

        if (cut) {
                while (cut > j->reason && isspace((unsigned char)cut[-1]))
                        cut--;
                *cut = '\0';
        }
        if (tg_creds_get(j->w->creds, &c) == 0) {
                mask(j->reason, c.secret_access_key);
                mask(j->reason, c.session_token);
                mask(j->reason, c.bearer_token);
                tg_secret_wipe(&c, sizeof(c));
        }
}

static void call_failed_locally(tg_job_t *j, const char *why)
{
        tg_gate_leave(j, 0);
        snprintf(j->reason, sizeof(j->reason), "%s", why);
        tg_job_redact(j);
        tg_job_end(j, TG_END_FAILED, j->reason);
}

void tg_job_call(tg_job_t *j)
{
        char path[TG_BEDROCK_PATH_MAX], url[sizeof(path) + 512], err[512];

        if (tg_job_set_state(j, TG_JOB_CALLING))
                return;
        if (build_body(j, err, sizeof(err)))
                return call_failed_locally(j, err);
        if (tg_bedrock_model_path(j->res.target, "converse", path,
                                  sizeof(path)) < 0)
                return call_failed_locally(j, "model id too long");
        snprintf(url, sizeof(url), "%s%s", j->w->endpoint, path);
        if (sign(j, path, err, sizeof(err)))
                return call_failed_locally(j, err);
        tg_dynbuf_free(&j->resp); /* a retry starts a new body */
        tg_dynbuf_init(&j->resp, TG_RESPONSE_MAX);
        j->err_type_hdr[0] = j->aws_request_id[0] = '\0';
        j->easy = easy_new(j, url);
        if (!j->easy)
                return call_failed_locally(j, "out of memory");
        tg_lease_renew(j);
        j->attempts++;
        j->call_start_us = tg_mono_us();
        if (curl_multi_add_handle(j->w->multi, j->easy) != CURLM_OK)
                return call_failed_locally(j, "curl refused the request");
}

/* ----------------------------- 8. the result: settle, retry, or fail */

/* What an attempt came back with: a result to settle, an error to retry
 * (through the gate when throttled, else after a full-jitter backoff), or
 * an error that ends the request. */

static void succeeded(tg_job_t *j)
{
        char err[512];

        if (tg_converse_parse(tg_dynbuf_ptr(&j->resp), tg_dynbuf_len(&j->resp),
                              &j->out, err, sizeof(err)) ||
            tg_converse_price(&j->out, j->res.model, j->tier.tier,
                              j->res.target, &j->cost_nano, err, sizeof(err))) {
                tg_converse_result_free(&j->out);
                /* Bedrock ran the call but we cannot read what it billed:
                 * fail it, release the reservation, and say so. */
                tg_gate_leave(j, 0);
                snprintf(j->reason, sizeof(j->reason), "InvalidResponse: %s",
                         err);
                tg_job_end(j, TG_END_FAILED, j->reason);
                return;
        }
        j->has_out = 1;
        j->usage = j->out.usage;
        j->bedrock_latency_ms = j->out.latency_ms;
        tg_gate_leave(j, 0);
        tg_job_end(j, TG_END_COMPLETED, NULL);
}

/* A throttled call is retried through its model's gate, whose rate was
 * just cut: the gate paces it (no backoff of its own), and it does not use
 * up --max-attempts, so throttling delays a request and does not fail it,
 * for up to --throttle-retry-ms. */
static int throttle_retry(tg_job_t *j, const tg_bedrock_error_t *e)
{
        tg_worker_t *w = j->w;
        int64_t now = tg_mono_ms();

        if (!e->throttled || !e->retryable || w->stopping)
                return 0;
        if (!j->throttles)
                j->first_throttle_ms = now;
        else if (now - j->first_throttle_ms >= w->conf->throttle_retry_ms)
                return 0;
        j->throttles++;
        tg_metrics_retry(w->metrics);
        tg_log(TG_LOG_DEBUG, "%s: %s, retry %d through the rate gate",
               j->request_id, e->type, j->attempts);
        tg_gate_enter(j);
        return 1;
}

static void failed(tg_job_t *j, const tg_bedrock_error_t *e)
{
        tg_worker_t *w = j->w;
        int64_t ms;

        tg_metrics_bedrock_error(w->metrics, e->type);
        tg_gate_leave(j, e->throttled);
        if (throttle_retry(j, e))
                return;
        if (e->retryable &&
            j->attempts - j->throttles < w->conf->max_attempts &&
            !w->stopping) {
                ms = tg_backoff_ms(j->attempts, w->conf->backoff_base_ms,
                                   w->conf->backoff_cap_ms, &w->rng);
                tg_metrics_retry(w->metrics);
                tg_log(TG_LOG_DEBUG, "%s: %s, retry %d in %lld ms",
                       j->request_id, e->type, j->attempts, (long long)ms);
                tg_job_after(j, ms, TG_JOB_BACKING_OFF);
                return;
        }
        /* Not charged (only approved requests are), but flagged: AWS may
         * have billed a call that timed out after it was sent. */
        j->billing_unknown = e->billing_unknown;
        tg_bedrock_reason(e, j->reason, sizeof(j->reason));
        tg_job_redact(j);
        tg_job_end(j, TG_END_FAILED, j->reason);
}

void tg_job_http_done(void *priv, CURLcode rc)
{
        tg_job_t *j = priv;

        long status = 0;
        curl_off_t pre = 0;
        tg_bedrock_error_t e;
        int64_t us = tg_mono_us() - j->call_start_us;

        j->bedrock_us += us;
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(j->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        tg_http_easy_put(j->w, j->easy);
        j->easy = NULL;
        tg_metrics_bedrock_latency(j->w->metrics, us);
        if (rc == CURLE_OK && status == 200)
                return succeeded(j);
        memset(&e, 0, sizeof(e));
        if (tg_dynbuf_error(&j->resp) == TG_DYNBUF_TOO_BIG) {
                e.http_status = status;
                snprintf(e.type, sizeof(e.type), "ResponseTooLarge");
                snprintf(e.message, sizeof(e.message), "response over %d bytes",
                         TG_RESPONSE_MAX);
        } else if (rc != CURLE_OK) {
                tg_bedrock_classify_transport(rc, status, pre > 0, &e);
        } else {
                tg_bedrock_classify(
                    status, j->err_type_hdr[0] ? j->err_type_hdr : NULL,
                    tg_dynbuf_ptr(&j->resp), tg_dynbuf_len(&j->resp), 0, &e);
        }
        failed(j, &e);
}

/* -------------------------------------------------------- 9. the end */

/* The one way a request ends. A status (completed, rejected, invalid,
 * failed) is settled first (section 10: finish.lua stores the events, then
 * tg_job_publish); the ledger's stored answer is published as it is; DLQ
 * and deferred messages (their headers made by tg_job_dlq and
 * tg_job_defer) go to the outbox at once. reason: NULL, or the reason
 * (j->reason itself may be passed). */
static void tg_job_end(tg_job_t *j, tg_job_end_t how, const char *reason)
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

/* ------------ 10. settling: finish.lua charges and stores the events */

/* One Lua call settles the reservation (or records a result that never
 * reserved), stores the events for re-publication and reports alert
 * crossings; then the job is held for the outbox. */

#define FINISH_BUILD_TRIES 5

static int finish_eval(tg_job_t *j, const char *c, size_t clen, const char *u,
                       size_t ulen)
{
        tg_worker_t *w = j->w;
        tg_ledger_args_t a;
        char req_key[192];
        int approved = j->status == TG_STATUS_COMPLETED;

        tg_ledger_args_init(&a);
        tg_key_request(req_key, sizeof(req_key), j->request_id);
        tg_ledger_args_str(&a, req_key);
        tg_ledger_args_str(&a, TG_KEY_LEASES);
        for (size_t i = 0; i < j->n_budgets; i++)
                tg_ledger_args_str(&a, j->budgets[i].key);
        tg_ledger_args_keys_done(&a);
        tg_ledger_args_str(&a, j->request_id);
        tg_ledger_args_str(&a, approved ? "1" : "0");
        tg_ledger_args_int(&a, approved ? j->cost_nano : 0);
        tg_ledger_args_int(&a, approved ? j->usage.input_tokens +
                                              j->usage.output_tokens +
                                              j->usage.cache_read_tokens +
                                              j->usage.cache_write_tokens
                                        : 0);
        tg_ledger_args_int(&a, w->conf->retention_s);
        tg_ledger_args_bin(&a, c, clen);
        tg_ledger_args_bin(&a, u, ulen);
        for (size_t i = 0; i < j->n_budgets; i++) {
                tg_ledger_args_str(&a, j->budgets[i].id);
                tg_ledger_args_int(&a, j->budgets[i].limit_nano);
                tg_ledger_args_int(&a, j->budgets[i].limit_tokens);
                tg_ledger_args_str(&a, j->budgets[i].thresholds);
        }
        return tg_ledger_args_eval(w->ledger, TG_SCRIPT_FINISH, &a, on_finish,
                                   j);
}

/* Sends the events packed (stored.h): the record holds those bytes. Packed
 * again on a retry (the same bytes: zstd is deterministic) rather than
 * kept for one. -1 when out of memory or not sent. */
static int finish_send(tg_job_t *j, const char *completion, const char *usage)
{
        size_t clen = 0, ulen = 0;
        char *c = tg_stored_pack(completion, &clen);
        char *u = tg_stored_pack(usage, &ulen);
        int rc = -1;

        if (c && u)
                rc = finish_eval(j, c, clen, u, ulen);
        free(c);
        free(u);
        return rc;
}

void tg_job_finish(tg_job_t *j)
{
        if (tg_job_set_state(j, TG_JOB_SETTLING))
                return;
        /* Built once: a retry after a Redis outage sends the same bytes. */
        if (!j->completion_built) {
                j->completion_built = tg_events_completion(j);
                j->usage_built = tg_events_usage(j);
        }
        if (!j->completion_built || !j->usage_built) {
                /* Out of memory: try again shortly, a few times; a job left
                 * here would hold its lease and its partition's offset for
                 * ever. After that, stop: the request is read again. */
                free(j->completion_built);
                free(j->usage_built);
                j->completion_built = j->usage_built = NULL;
                if (++j->build_failures >= FINISH_BUILD_TRIES) {
                        tg_worker_fatal(j->w, "%s: cannot build events",
                                        j->request_id);
                        return;
                }
                tg_log(TG_LOG_ERROR, "%s: cannot build events (retrying)",
                       j->request_id);
                tg_job_after(j, 1000, TG_JOB_SETTLE_LATER);
                return;
        }
        if (finish_send(j, j->completion_built, j->usage_built))
                tg_job_wait_redis(j, TG_JOB_SETTLE_NO_REDIS);
}

static int fail_nomem(char *err, size_t errlen)
{
        snprintf(err, errlen, "out of memory");
        return TG_STORED_ENOMEM;
}

/* The stored event at element i (stored.h's forms; a missing one is ""). */
static int stored_at(redisReply *r, size_t i, char **out, char *err,
                     size_t errlen)
{
        if (i < r->elements && r->element[i]->type == REDIS_REPLY_STRING)
                return tg_stored_unpack(r->element[i]->str, r->element[i]->len,
                                        out, err, errlen);
        return tg_stored_unpack("", 0, out, err, errlen);
}

/* The events of a ledger's "done" reply ({"done", completion, usage,
 * alerts, spent}, ledger/stored.h's forms) into j->stored_*, the usage
 * filled in: 0, or TG_STORED_ENOMEM (ask again) / TG_STORED_ECORRUPT
 * (asking again gets the same bytes), the reason in err, nothing set. */
static int tg_job_take_stored(tg_job_t *j, redisReply *r, char *err,
                              size_t errlen)
{
        char *usage = NULL;
        int rc;

        free(j->stored_completion);
        free(j->stored_usage);
        free(j->stored_alerts);
        j->stored_completion = j->stored_usage = j->stored_alerts = NULL;
        rc = stored_at(r, 1, &j->stored_completion, err, errlen);
        if (rc == 0)
                rc = stored_at(r, 2, &usage, err, errlen);
        if (rc == 0) {
                j->stored_usage = tg_ledger_usage_fill(usage, elem(r, 4));
                j->stored_alerts = strdup(elem(r, 3));
                if (!j->stored_usage || !j->stored_alerts)
                        rc = fail_nomem(err, errlen);
        }
        free(usage);
        if (rc) {
                free(j->stored_completion);
                free(j->stored_usage);
                free(j->stored_alerts);
                j->stored_completion = j->stored_usage = NULL;
                j->stored_alerts = NULL;
        }
        return rc;
}

/* The alert specs of a reply from element `from` on, one per line. */
static char *alert_specs(redisReply *r, size_t from)
{
        size_t len = 1;
        char *s;

        for (size_t i = from; i < r->elements; i++)
                len += strlen(elem(r, i)) + 1;
        s = calloc(1, len);
        for (size_t i = from; s && i < r->elements; i++)
                strcat(strcat(s, elem(r, i)), i + 1 < r->elements ? "\n" : "");
        return s;
}

static void stored_done(tg_job_t *j, redisReply *r)
{
        char err[128];
        int rc = tg_job_take_stored(j, r, err, sizeof(err));

        if (rc == TG_STORED_ECORRUPT) {
                /* Asking again gets the same bytes: the request moves on
                 * to the DLQ, for an operator, instead of stalling. */
                tg_log(TG_LOG_ERROR, "finish %s: %s", j->request_id, err);
                tg_job_dlq(j, err);
        } else if (rc) {
                tg_log(TG_LOG_ERROR, "finish %s: %s", j->request_id, err);
                tg_job_after(j, 1000, TG_JOB_SETTLE_LATER);
        } else {
                tg_job_publish(j);
        }
}

static void on_finish(tg_ledger_t *l, redisReply *r, void *opaque)
{
        tg_job_t *j = opaque;

        if (!reply_usable(j, r, 3, "finish", TG_JOB_SETTLE_NO_REDIS,
                          TG_JOB_SETTLE_LATER))
                return;
        if (strcmp(elem(r, 0), "done") == 0) {
                /* Finished before (a retry after a lost reply): publish
                 * what was stored then, byte for byte. */
                stored_done(j, r);
                return;
        }
        free(j->stored_completion);
        free(j->stored_usage);
        free(j->stored_alerts);
        {
                /* The ledger stored usage_built and replies with the spent
                 * values alone: filled in the same way as on the path
                 * above, so a re-publication is the same bytes. */
                j->stored_completion = strdup(j->completion_built);
                j->stored_usage =
                    tg_ledger_usage_fill(j->usage_built, elem(r, 1));
                j->overrun_nano = strtoll(elem(r, 2), NULL, 10);
                j->stored_alerts = alert_specs(r, 3);
                tg_metrics_decision(j->w->metrics, j);
        }
        if (!j->stored_completion || !j->stored_usage || !j->stored_alerts)
                goto oom;
        tg_job_publish(j);
        return;
oom:
        /* Finished in the ledger: the retry gets "done" and the events. */
        tg_log(TG_LOG_ERROR, "finish %s: out of memory", j->request_id);
        tg_job_after(j, 1000, TG_JOB_SETTLE_LATER);
}

/* One structured line per decision, for log pipelines (--log-decisions). */
static void log_decision(const tg_job_t *j)
{
        json_t *f = json_object();

        json_object_set_new(f, "requestId", json_string(j->request_id));
        json_object_set_new(f, "status",
                            json_string(tg_status_name(j->status)));
        if (j->reason[0])
                json_object_set_new(f, "reason", json_string(j->reason));
        if (j->res.model)
                json_object_set_new(f, "model",
                                    json_string(j->res.model->alias));
        json_object_set_new(f, "costNanoUsd", json_integer(j->cost_nano));
        json_object_set_new(f, "attempts", json_integer(j->attempts));
        json_object_set_new(f, "latencyUs",
                            json_integer(tg_mono_us() - j->t0_us));
        tg_log_fields(TG_LOG_INFO, "decision", f);
}

static void tg_job_publish(tg_job_t *j)
{
        if (j->w->conf->log_decisions)
                log_decision(j);
        tg_job_output(j);
}

/* -------------------------------- 11. held and published: the outbox */

/* The outbox (outbox.c) decides when a job's messages go out: at once
 * (idempotent) or in offset order inside the transaction that commits the
 * offset. Bytes that are not a JSON object cannot carry a requestId, so
 * they get no completion: they go to the DLQ untouched (key, value,
 * headers), with the reason in a header, and the partition moves on. */

/* Its messages are ready: the outbox produces them now (idempotent: the
 * job then waits for their delivery reports, tg_job_delivered) or once
 * every request before it on its partition is ready too (transactions:
 * they go out in the transaction that commits their offset). */
static void tg_job_output(tg_job_t *j)
{
        if (tg_job_set_state(j, TG_JOB_HELD) == 0)
                tg_outbox_ready(j->w->outbox, &j->ob);
}

/* The outbox's turn for the job (its emit op): produce what its end
 * decided. 0, or -1 when refused. */
static int tg_job_emit(tg_job_t *j)
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

static int alert(tg_worker_t *w, const char *spec)
{
        /* "budget|key|threshold|spent|limit|usd|tokens" */
        char id[TG_BUDGET_ID_MAX + 1], key[192], kind[8], ts[40], *json;
        long long thr, spent, limit;
        const char *period;
        int rc;

        if (sscanf(spec, "%64[^|]|%191[^|]|%lld|%lld|%lld|%7s", id, key, &thr,
                   &spent, &limit, kind) != 6)
                return 0;
        period = strrchr(key, ':') + 1;
        tg_time_format_us(tg_time_now_us(), ts, sizeof(ts));
        json = tg_events_alert(w, id, period, thr, spent, limit,
                               strcmp(kind, "tokens") == 0, ts);
        if (!json)
                return 0;
        rc = tg_producer_send(w, w->t_alerts, id, strlen(id), json,
                              strlen(json), NULL, NULL);
        free(json);
        tg_log(TG_LOG_WARN, "budget %s crossed %lld%% (%s)", id, thr, period);
        return rc;
}

/* The messages of each end, produced by tg_job_emit: 0 or -1. */
static int tg_job_emit_events(tg_job_t *j)
{
        tg_worker_t *w = j->w;
        char *save = NULL, *s = j->stored_alerts;
        int rc;

        j->deliveries = 2;
        rc = tg_producer_send(w, w->t_completions, j->request_id,
                              strlen(j->request_id), j->stored_completion,
                              strlen(j->stored_completion), j, NULL);
        rc |= tg_producer_send(w, w->t_usage, j->request_id,
                               strlen(j->request_id), j->stored_usage,
                               strlen(j->stored_usage), j, NULL);
        /* Alerts go with the events (in their transaction): an abort or a
         * crash loses neither, the ledger stored both. */
        for (s = s ? strtok_r(s, "\n", &save) : NULL; s && !rc;
             s = strtok_r(NULL, "\n", &save))
                rc |= alert(w, s);
        return rc;
}

#define TG_DLQ_REASON_HEADER "tollgate-dlq-reason"

static rd_kafka_headers_t *dlq_headers(rd_kafka_message_t *m,
                                       const char *reason)
{
        rd_kafka_headers_t *orig = NULL, *h;
        char origin[320];

        if (rd_kafka_message_headers(m, &orig) == 0)
                h = rd_kafka_headers_copy(orig);
        else
                h = rd_kafka_headers_new(2);
        rd_kafka_header_add(h, TG_DLQ_REASON_HEADER, -1, reason, -1);
        snprintf(origin, sizeof(origin), "%s/%d/%lld",
                 rd_kafka_topic_name(m->rkt), (int)m->partition,
                 (long long)m->offset);
        rd_kafka_header_add(h, "tollgate-dlq-origin", -1, origin, -1);
        return h;
}

static int tg_job_emit_dlq(tg_job_t *j)
{
        rd_kafka_message_t *m = j->msg;
        rd_kafka_headers_t *h = j->hdrs;

        j->hdrs = NULL; /* consumed by the send */
        j->deliveries = 1;
        return tg_producer_send(j->w, j->w->t_dlq, m->key, m->key_len,
                                m->payload, m->len, j, h);
}

static void tg_job_dlq(tg_job_t *j, const char *reason)
{
        rd_kafka_message_t *m = j->msg;

        tg_log(TG_LOG_WARN, "dlq %s/%d/%lld: %s", rd_kafka_topic_name(m->rkt),
               (int)m->partition, (long long)m->offset, reason);
        tg_metrics_dlq(j->w->metrics);
        j->hdrs = dlq_headers(m, reason);
        tg_job_end(j, TG_END_DLQ, reason);
}

static int tg_job_emit_deferred(tg_job_t *j)
{
        rd_kafka_headers_t *h = j->hdrs;

        j->hdrs = NULL; /* consumed by the send */
        j->deliveries = 1;
        return tg_producer_send(j->w, j->w->t_deferred, j->request_id,
                                strlen(j->request_id), j->msg->payload,
                                j->msg->len, j, h);
}

void tg_job_delivered(void *job)
{
        tg_job_t *j = job;

        if (--j->deliveries > 0)
                return;
        tg_outbox_delivered(j->w->outbox, &j->ob); /* frees it */
}

/* The outbox's ops (outbox.h): the jobs behind its entries. */
#define JOB_OF(e) ((tg_job_t *)((char *)(e)-offsetof(tg_job_t, ob)))

static int ob_emit(tg_outbox_entry_t *e, void *opaque)
{
        return tg_job_emit(JOB_OF(e));
}

static void ob_drop(tg_outbox_entry_t *e, void *opaque)
{
        tg_job_free(JOB_OF(e));
}

static void ob_release(int32_t p, int64_t offset, void *opaque)
{
        tg_worker_t *w = opaque;

        if (w->txn)
                tg_txn_offset(w, p, offset);
        else
                tg_consumer_store(w, p, offset);
}

/* Refused outright (not a delivery failure). In a transaction: abort and
 * read again (or stop if that fails); without: stop before losing more,
 * the offset stays uncommitted. */
static void ob_refused(int32_t p, const char *why, void *opaque)
{
        tg_worker_t *w = opaque;

        if (w->txn)
                tg_txn_abort(w, why);
        else
                tg_worker_fatal(w, "partition %d: %s", (int)p, why);
}

tg_outbox_t *tg_jobs_outbox_new(tg_worker_t *w)
{
        static const tg_outbox_ops_t ops = {ob_emit, ob_drop, ob_release,
                                            ob_refused};

        return tg_outbox_new(w->txn, &ops, w);
}

/* --------------------------------------------------- 12. done: freed */

static void all_remove(tg_worker_t *w, tg_job_t *j)
{
        if (j->all_prev)
                j->all_prev->all_next = j->all_next;
        else
                w->jobs = j->all_next;
        if (j->all_next)
                j->all_next->all_prev = j->all_prev;
}

static void free_job(uv_handle_t *h)
{
        free(h->data);
}

static void tg_job_free(tg_job_t *j)
{
        tg_worker_t *w = j->w;

        tg_job_state_done(j);
        all_remove(w, j);
        w->inflight--;
        tg_metrics_inflight(w->metrics, (int64_t)w->inflight);
        if (j->msg)
                rd_kafka_message_destroy(j->msg);
        tg_request_destroy(&j->req);
        free(j->budgets);
        free(j->stored_completion);
        free(j->stored_usage);
        free(j->stored_alerts);
        free(j->completion_built);
        free(j->usage_built);
        free(j->body);
        tg_dynbuf_free(&j->resp);
        tg_bedrock_auth_free(j->headers);
        if (j->hdrs)
                rd_kafka_headers_destroy(j->hdrs);
        if (j->easy) {
                curl_multi_remove_handle(w->multi, j->easy);
                tg_http_easy_put(w, j->easy);
        }
        if (j->has_out)
                tg_converse_result_free(&j->out);
        if (j->timer_open)
                uv_close((uv_handle_t *)&j->timer, free_job);
        else
                free(j);
        tg_worker_flow(w);
}

/* Shutdown: every job still in flight is freed unanswered (its offset
 * stays uncommitted: the restart reads it again). */
void tg_jobs_abandon(tg_worker_t *w)
{
        w->closing = 1;
        while (w->jobs)
                tg_job_free(w->jobs);
}
