/*
 * The worker's request path when an allocation fails, against fake
 * transports: no broker, Redis or HTTP. The link replaces (ld --wrap, see
 * tests/CMakeLists.txt) the ledger's calls, the producer's send and the
 * librdkafka message functions with the fakes below, and strdup, calloc
 * and tg_events_completion with versions that fail on demand. Each case
 * failed before its fix (issue 13's defects):
 *
 *  - take_stored (job.c) did not check its strdups: emit_events then
 *    ran strlen(NULL);
 *  - tg_job_finish returned when it could not build the events, leaving
 *    the job in flight for ever (lease renewed, offset pinned);
 *  - tg_job_start did not check its calloc;
 *  - the reaper did not check its strdup (strtok_r on NULL).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_reply.h"
#include "tg_test.h"
#include "worker.h"

/* ------------------------------------------------------- failing on demand */

static int fail_strdup, fail_calloc, fail_events;
char *__real_strdup(const char *s);
void *__real_calloc(size_t n, size_t size);
char *__real_tg_events_completion(tg_job_t *j);

char *__wrap_strdup(const char *s)
{
        if (fail_strdup && --fail_strdup == 0)
                return NULL;
        return __real_strdup(s);
}

void *__wrap_calloc(size_t n, size_t size)
{
        if (fail_calloc && --fail_calloc == 0)
                return NULL;
        return __real_calloc(n, size);
}

char *__wrap_tg_events_completion(tg_job_t *j)
{
        if (fail_events && --fail_events == 0)
                return NULL;
        return __real_tg_events_completion(j);
}

/* ------------------------------------------------------- fake transports */

typedef struct call {
        int script; /* -1: a plain command */
        tg_ledger_cb *cb;
        void *opaque;
} call_t;

static call_t calls[64];
static int n_calls, n_sends, n_destroyed;
static void *sent_by[64];

int __wrap_tg_ledger_eval(tg_ledger_t *l, tg_script_t script, int nkeys,
                          int nargs, const char **argv, const size_t *lens,
                          tg_ledger_cb *cb, void *opaque)
{
        calls[n_calls++] = (call_t){(int)script, cb, opaque};
        return 0;
}

int __wrap_tg_ledger_cmd(tg_ledger_t *l, int argc, const char **argv,
                         const size_t *lens, tg_ledger_cb *cb, void *opaque)
{
        calls[n_calls++] = (call_t){-1, cb, opaque};
        return 0;
}

int __wrap_tg_ledger_up(tg_ledger_t *l)
{
        return 1;
}

int __wrap_tg_producer_send(tg_worker_t *w, const char *topic, const void *key,
                            size_t key_len, const void *value, size_t len,
                            void *j, rd_kafka_headers_t *hdrs)
{
        CHECK(value != NULL);
        sent_by[n_sends++] = j;
        if (hdrs)
                rd_kafka_headers_destroy(hdrs);
        return 0;
}

void __wrap_rd_kafka_message_destroy(rd_kafka_message_t *m)
{
        n_destroyed++;
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

const char *__wrap_rd_kafka_topic_name(const rd_kafka_topic_t *t)
{
        return "tollgate.requests";
}

/* ------------------------------------------------------------- a worker */

static tg_config_t conf;

/* The real worker always holds a credentials provider (tg_creds_new fails
 * the start otherwise); static environment keys never expire. */
static const char *fake_env(void *opaque, const char *name)
{
        if (!strcmp(name, "AWS_ACCESS_KEY_ID"))
                return "AKIDEXAMPLE";
        if (!strcmp(name, "AWS_SECRET_ACCESS_KEY"))
                return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        return NULL;
}

static tg_worker_t *worker_new(void)
{
        tg_worker_t *w = calloc(1, sizeof(*w));
        char err[256];

        tg_config_init(&conf);
        conf.transactions = 0;
        w->conf = &conf;
        w->loop = uv_default_loop();
        w->metrics = tg_metrics_new(0, NULL, 0, err, sizeof(err));
        w->catalog =
            tg_catalog_load_file("worker/catalog.json", err, sizeof(err));
        tg_creds_conf_t cc = {.getenv_fn = fake_env, .quiet = 1};
        w->creds = tg_creds_new(&cc, err, sizeof(err));
        CHECK(w->metrics && w->catalog && w->creds);
        w->budgets_loaded = 1; /* none: nothing to match */
        w->outbox = tg_jobs_outbox_new(w);
        tg_outbox_assign(w->outbox, 0);
        strcpy(w->t_completions, "c");
        strcpy(w->t_usage, "u");
        strcpy(w->t_dlq, "d");
        strcpy(w->t_alerts, "a");
        return w;
}

static void worker_free(tg_worker_t *w)
{
        tg_outbox_destroy(w->outbox);
        tg_jobs_abandon(w);
        uv_run(w->loop, UV_RUN_NOWAIT);
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

static const char *VALID =
    "{\"requestId\":\"r-1\",\"model\":\"nova-lite\",\"prompt\":{\"messages\":"
    "[{\"role\":\"user\",\"content\":\"hi\"}],\"parameters\":{\"max_tokens\":"
    "10}},\"tags\":{\"costCenter\":\"eng\",\"applicationId\":\"a\"}}";
static const char *INVALID =
    "{\"requestId\":\"r-2\",\"model\":\"no-such-model\",\"prompt\":{"
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}";

/* Runs the loop until n ledger calls were made (timers fire), or 5 s. */
static void run_until_calls(tg_worker_t *w, int n)
{
        for (int i = 0; i < 500 && n_calls < n; i++) {
                uv_run(w->loop, UV_RUN_NOWAIT);
                usleep(10000);
        }
}

/* "done" from the admission: publish what the ledger stored. */
static const char *DONE[] = {"done", "{\"requestId\":\"r-1\"}",
                             "{\"requestId\":\"r-1\",\"budgets\":[]}", "", ""};

static void test_take_stored_strdup(void)
{
        tg_worker_t *w = worker_new();
        redisReply *r = array_reply(5, DONE);

        n_calls = n_sends = 0;
        tg_job_start(w, message(VALID, 1));
        CHECK_INT(n_calls, 1);
        CHECK_INT(calls[0].script, TG_SCRIPT_ADMIT);
        CHECK_INT(w->inflight, 1);
        fail_strdup = 1; /* the stored completion's copy */
        calls[0].cb(NULL, r, calls[0].opaque);
        fail_strdup = 0;
        CHECK_INT(n_sends, 0);     /* nothing published from NULL */
        CHECK_INT(w->inflight, 1); /* and the job not lost */
        run_until_calls(w, 2);     /* asked again */
        CHECK_INT(n_calls, 2);
        CHECK_INT(calls[1].script, TG_SCRIPT_ADMIT);
        if (n_calls == 2)
                calls[1].cb(NULL, r, calls[1].opaque);
        CHECK_INT(n_sends, 2); /* completion and usage */
        for (int i = 0; i < n_sends; i++)
                tg_job_delivered(sent_by[i]);
        CHECK_INT(w->inflight, 0);
        reply_free(r);
        worker_free(w);
}

static void test_finish_cannot_build(void)
{
        tg_worker_t *w = worker_new();

        n_calls = n_sends = 0;
        fail_events = 1;
        tg_job_start(w, message(INVALID, 2)); /* invalid: finishes at once */
        fail_events = 0;
        CHECK_INT(n_calls, 0);
        CHECK_INT(w->inflight, 1);
        run_until_calls(w, 1); /* tried again, not left in flight */
        CHECK_INT(n_calls, 1);
        if (n_calls == 1)
                CHECK_INT(calls[0].script, TG_SCRIPT_FINISH);
        CHECK(!w->fatal);
        worker_free(w);
}

static void test_start_calloc(void)
{
        tg_worker_t *w = worker_new();
        rd_kafka_message_t *m;

        n_calls = n_destroyed = 0;
        m = message(VALID, 3);
        fail_calloc = 1; /* the job */
        tg_job_start(w, m);
        fail_calloc = 0;
        CHECK_INT(n_destroyed, 1); /* the message given back */
        CHECK_INT(w->inflight, 0);
        CHECK(w->fatal); /* untracked, its offset could be passed: stop */
        CHECK_INT(n_calls, 0);
        /* Once stopping, nothing more starts (the rest of the batch). */
        tg_job_start(w, message(VALID, 4));
        CHECK_INT(n_destroyed, 2);
        CHECK_INT(n_calls, 0);
        worker_free(w);
}

static void test_reaper_strdup(void)
{
        tg_worker_t *w = worker_new();
        const char *ids[] = {"r-9"};
        redisReply *expired = array_reply(1, ids);
        redisReply *keys = str_reply("tg:{tg}:b:all:2026-12\n");

        n_calls = 0;
        tg_reaper_tick(w);
        CHECK_INT(n_calls, 1);
        calls[0].cb(NULL, expired, calls[0].opaque); /* peeks r-9 */
        CHECK_INT(n_calls, 2);
        fail_strdup = 1; /* the record's keys */
        if (n_calls == 2)
                calls[1].cb(NULL, keys, calls[1].opaque);
        fail_strdup = 0;
        CHECK_INT(n_calls, 2); /* no release sent from nothing */
        reply_free(expired);
        reply_free(keys);
        worker_free(w);
}

/* One case by name (argv[1]), or all. */
int main(int argc, char **argv)
{
        static const struct {
                const char *name;
                void (*fn)(void);
        } cases[] = {{"take_stored", test_take_stored_strdup},
                     {"finish", test_finish_cannot_build},
                     {"start", test_start_calloc},
                     {"reaper", test_reaper_strdup}};

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (argc < 2 || strcmp(argv[1], cases[i].name) == 0)
                        cases[i].fn();
        return tg_test_done("test_worker_alloc");
}
