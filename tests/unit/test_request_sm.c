/*
 * The request state machine (worker/job.c) against fake transports:
 * no broker, Redis or HTTP. The link (ld --wrap, tests/CMakeLists.txt)
 * replaces the ledger's calls, the producer's send, curl multi's add and
 * curl's getinfo, and the librdkafka message functions with the fakes
 * below; everything else is the worker's own code: the table, the resume
 * switch, admission, the gates (gates.c), the call and its
 * retries, settling, the outbox.
 *
 *  - table: every pair (from, to) is allowed exactly when the spec below
 *    says so, and tg_job_set_state does it or refuses it (the worker stops);
 *    every state but done has a way out and is reachable;
 *  - the paths: approved, invalid, not JSON (DLQ), answered from the ledger,
 *    rejected; Redis away at admission and settlement;
 *  - admission window, concurrency gate, rate gate (a throttle), backoff and
 *    its give-up;
 *  - the per-state counts, and the gauge they are published to
 *    (tollgate_requests_in_state), back to zero.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_reply.h"
#include "tg_test.h"
#include "worker.h"

/* ------------------------------------------------------- fake transports */

typedef struct call {
        int script; /* -1: a plain command */
        tg_ledger_cb *cb;
        void *opaque;
} call_t;

static call_t calls[256];
static int n_calls, n_sends, n_adds, ledger_fail, redis_up = 1;
static void *sent_by[256];
static long http_status;
static int n_txn_offsets;
static int64_t txn_offset_last;

int __wrap_tg_ledger_eval(tg_ledger_t *l, tg_script_t script, int nkeys,
                          int nargs, const char **argv, const size_t *lens,
                          tg_ledger_cb *cb, void *opaque)
{
        if (ledger_fail || n_calls >= 256)
                return -1;
        calls[n_calls++] = (call_t){(int)script, cb, opaque};
        return 0;
}

int __wrap_tg_ledger_cmd(tg_ledger_t *l, int argc, const char **argv,
                         const size_t *lens, tg_ledger_cb *cb, void *opaque)
{
        if (ledger_fail || n_calls >= 256)
                return -1;
        calls[n_calls++] = (call_t){-1, cb, opaque};
        return 0;
}

int __wrap_tg_ledger_up(tg_ledger_t *l)
{
        return redis_up;
}

int __wrap_tg_producer_send(tg_worker_t *w, const char *topic, const void *key,
                            size_t key_len, const void *value, size_t len,
                            void *j, rd_kafka_headers_t *hdrs)
{
        CHECK(value != NULL);
        if (n_sends < 256)
                sent_by[n_sends++] = j;
        if (hdrs)
                rd_kafka_headers_destroy(hdrs);
        return 0;
}

void __wrap_tg_txn_offset(tg_worker_t *w, int32_t p, int64_t offset)
{
        n_txn_offsets++;
        txn_offset_last = offset;
}

CURLMcode __wrap_curl_multi_add_handle(CURLM *m, CURL *e)
{
        n_adds++;
        return CURLM_OK;
}

CURLMcode __wrap_curl_multi_remove_handle(CURLM *m, CURL *e)
{
        return CURLM_OK;
}

CURLcode __wrap_curl_easy_getinfo(CURL *e, CURLINFO info, ...)
{
        va_list ap;

        va_start(ap, info);
        if (info == CURLINFO_RESPONSE_CODE)
                *va_arg(ap, long *) = http_status;
        else if (info == CURLINFO_PRETRANSFER_TIME_T)
                *va_arg(ap, curl_off_t *) = 1;
        va_end(ap);
        return CURLE_OK;
}

void __wrap_rd_kafka_message_destroy(rd_kafka_message_t *m)
{
        free(m->payload);
        free(m->key);
        free(m);
}

int64_t __wrap_rd_kafka_message_timestamp(const rd_kafka_message_t *m,
                                          rd_kafka_timestamp_type_t *tt)
{
        *tt = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        return -1;
}

rd_kafka_resp_err_t __wrap_rd_kafka_message_headers(const rd_kafka_message_t *m,
                                                    rd_kafka_headers_t **hdrs)
{
        *hdrs = NULL;
        return RD_KAFKA_RESP_ERR__NOENT;
}

const char *__wrap_rd_kafka_topic_name(const rd_kafka_topic_t *t)
{
        return "tollgate.requests";
}

/* ------------------------------------------------------------- a worker */

static tg_config_t conf;
static char ledger_dummy; /* never dereferenced: every call is a fake */

static const char *fake_env(void *opaque, const char *name)
{
        if (!strcmp(name, "AWS_ACCESS_KEY_ID"))
                return "AKIDEXAMPLE";
        if (!strcmp(name, "AWS_SECRET_ACCESS_KEY"))
                return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        return NULL;
}

static tg_worker_t *worker_new(int txn)
{
        tg_worker_t *w = calloc(1, sizeof(*w));
        char err[256];

        tg_config_init(&conf);
        conf.transactions = txn;
        conf.backoff_base_ms = 1;
        conf.backoff_cap_ms = 5;
        w->conf = &conf;
        w->txn = txn;
        w->loop = uv_default_loop();
        w->ledger = (tg_ledger_t *)&ledger_dummy;
        w->metrics = tg_metrics_new(0, NULL, 0, err, sizeof(err));
        w->catalog =
            tg_catalog_load_file("worker/catalog.json", err, sizeof(err));
        tg_creds_conf_t cc = {.getenv_fn = fake_env, .quiet = 1};
        w->creds = tg_creds_new(&cc, err, sizeof(err));
        CHECK(w->metrics && w->catalog && w->creds);
        tg_job_states_register(w);
        snprintf(w->endpoint, sizeof(w->endpoint), "https://bedrock.test");
        snprintf(w->host, sizeof(w->host), "bedrock.test");
        w->budgets_loaded = 1; /* none: nothing to match */
        w->outbox = tg_jobs_outbox_new(w);
        tg_outbox_assign(w->outbox, 0);
        strcpy(w->t_completions, "c");
        strcpy(w->t_usage, "u");
        strcpy(w->t_dlq, "d");
        strcpy(w->t_alerts, "a");
        strcpy(w->t_deferred, "f");
        n_calls = n_sends = n_adds = ledger_fail = n_txn_offsets = 0;
        redis_up = 1;
        http_status = 200;
        return w;
}

static void close_walk(uv_handle_t *h, void *arg)
{
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

/* Every job's state count, DONE aside, must be back to zero, in the worker
 * and in the exported gauge. */
static void check_gauge_zero(tg_worker_t *w)
{
        char *text, line[128];

        tg_job_states_publish(w); /* what the tick does */
        text = tg_metrics_render(w->metrics);

        for (int s = 0; s < TG_JOB_DONE; s++) {
                CHECK_INT(w->in_state[s], 0);
                snprintf(line, sizeof(line),
                         "tollgate_requests_in_state{state=\"%s\"} 0\n",
                         tg_job_state_name(s));
                CHECK(text && strstr(text, line));
        }
        free(text);
}

/* Frees what is left in flight (the gauge must drain all the same). */
static void worker_free(tg_worker_t *w)
{
        tg_outbox_destroy(w->outbox);
        tg_jobs_abandon(w);
        check_gauge_zero(w);
        while (w->n_easy_pool)
                curl_easy_cleanup(w->easy_pool[--w->n_easy_pool]);
        uv_walk(w->loop, close_walk, NULL);
        uv_run(w->loop, UV_RUN_DEFAULT);
        tg_gates_destroy(w);
        tg_catalog_destroy(w->catalog);
        tg_metrics_destroy(w->metrics);
        tg_creds_destroy(w->creds);
        tg_config_destroy(&conf);
        free(w);
}

static rd_kafka_message_t *message(const char *json, int64_t offset)
{
        rd_kafka_message_t *m = calloc(1, sizeof(*m));

        m->payload = strdup(json);
        m->len = strlen(json);
        m->partition = 0;
        m->offset = offset;
        return m;
}

/* A valid request with its own id. */
static rd_kafka_message_t *valid(int n)
{
        char json[512];

        snprintf(json, sizeof(json),
                 "{\"requestId\":\"r-%d\",\"model\":\"nova-lite\",\"prompt\":"
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                 "\"parameters\":{\"max_tokens\":10}},\"tags\":{"
                 "\"costCenter\":\"eng\",\"applicationId\":\"a\"}}",
                 n);
        return message(json, n);
}

static const char *INVALID =
    "{\"requestId\":\"r-i\",\"model\":\"no-such-model\",\"prompt\":{"
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}";

static const char *RESPONSE =
    "{\"output\":{\"message\":{\"content\":[{\"text\":\"Hello\"}],"
    "\"role\":\"assistant\"}},\"stopReason\":\"end_turn\","
    "\"usage\":{\"inputTokens\":30,\"outputTokens\":6,\"totalTokens\":36},"
    "\"metrics\":{\"latencyMs\":12}}";

/* Answers ledger call i with the strings v[0..n-1]. */
static void answer(int i, int n, const char **v)
{
        redisReply *r = array_reply(n, v);

        CHECK(i < n_calls);
        if (i < n_calls)
                calls[i].cb(NULL, r, calls[i].opaque);
        reply_free(r);
}

static const char *OK[] = {"ok"};
static const char *SETTLED[] = {"ok", "", "0"};

/* The job of request offset `off` (every test uses partition 0). */
static tg_job_t *job_at(tg_worker_t *w, int64_t off)
{
        for (tg_job_t *j = w->jobs; j; j = j->all_next)
                if (j->offset == off)
                        return j;
        return NULL;
}

/* Ends the current attempt of j with an HTTP status (and error type). */
static void http_done(tg_job_t *j, long status, const char *type)
{
        http_status = status;
        const char *body = status == 200 ? RESPONSE : "{\"message\":\"x\"}";

        tg_dynbuf_reset(&j->resp);
        CHECK_INT(tg_dynbuf_add(&j->resp, body, strlen(body)), 0);
        snprintf(j->err_type_hdr, sizeof(j->err_type_hdr), "%s",
                 type ? type : "");
        tg_job_http_done(j, CURLE_OK);
}

/* Runs the loop (timers fire) until cond holds, or 5 s. */
#define RUN_UNTIL(w, cond)                                                     \
        do {                                                                   \
                for (int i_ = 0; i_ < 500 && !(cond); i_++) {                  \
                        uv_run((w)->loop, UV_RUN_NOWAIT);                      \
                        usleep(10000);                                         \
                }                                                              \
        } while (0)

static void deliver_all(void)
{
        int n = n_sends;

        for (int i = 0; i < n; i++)
                tg_job_delivered(sent_by[i]);
}

/* ---------------------------------------------------------------- table */

#define S(x) TG_JOB_##x
/* The spec, written apart from the code: every allowed change. */
static const int spec[][2] = {
    /* consumed: admission's outcomes, invalid (settling), DLQ (held) */
    {S(CONSUMED), S(WAIT_BUDGETS)},
    {S(CONSUMED), S(WAIT_SLOT)},
    {S(CONSUMED), S(ADMITTING)},
    {S(CONSUMED), S(ADMIT_LATER)},
    {S(CONSUMED), S(ADMIT_NO_REDIS)},
    {S(CONSUMED), S(SETTLING)},
    {S(CONSUMED), S(HELD)},
#define ADMIT_ROW(from)                                                        \
        {S(from), S(WAIT_BUDGETS)}, {S(from), S(WAIT_SLOT)},                   \
            {S(from), S(ADMITTING)}, {S(from), S(ADMIT_LATER)},                \
            {S(from), S(ADMIT_NO_REDIS)},                                      \
        {                                                                      \
                S(from), S(SETTLING)                                           \
        }
    ADMIT_ROW(WAIT_BUDGETS),
    ADMIT_ROW(WAIT_SLOT),
    ADMIT_ROW(ADMIT_LATER),
    ADMIT_ROW(RATE_LIMITED),
    ADMIT_ROW(ADMIT_NO_REDIS),
    ADMIT_ROW(ADMITTING),
    {S(ADMITTING), S(RATE_LIMITED)},
    {S(ADMITTING), S(AT_GATE)},
    {S(ADMITTING), S(CALLING)},
    {S(ADMITTING), S(HELD)},
    {S(AT_GATE), S(CALLING)},
    {S(CALLING), S(AT_GATE)},
    {S(CALLING), S(BACKING_OFF)},
    {S(CALLING), S(SETTLING)},
    {S(BACKING_OFF), S(AT_GATE)},
    {S(BACKING_OFF), S(CALLING)},
    {S(SETTLING), S(SETTLE_LATER)},
    {S(SETTLING), S(SETTLE_NO_REDIS)},
    {S(SETTLING), S(HELD)},
    {S(SETTLE_LATER), S(SETTLING)},
    {S(SETTLE_NO_REDIS), S(SETTLING)},
    {S(HELD), S(PUBLISHING)},
    {S(HELD), S(DONE)},
    {S(PUBLISHING), S(DONE)},
};

static int in_spec(int from, int to)
{
        if (from == to)
                return 1; /* no change */
        for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
                if (spec[i][0] == from && spec[i][1] == to)
                        return 1;
        return 0;
}

/* Every pair, through tg_job_set_state on a job put in `from`. */
static void test_table(void)
{
        tg_worker_t *w = worker_new(0);
        tg_job_t j;

        for (int from = 0; from < TG_JOB_STATES; from++) {
                int out = 0, in = 0;
                CHECK(strcmp(tg_job_state_name(from), "unknown") != 0);
                for (int to = 0; to < TG_JOB_STATES; to++) {
                        int want = in_spec(from, to);
                        CHECK_INT(tg_job_state_allowed(from, to), want);
                        memset(&j, 0, sizeof(j));
                        j.w = w;
                        j.state = (tg_job_state_t)from;
                        w->in_state[from] = 1;
                        w->in_state[to] = to == from ? 1 : 0;
                        w->fatal = 0;
                        CHECK_INT(tg_job_set_state(&j, (tg_job_state_t)to),
                                  want ? 0 : -1);
                        CHECK_INT(j.state, want ? to : from);
                        CHECK_INT(w->fatal, !want); /* refused: it stops */
                        if (to != from) {
                                CHECK_INT(w->in_state[to], want);
                                CHECK_INT(w->in_state[from], !want);
                        }
                        w->in_state[from] = w->in_state[to] = 0;
                        out += want && to != from;
                        in += in_spec(to, from) && to != from;
                }
                /* a way out of every state but done; none out of done */
                if (from == TG_JOB_DONE)
                        CHECK_INT(out, 0);
                else
                        CHECK(out > 0);
                /* every state but the first is reachable */
                if (from != TG_JOB_CONSUMED)
                        CHECK(in > 0);
        }
        CHECK_STR(tg_job_state_name(TG_JOB_STATES), "unknown");
        w->fatal = 0;
        worker_free(w);
}

/* An illegal change on a live job: refused, the job keeps its state and
 * its count, the worker stops; the resume switch refuses a reply state. */
static void test_illegal(void)
{
        tg_worker_t *w = worker_new(0);
        tg_job_t *j;

        tg_job_start(w, valid(1));
        j = job_at(w, 1);
        CHECK(j && j->state == TG_JOB_ADMITTING);
        if (!j)
                return;
        CHECK_INT(tg_job_set_state(j, TG_JOB_PUBLISHING), -1);
        CHECK_INT(j->state, TG_JOB_ADMITTING);
        CHECK_INT(w->in_state[TG_JOB_ADMITTING], 1);
        CHECK_INT(w->in_state[TG_JOB_PUBLISHING], 0);
        CHECK(w->fatal);
        w->fatal = w->stopping = 0;
        tg_job_run(j); /* admitting waits for its reply, not a resume */
        CHECK(w->fatal);
        CHECK_INT(n_calls, 1); /* nothing sent again */
        worker_free(w);
}

/* ---------------------------------------------------------------- paths */

static void test_approved(void)
{
        tg_worker_t *w = worker_new(0);
        tg_job_t *j;
        char *text;

        tg_job_start(w, valid(1));
        j = job_at(w, 1);
        CHECK(j && j->state == TG_JOB_ADMITTING);
        if (!j)
                return;
        tg_job_states_publish(w);
        text = tg_metrics_render(w->metrics);
        CHECK(
            text &&
            strstr(text, "tollgate_requests_in_state{state=\"admitting\"} 1"));
        free(text);
        CHECK_INT(calls[0].script, TG_SCRIPT_ADMIT);
        answer(0, 1, OK);
        CHECK_INT(j->state, TG_JOB_CALLING);
        CHECK_INT(n_adds, 1);
        CHECK_INT(j->attempts, 1);
        http_done(j, 200, NULL);
        CHECK_INT(j->state, TG_JOB_SETTLING);
        CHECK_INT(j->status, TG_STATUS_COMPLETED);
        CHECK_INT(j->end, TG_END_COMPLETED);
        CHECK_INT(n_calls, 2);
        CHECK_INT(calls[1].script, TG_SCRIPT_FINISH);
        answer(1, 3, SETTLED);
        CHECK_INT(j->state, TG_JOB_PUBLISHING);
        CHECK_INT(n_sends, 2); /* completion, usage */
        deliver_all();
        CHECK(w->jobs == NULL);
        CHECK_INT(w->inflight, 0);
        CHECK_INT(w->in_state[TG_JOB_DONE], 1);
        check_gauge_zero(w);
        CHECK(!w->fatal);
        worker_free(w);
}

/* Transactions: a later request that is ready first is held for order;
 * both go out, in offset order, when the earlier one is. */
static void test_held_for_order(void)
{
        tg_worker_t *w = worker_new(1);

        tg_job_start(w, message(INVALID, 1));
        tg_job_start(w, message(INVALID, 2));
        CHECK_INT(w->in_state[TG_JOB_SETTLING], 2);
        CHECK_INT(n_calls, 2);
        answer(1, 3, SETTLED); /* offset 2 first */
        CHECK_INT(job_at(w, 2) ? (int)job_at(w, 2)->state : -1, TG_JOB_HELD);
        CHECK_INT(n_sends, 0);
        CHECK_INT(n_txn_offsets, 0);
        answer(0, 3, SETTLED);
        CHECK(w->jobs == NULL); /* in the transaction: freed */
        CHECK_INT(n_sends, 4);
        CHECK_INT(n_txn_offsets, 1);
        CHECK_INT(txn_offset_last, 3); /* next to read */
        check_gauge_zero(w);
        worker_free(w);
}

static void test_other_ends(void)
{
        tg_worker_t *w = worker_new(0);
        static const char *DONE[] = {"done", "{\"requestId\":\"r-2\"}",
                                     "{\"requestId\":\"r-2\"}", "", ""};
        static const char *REJECTED[] = {"rejected", "team"};
        tg_job_t *j;

        /* not JSON: the DLQ, no ledger call */
        tg_job_start(w, message("not json", 1));
        j = job_at(w, 1);
        CHECK(j && j->state == TG_JOB_PUBLISHING && j->end == TG_END_DLQ);
        CHECK_INT(n_sends, 1);
        CHECK_INT(n_calls, 0);
        /* invalid: settled uncharged */
        tg_job_start(w, message(INVALID, 2));
        j = job_at(w, 2);
        CHECK(j && j->state == TG_JOB_SETTLING && j->end == TG_END_INVALID);
        CHECK(j && j->status == TG_STATUS_INVALID);
        CHECK(j && strncmp(j->reason, "invalid: ", 9) == 0);
        /* answered before: the stored events, no call */
        tg_job_start(w, valid(3));
        answer(1, 5, DONE);
        j = job_at(w, 3);
        CHECK(j && j->state == TG_JOB_PUBLISHING && j->end == TG_END_ANSWERED);
        /* rejected (no defer budget): settled */
        tg_job_start(w, valid(4));
        answer(2, 2, REJECTED);
        j = job_at(w, 4);
        CHECK(j && j->state == TG_JOB_SETTLING && j->end == TG_END_REJECTED);
        CHECK(j && strcmp(j->reason, "budget_exceeded:team") == 0);
        CHECK_INT(n_adds, 0); /* no Bedrock call for any */
        answer(3, 3, SETTLED);
        answer(0, 3, SETTLED); /* the invalid one */
        CHECK_INT(n_sends, 1 + 2 + 2 + 2);
        deliver_all();
        CHECK(w->jobs == NULL);
        check_gauge_zero(w);
        CHECK(!w->fatal);
        worker_free(w);
}

/* Redis away when sending, or the connection lost before a reply: the job
 * waits for it in the state that says which step to redo. */
static void test_redis_away(void)
{
        tg_worker_t *w = worker_new(0);
        tg_job_t *j;

        ledger_fail = 1;
        tg_job_start(w, valid(1));
        j = job_at(w, 1);
        CHECK(j && j->state == TG_JOB_ADMIT_NO_REDIS);
        CHECK_INT(w->wait_redis.len, 1);
        if (!j)
                return;
        redis_up = 0;
        tg_jobs_redis_up(w); /* not up: nothing resumes */
        CHECK_INT(j->state, TG_JOB_ADMIT_NO_REDIS);
        ledger_fail = 0, redis_up = 1;
        tg_jobs_redis_up(w);
        CHECK_INT(j->state, TG_JOB_ADMITTING);
        CHECK_INT(n_calls, 1);
        calls[0].cb(NULL, NULL, calls[0].opaque); /* connection lost */
        CHECK_INT(j->state, TG_JOB_ADMIT_NO_REDIS);
        CHECK_INT(w->admits_out, 0);
        tg_jobs_redis_up(w);
        answer(1, 1, OK);
        http_done(j, 200, NULL);
        CHECK_INT(j->state, TG_JOB_SETTLING);
        calls[2].cb(NULL, NULL, calls[2].opaque); /* lost again */
        CHECK_INT(j->state, TG_JOB_SETTLE_NO_REDIS);
        tg_jobs_redis_up(w);
        CHECK_INT(j->state, TG_JOB_SETTLING);
        CHECK_INT(calls[3].script, TG_SCRIPT_FINISH);
        answer(3, 3, SETTLED);
        deliver_all();
        CHECK(w->jobs == NULL);
        check_gauge_zero(w);
        worker_free(w);
}

/* A reply the job cannot read (an error, an array too short): logged, and
 * the step is asked again after a second, from the state that says which;
 * nothing is lost or answered twice. */
static void test_bad_reply(void)
{
        tg_worker_t *w = worker_new(0);
        static const char *SHORT[] = {"ok", ""};
        redisReply *err = str_reply("ERR something odd");
        tg_job_t *j;

        err->type = REDIS_REPLY_ERROR;
        tg_job_start(w, valid(1));
        j = job_at(w, 1);
        CHECK(j && j->state == TG_JOB_ADMITTING);
        if (!j)
                return;
        calls[0].cb(NULL, err, calls[0].opaque);
        reply_free(err);
        CHECK_INT(j->state, TG_JOB_ADMIT_LATER);
        CHECK_INT(w->admits_out, 0);
        RUN_UNTIL(w, n_calls == 2); /* the timer: admit.lua again */
        CHECK_INT(j->state, TG_JOB_ADMITTING);
        CHECK_INT(calls[1].script, TG_SCRIPT_ADMIT);
        answer(1, 1, OK);
        http_done(j, 200, NULL);
        CHECK_INT(j->state, TG_JOB_SETTLING);
        answer(2, 2, SHORT); /* finish.lua's reply has 3 elements or more */
        CHECK_INT(j->state, TG_JOB_SETTLE_LATER);
        CHECK_INT(n_sends, 0);
        RUN_UNTIL(w, n_calls == 4); /* the timer: finish.lua again */
        CHECK_INT(j->state, TG_JOB_SETTLING);
        CHECK_INT(calls[3].script, TG_SCRIPT_FINISH);
        answer(3, 3, SETTLED);
        CHECK_INT(n_sends, 2);
        deliver_all();
        CHECK(w->jobs == NULL);
        check_gauge_zero(w);
        CHECK(!w->fatal);
        worker_free(w);
}

/* --admit-window 2: the third and fourth wait for a slot, in order; a
 * rate-limited one asks again after its window, behind them. */
static void test_admit_window(void)
{
        tg_worker_t *w = worker_new(0);
        static const char *RATE[] = {"rate", "team", "10"};
        static const char *BUSY[] = {"busy", "100"};

        conf.admit_window = 2;
        for (int i = 1; i <= 4; i++)
                tg_job_start(w, valid(i));
        CHECK_INT(n_calls, 2);
        CHECK_INT(w->admits_out, 2);
        CHECK_INT(w->in_state[TG_JOB_ADMITTING], 2);
        CHECK_INT(w->in_state[TG_JOB_WAIT_SLOT], 2);
        answer(0, 3, RATE); /* r-1: rate-limited, r-3 takes its slot */
        CHECK_INT(job_at(w, 1)->state, TG_JOB_RATE_LIMITED);
        CHECK_INT(job_at(w, 3)->state, TG_JOB_ADMITTING);
        CHECK_INT(job_at(w, 4)->state, TG_JOB_WAIT_SLOT);
        CHECK_INT(n_calls, 3);
        answer(1, 2, BUSY); /* r-2: busy, r-4 takes its slot */
        CHECK_INT(job_at(w, 2)->state, TG_JOB_ADMIT_LATER);
        CHECK_INT(job_at(w, 4)->state, TG_JOB_ADMITTING);
        /* the timers fire: both ask again, the window is full: they queue */
        RUN_UNTIL(w, w->in_state[TG_JOB_WAIT_SLOT] == 2);
        CHECK_INT(w->in_state[TG_JOB_WAIT_SLOT], 2);
        CHECK_INT(n_calls, 4);
        answer(2, 1, OK); /* r-3 admitted: the first back takes the slot */
        CHECK_INT(n_calls, 5);
        CHECK_INT(w->admits_out, 2);
        CHECK_INT(w->in_state[TG_JOB_WAIT_SLOT], 1);
        CHECK_INT(job_at(w, 3)->state, TG_JOB_CALLING);
        CHECK(job_at(w, 1)->wait_rate_ms >= 10);
        worker_free(w); /* abandoned in flight: the gauge still drains */
}

/* A model gate with concurrency 1: the second approved call waits at the
 * gate and is resumed by the first one's end. */
static void test_gate_concurrency(void)
{
        tg_worker_t *w = worker_new(0);
        tg_job_t *a, *b;

        conf.model_concurrency = 1;
        tg_job_start(w, valid(1));
        tg_job_start(w, valid(2));
        answer(0, 1, OK);
        answer(1, 1, OK);
        a = job_at(w, 1), b = job_at(w, 2);
        CHECK_INT(a->state, TG_JOB_CALLING);
        CHECK_INT(b->state, TG_JOB_AT_GATE);
        CHECK_INT(n_adds, 1);
        http_done(a, 200, NULL);
        CHECK_INT(a->state, TG_JOB_SETTLING);
        CHECK_INT(b->state, TG_JOB_CALLING);
        CHECK_INT(n_adds, 2);
        worker_free(w);
}

/* A throttle: retried through the gate, whose rate it just cut; it waits
 * there until a token is due (a timer) and does not use up an attempt. */
static void test_gate_rate(void)
{
        tg_worker_t *w = worker_new(0);
        tg_job_t *j;

        conf.max_attempts = 1;
        tg_job_start(w, valid(1));
        answer(0, 1, OK);
        j = job_at(w, 1);
        http_done(j, 429, "ThrottlingException");
        CHECK_INT(j->throttles, 1);
        CHECK(j->state == TG_JOB_AT_GATE || j->state == TG_JOB_CALLING);
        RUN_UNTIL(w, n_adds == 2);
        CHECK_INT(n_adds, 2);
        CHECK_INT(j->state, TG_JOB_CALLING);
        http_done(j, 200, NULL); /* max_attempts 1, yet completed */
        CHECK_INT(j->state, TG_JOB_SETTLING);
        CHECK_INT(j->status, TG_STATUS_COMPLETED);
        worker_free(w);
}

/* Retryable errors back off (a timer, then the gate) until --max-attempts,
 * then the request fails; a non-retryable one fails at once. */
static void test_backoff(void)
{
        tg_worker_t *w = worker_new(0);
        tg_job_t *j, *k;

        conf.max_attempts = 3;
        tg_job_start(w, valid(1));
        answer(0, 1, OK);
        j = job_at(w, 1);
        for (int attempt = 1; attempt <= 2; attempt++) {
                http_done(j, 500, "InternalServerException");
                CHECK_INT(j->state, TG_JOB_BACKING_OFF);
                RUN_UNTIL(w, n_adds == attempt + 1);
                CHECK_INT(j->state, TG_JOB_CALLING);
                CHECK_INT(j->attempts, attempt + 1);
        }
        http_done(j, 500, "InternalServerException"); /* the third: gives up */
        CHECK_INT(j->state, TG_JOB_SETTLING);
        CHECK_INT(j->status, TG_STATUS_FAILED);
        CHECK_INT(j->end, TG_END_FAILED);
        CHECK(strstr(j->reason, "InternalServerException") != NULL);
        CHECK_INT(n_adds, 3);
        tg_job_start(w, valid(2));
        answer(2, 1, OK);
        k = job_at(w, 2);
        http_done(k, 400, "ValidationException");
        CHECK_INT(k->state, TG_JOB_SETTLING);
        CHECK_INT(k->attempts, 1);
        CHECK(strstr(k->reason, "ValidationException") != NULL);
        answer(1, 3, SETTLED);
        answer(3, 3, SETTLED);
        deliver_all();
        CHECK(w->jobs == NULL);
        check_gauge_zero(w);
        worker_free(w);
}

int main(int argc, char **argv)
{
        static const struct {
                const char *name;
                void (*fn)(void);
        } cases[] = {
            {"table", test_table},
            {"illegal", test_illegal},
            {"approved", test_approved},
            {"held", test_held_for_order},
            {"ends", test_other_ends},
            {"redis", test_redis_away},
            {"bad_reply", test_bad_reply},
            {"window", test_admit_window},
            {"concurrency", test_gate_concurrency},
            {"rate", test_gate_rate},
            {"backoff", test_backoff},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (argc < 2 || strcmp(argv[1], cases[i].name) == 0)
                        cases[i].fn();
        return tg_test_done("test_request_sm");
}
