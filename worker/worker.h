/*
 * tollgate-worker's inside (docs/architecture.md: threads, layers and
 * owners, a request's life, the outbox, rebalances). One libuv loop drives the
 * Kafka consumer queue, the producer's delivery reports, async Redis (hiredis)
 * and Bedrock calls (curl multi); a request is a job whose explicit state
 * (job_state.h, job.c) moves, each step started by the completion of
 * the one before:
 *
 *   consumed -> admitting (Redis) -> at the gate -> calling (Bedrock,
 *   retried) -> settling (Redis) -> held -> publishing (Kafka) -> done
 */
#ifndef TG_WORKER_H
#define TG_WORKER_H

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <uv.h>

#include "aws/creds.h"
#include "bedrock/aimd.h"
#include "bedrock/converse.h"
#include "bedrock/errors.h"
#include "bedrock/ratelimit.h"
#include "budget.h"
#include "catalog.h"
#include "config.h"
#include "dynbuf.h"
#include "job_state.h"
#include "ledger.h"
#include "metrics.h"
#include "offsets.h"
#include "outbox.h"
#include "request.h"
#include "status.h"

#define TG_RESPONSE_MAX   (16 * 1024 * 1024)
#define TG_PARTITIONS_MAX 4096
#define TG_EASY_POOL      256

typedef struct tg_worker tg_worker_t;
typedef struct tg_job tg_job_t;

typedef struct tg_job_budget {
        char id[TG_BUDGET_ID_MAX + 1];
        char period[TG_PERIOD_LABEL_MAX];
        char key[160];
        char rate_key[160];
        int64_t rpm, tpm;   /* 0 none */
        int defer;          /* onExceed=defer */
        int64_t limit_nano; /* -1 none */
        int64_t limit_tokens;
        char thresholds[64]; /* "50,80,100" */
        int degrade_at;      /* percent, 0 never (budget.h) */
        tg_tier_t degrade_tier;
} tg_job_budget_t;

/* What a budget puts in a matching job, built once instead of formatted
 * per request (budgets.c): the definition's part when the definitions
 * load, the period label and budget key when the UTC day moves (a day and
 * a month label are functions of the day), the rate key when the minute
 * does. Jobs get a copy. */
typedef struct tg_budget_fill {
        int64_t day;    /* UTC day jb.period and jb.key are of */
        int64_t minute; /* the minute of jb.rate_key */
        tg_job_budget_t jb;
} tg_budget_fill_t;

/* Waiting lists a job can sit on (never more than one at a time). */
typedef struct tg_job_list {
        tg_job_t *head, *tail;
        size_t len;
} tg_job_list_t;

typedef struct tg_model_gate {
        const tg_model_t *model;
        tg_worker_t *w;
        tg_aimd_t aimd;
        tg_rate_t rate; /* calls/s, learned from throttles */
        double lat_ms;  /* moving average of successful call latency */
        int64_t active;
        tg_job_list_t waiting;
        uv_timer_t timer; /* next token, while jobs wait for one */
        int timer_open;
} tg_model_gate_t;

/* One request. Its state (job.c, the only writer) says what it waits
 * for and what runs next; whichever list, timer or callback of that state
 * holds it owns it, one at a time. Loop thread only. */
struct tg_job {
        tg_worker_t *w;
        tg_job_state_t state;
        tg_job_end_t end;    /* how it ended (tg_job_end): what it publishes */
        tg_job_t *wait_next; /* on a tg_job_list_t */
        tg_job_t *all_prev, *all_next;
        rd_kafka_message_t *msg; /* owned until published */
        int32_t partition;
        int64_t offset;
        tg_outbox_entry_t ob; /* its place in the outbox (outbox.h) */
        tg_request_t req;
        int parsed;
        char request_id[TG_REQUEST_ID_MAX + 1];
        char timestamp[40];
        tg_status_t status;
        char reason[768];
        tg_resolved_t res;
        tg_bound_t bound;
        tg_tier_pick_t tier; /* the tier it goes at (budget.h) */
        tg_job_budget_t *budgets;
        size_t n_budgets;
        int reserved;        /* the ledger holds our reservation */
        int64_t lease_ms;    /* when our lease was last set (monotonic) */
        int billing_unknown; /* the call may have been billed */
        int build_failures;  /* events that could not be built (memory) */
        int attempts;
        /* of the attempts, those throttled, and since when (monotonic) */
        int throttles;
        int64_t first_throttle_ms;
        int64_t t0_us;         /* consumed (monotonic) */
        int64_t call_start_us; /* current Bedrock attempt */
        int64_t bedrock_us;    /* time spent in Bedrock calls */
        int64_t wait_rate_ms;  /* time held by rate limits */
        /* Bedrock HTTP */
        CURL *easy;
        struct curl_slist *headers;
        char *body;
        size_t body_len;
        tg_dynbuf_t resp; /* the body, capped at TG_RESPONSE_MAX */
        char err_type_hdr[128];
        char aws_request_id[128];
        tg_converse_result_t out;
        int has_out;
        int64_t bedrock_latency_ms;
        tg_model_gate_t *gate;
        /* outcome */
        tg_usage_t usage;
        int64_t cost_nano;
        int64_t overrun_nano;
        int deliveries;
        char *stored_completion; /* events to publish, owned */
        char *stored_usage;
        char *stored_alerts;    /* alert specs, one per line */
        char *completion_built; /* sent to finish, owned */
        char *usage_built;
        uv_timer_t timer; /* the timer states' (job.c) */
        int timer_open;
        rd_kafka_headers_t *hdrs; /* of a DLQ or deferred message, owned */
};

/* What the transports call back with (set by worker.c): the consumer, the
 * producer and curl-multi name no job function, they hand back the opaque
 * pointer they were given (docs/architecture.md, "Layers"). Redis calls
 * back through tg_ledger_cb and its opaque the same way. */
typedef struct tg_worker_cbs {
        /* consumer: a message consumed (the callee owns it) */
        void (*message)(tg_worker_t *w, rd_kafka_message_t *msg);
        /* producer: every delivery of a message sent with this opaque */
        void (*delivered)(void *opaque);
        /* curl multi: a transfer ended (its CURLOPT_PRIVATE) */
        void (*http_done)(void *priv, CURLcode rc);
} tg_worker_cbs_t;

/* The worker, grouped by owner, each group with its thread rule (as
 * librdkafka's rd_kafka_t is). The groups are anonymous structs so that
 * every w->field reads as before: the grouping documents ownership without
 * touching the files that use them. Unless a group says otherwise, every
 * field is the loop thread's alone (docs/architecture.md, "Threads"). */
struct tg_worker {
        /* Configuration and handles: set by tg_worker_new, read-only
         * after (worker.c). */
        struct {
                tg_config_t *conf;
                tg_worker_cbs_t cbs;
                uv_loop_t *loop;
                char t_requests[256], t_completions[256], t_usage[256],
                    t_alerts[256], t_dlq[256], t_deferred[256];
                tg_catalog_t *catalog;
                tg_creds_t *creds; /* thread-safe (aws/creds.h) */
                char endpoint[512];
                char host[256];
        };
        /* Consumer side (consumer.c, assignment.c): loop thread;
         * librdkafka's threads only write the queue's pipe. */
        struct {
                rd_kafka_t *consumer;
                rd_kafka_queue_t *cq;
                int cq_pipe[2];
                uv_poll_t cq_poll;
                int assigned;
                int ever_assigned; /* a first assignment came */
                /* static + cooperative: held nothing since, and the wait
                 * before leaving and rejoining (tg_consumer_tick) */
                int64_t idle_since_ms, idle_wait_ms;
                int cooperative; /* cooperative-sticky (assignment.c) */
                int paused;
                int drain_pending; /* the consumer queue may hold messages */
                uv_timer_t kick;   /* schedules a consumer drain */
        };
        /* Producer and transaction (producer.c, txn.c): loop thread;
         * txn_bg is shared with the transaction helper thread under its
         * own lock (txn.c). */
        struct {
                rd_kafka_t *producer;
                rd_kafka_queue_t *pq;
                int pq_pipe[2];
                uv_poll_t pq_poll;
                int txn; /* on */
                int64_t txn_offsets[TG_PARTITIONS_MAX];
                /* the transaction's own state (idle, open, committing,
                 * aborting, fatal) and the thread commits run on: private
                 * to txn.c */
                struct tg_txn_bg *txn_bg;
                uv_timer_t txn_timer;
        };
        /* Ordering of outputs and offset release, both modes (outbox.h):
         * loop thread. */
        tg_outbox_t *outbox;
        /* The ledger and the budget definitions (budgets.c, job.c's leases,
         * reaper.c): loop thread (hiredis runs on the loop). The reaper's
         * times are monotonic ms. */
        struct {
                tg_ledger_t *ledger;
                tg_budget_t *budgets; /* reloaded when the version moves */
                tg_budget_fill_t *budget_fills; /* one per budgets[i] */
                size_t n_budgets;
                char budgets_version[32];
                int budgets_loading;
                int budgets_loaded;
                int64_t last_reap_ms;
                int64_t ledger_down_ms; /* last tick that saw Redis away */
        };
        /* Bedrock over curl multi (http.c, job.c): loop thread. */
        struct {
                CURLM *multi;
                /* reset handles for the next calls */
                CURL *easy_pool[TG_EASY_POOL];
                size_t n_easy_pool;
                uv_timer_t curl_timer;
                /* curl's sockets by descriptor, each with the uv_poll
                 * handle it keeps while its connection idles (http.c) */
                struct tg_http_sock **http_socks;
                size_t n_http_socks; /* slots, grown up to a cap */
        };
        /* The request pipeline's waits (job.c,
         * gates.c): loop thread. A job is on at most one list. */
        struct {
                tg_job_list_t wait_budgets; /* a (re)load of definitions */
                tg_job_list_t wait_redis;   /* Redis to return */
                tg_job_list_t wait_admit;   /* an admission slot */
                size_t admits_out;          /* admissions sent, reply pending */
                tg_model_gate_t *gates;     /* one per model (gates.c) */
                size_t n_gates;
                tg_job_t *jobs; /* every job in flight */
                size_t inflight;
                /* jobs in each state (job.c; DONE: freed, a count) */
                size_t in_state[TG_JOB_STATES];
                int closing;  /* tg_jobs_abandon: jobs freed unanswered */
                uint64_t rng; /* jitter of backoffs and rate waits */
        };
        /* Flow and lifecycle (worker.c): loop thread. */
        struct {
                int stopping;
                int64_t stop_deadline_ms;
                int fatal;
                uv_signal_t sigterm, sigint;
                uv_timer_t tick;
        };
        /* What /readyz says besides the flags above (readiness.c): loop
         * thread (librdkafka's error and statistics callbacks are served
         * by the consumer queue, on the loop). */
        struct {
                int ledger_was_up; /* else "starting" */
                int64_t
                    kafka_auth_err_ms; /* last authentication error; 0: none */
                int64_t kafka_up_ms;   /* last statistics with a broker up */
        };
        /* Metrics: its own lock, read by the HTTP thread (metrics.h). */
        tg_metrics_t *metrics;
};

/* readiness.c: what /readyz says, from the worker's flags, Redis, the AWS
 * credentials and Kafka authentication (docs/operations.md, "Readiness").
 * Loop thread only. */
void tg_ready_update(tg_worker_t *w);
/* From the consumer's error callback: the broker refused authentication
 * (or no token could be made). */
void tg_ready_kafka_auth_error(tg_worker_t *w);
/* From the consumer's statistics callback (librdkafka's JSON). */
void tg_ready_kafka_stats(tg_worker_t *w, const char *json, size_t len);

/* worker.c */
tg_worker_t *tg_worker_new(tg_config_t *conf, char *errstr, size_t size);
int tg_worker_run(tg_worker_t *w);
void tg_worker_destroy(tg_worker_t *w);
void tg_worker_flow(tg_worker_t *w); /* pause/resume/drain after changes */
/* The one way to stop on an error that leaves no safe way on: logs the
 * reason, stops at once (nothing more is consumed or published), marks the
 * process not ready and makes it exit 1. Loop thread only. */
void tg_worker_fatal(tg_worker_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* assignment.c: group membership settings, checked at start */
/* Sets *cooperative when the strategy is cooperative-sticky. */
int tg_assignment_conf(rd_kafka_conf_t *kc, const tg_config_t *c,
                       int *cooperative, char *errstr, size_t size);

/* consumer.c */
int tg_consumer_start(tg_worker_t *w, char *errstr, size_t size);
void tg_consumer_drain(tg_worker_t *w);
void tg_consumer_pause(tg_worker_t *w, int pause);
/* Once a second from the loop: a static member that holds nothing for
 * long leaves and rejoins the group (consumer.c says why). */
void tg_consumer_tick(tg_worker_t *w);
void tg_consumer_close(tg_worker_t *w);
/* 1 when tg_consumer_close left a consumer undestroyed (consumer.c, #4312):
 * the process must then end with _exit, never run exit's destructors
 * under librdkafka's still-running threads. */
int tg_consumer_abandoned(void);
void tg_consumer_commit_sync(tg_worker_t *w);
/* Stores a released offset for the auto-commit (idempotent mode). */
void tg_consumer_store(tg_worker_t *w, int32_t partition, int64_t offset);
void tg_consumer_rewind(tg_worker_t *w);

/* txn.c */
int tg_txn_init(tg_worker_t *w, char *errstr, size_t size);
int tg_txn_start(tg_worker_t *w, char *errstr, size_t size);
void tg_txn_stop(tg_worker_t *w);
int tg_txn_ensure(tg_worker_t *w); /* 0 produce, 1 hold, -1 refuse */
int tg_txn_hold(tg_worker_t *w, const char *topic, const void *key,
                size_t key_len, const void *value, size_t len,
                rd_kafka_headers_t *hdrs);
void tg_txn_offset(tg_worker_t *w, int32_t partition, int64_t offset);
int tg_txn_commit(tg_worker_t *w);
void tg_txn_revoke(tg_worker_t *w);
void tg_txn_abort(tg_worker_t *w, const char *why);
void tg_txn_tick(tg_worker_t *w);
/* Messages held while a commit runs (they count as in flight). */
size_t tg_txn_held(const tg_worker_t *w);

/* producer.c */
int tg_producer_start(tg_worker_t *w, char *errstr, size_t size);
/* Produces a copy of key/value (hdrs consumed); each delivery report of it
 * goes to cbs.delivered(opaque) (none when transactions are on: the
 * transaction commits it). Returns 0 or -1. */
int tg_producer_send(tg_worker_t *w, const char *topic, const void *key,
                     size_t key_len, const void *value, size_t len,
                     void *opaque, rd_kafka_headers_t *hdrs);
void tg_producer_close(tg_worker_t *w);
/* Serves delivery reports on the calling thread (the loop's), waiting up to
 * timeout_ms for the first; flush serves them until none is outstanding. */
void tg_producer_serve(tg_worker_t *w, int timeout_ms);
void tg_producer_flush(tg_worker_t *w, int timeout_ms);

/* http.c: curl multi on the loop */
int tg_http_start(tg_worker_t *w, char *errstr, size_t size);
void tg_http_stop(tg_worker_t *w);
/* An easy handle with no options set but http.c's socket callbacks (a kept
 * one, else a new one), or NULL; give it back with tg_http_easy_put once
 * out of the multi handle. */
CURL *tg_http_easy_get(tg_worker_t *w);
void tg_http_easy_put(tg_worker_t *w, CURL *e);

/* job.c: one request's life, top to bottom (see there). What the rest of
 * the worker calls: */
/* The consumer's message callback: a new job, parsed and started. */
void tg_job_start(tg_worker_t *w, rd_kafka_message_t *msg);
/* Every change of a job's state: checked against the table, logged,
 * counted; -1 (and the worker stopped) when the table forbids it. */
int tg_job_set_state(tg_job_t *j, tg_job_state_t to);
int tg_job_state_allowed(int from, int to); /* 1 when from => to may be */
const char *tg_job_state_name(int s);
void tg_job_run(tg_job_t *j); /* the resume switch: a wait is over */
/* Waits in `state` (ADMIT_NO_REDIS, SETTLE_NO_REDIS) for Redis. */
void tg_job_wait_redis(tg_job_t *j, tg_job_state_t state);
void tg_job_call(tg_job_t *j); /* a gate let it through: call Bedrock */
/* http.c's done callback for a transfer (the opaque pointer is the job). */
void tg_job_http_done(void *job, CURLcode rc);
void tg_job_finish(tg_job_t *j); /* settle: finish.lua (again) */
/* The producer's delivery callback: one of the job's messages is out. */
void tg_job_delivered(void *job);
/* The worker's outbox, its ops calling back into jobs. */
tg_outbox_t *tg_jobs_outbox_new(tg_worker_t *w);
void tg_jobs_redis_up(tg_worker_t *w);       /* resume the jobs waiting */
void tg_jobs_abandon(tg_worker_t *w);        /* shutdown: free them all */
void tg_job_states_register(tg_worker_t *w); /* names for the gauge */
void tg_job_states_publish(tg_worker_t *w);  /* counts to the gauge */
/* Every tick: renews the leases of live reservations (a third passed). */
void tg_lease_tick(tg_worker_t *w);

/* budgets.c */
void tg_budgets_reload(tg_worker_t *w);
int tg_budgets_match(tg_worker_t *w, tg_job_t *j);
/* The same at now_us, the wall clock in microseconds (tests set it). */
int tg_budgets_match_at(tg_worker_t *w, tg_job_t *j, int64_t now_us);
int tg_budgets_from_keys(tg_worker_t *w, tg_job_t *j, const char *keys);
struct tg_ledger_args;
/* admit.lua's degrade arguments, when a matched budget may degrade. */
void tg_budgets_degrade_args(tg_job_t *j, struct tg_ledger_args *a);
/* The tier admit.lua reserved at: its "ok" reply (tier, degraded-by and
 * bound after the n spent values) or a "resume" (tier, degraded-by after
 * the bound). 0, or -1 on an unreadable reply. */
int tg_budgets_tier_ok(tg_job_t *j, struct redisReply *r);
int tg_budgets_tier_resume(tg_job_t *j, struct redisReply *r);
void tg_budgets_destroy(tg_worker_t *w);

/* reaper.c: releases reservations of workers that died */
void tg_reaper_tick(tg_worker_t *w);

void tg_lag_update(tg_worker_t *w);
void tg_worker_rtt(int64_t us, void *opaque);
/* Counts a ledger admit/finish call and its requests (metrics). */
void tg_worker_batch(tg_script_t script, int requests, void *opaque);

/* gates.c: adaptive per-model concurrency */
/* Calls now (tg_job_call) or waits AT_GATE; the gate resumes it. */
void tg_gate_enter(tg_job_t *j);
void tg_gate_leave(tg_job_t *j, int throttled);
void tg_gates_destroy(tg_worker_t *w);

/* events.c */
char *tg_events_completion(tg_job_t *j);
char *tg_events_usage(tg_job_t *j);
char *tg_events_alert(tg_worker_t *w, const char *id, const char *period,
                      long long thr, long long spent, long long limit,
                      int tokens, const char *ts);

/* lists */
void tg_job_list_push(tg_job_list_t *l, tg_job_t *j);
tg_job_t *tg_job_list_pop(tg_job_list_t *l);

#endif
