/*
 * worker/events.c against the jansson builder it replaced (kept below,
 * verbatim but for names): for sample jobs of every status the events must
 * be the same bytes, but for the clock fields (decidedAt, completedAt,
 * latencyMs), which are masked. Stored events are re-published as they
 * are and finish.lua finds the "#tg:spent:<i>#" markers by their bytes.
 *
 * With TG_EVENTS_DUMP=<file>, every event built is also written there, one
 * "<kind> <json>" per line, for tests/integration/test_event_schemas.py to
 * validate against the JSON schemas in schema/.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "tgtime.h"
#include "worker.h"

/* ---------------------------------------------------------------- old */

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

static const char *status_name(tg_status_t s)
{
        static const char *n[] = {"completed", "rejected", "invalid", "failed"};
        return n[s];
}

static const char *decision_name(tg_status_t s)
{
        static const char *n[] = {"approved", "rejected_budget", "invalid",
                                  "failed"};
        return n[s];
}

static json_t *tags_json(const tg_job_t *j, int with_envelope)
{
        json_t *t = json_object();

        for (size_t i = 0; i < j->req.n_tags; i++)
                json_object_set_new(t, j->req.tags[i].key,
                                    json_string(j->req.tags[i].value));
        if (with_envelope) {
                json_object_set_new(t, "requestId", json_string(j->request_id));
                json_object_set_new(t, "timestamp", json_string(j->timestamp));
        }
        return t;
}

static void set_model(json_t *o, const tg_job_t *j)
{
        if (j->res.model) {
                json_object_set_new(o, "model",
                                    json_string(j->res.model->alias));
                json_object_set_new(o, "modelId",
                                    json_string(j->res.model->model_id));
        } else {
                json_object_set_new(o, "model",
                                    j->req.model ? json_string(j->req.model)
                                                 : json_null());
                json_object_set_new(o, "modelId", json_null());
        }
}

static int64_t latency_ms(const tg_job_t *j)
{
        return (tg_mono_us() - j->t0_us) / 1000;
}

static char *dump(json_t *o)
{
        char *s = json_dumps(o, DUMP_FLAGS);

        json_decref(o);
        return s;
}

static char *old_completion(tg_job_t *j)
{
        json_t *o = json_object(), *u;
        char ts[40];

        json_object_set_new(o, "requestId", json_string(j->request_id));
        json_object_set_new(o, "status", json_string(status_name(j->status)));
        if (j->status != TG_STATUS_COMPLETED)
                json_object_set_new(o, "reason", json_string(j->reason));
        set_model(o, j);
        if (j->has_out) {
                json_t *out = json_object();
                json_object_set_new(out, "text",
                                    json_stringn(j->out.text, j->out.text_len));
                json_object_set_new(out, "stopReason",
                                    json_string(j->out.stop_reason));
                json_object_set_new(o, "output", out);
        }
        u = json_object();
        json_object_set_new(u, "inputTokens",
                            json_integer(j->usage.input_tokens));
        json_object_set_new(u, "outputTokens",
                            json_integer(j->usage.output_tokens));
        json_object_set_new(
            u, "totalTokens",
            json_integer(j->usage.input_tokens + j->usage.output_tokens));
        json_object_set_new(o, "usage", u);
        json_object_set_new(o, "costNanoUsd", json_integer(j->cost_nano));
        json_object_set_new(o, "tags", tags_json(j, 1));
        json_object_set_new(o, "attempts", json_integer(j->attempts));
        json_object_set_new(o, "latencyMs", json_integer(latency_ms(j)));
        tg_time_format_us(tg_time_now_us(), ts, sizeof(ts));
        json_object_set_new(o, "completedAt", json_string(ts));
        return dump(o);
}

static json_t *budgets_json(const tg_job_t *j)
{
        json_t *a = json_array();
        char marker[32];

        for (size_t i = 0; i < j->n_budgets; i++) {
                json_t *b = json_object();
                const tg_job_budget_t *jb = &j->budgets[i];
                json_object_set_new(b, "id", json_string(jb->id));
                json_object_set_new(b, "period", json_string(jb->period));
                json_object_set_new(b, "limitNanoUsd",
                                    jb->limit_nano >= 0
                                        ? json_integer(jb->limit_nano)
                                        : json_null());
                snprintf(marker, sizeof(marker), "#tg:spent:%zu#", i + 1);
                json_object_set_new(b, "spentNanoUsd", json_string(marker));
                json_array_append_new(a, b);
        }
        return a;
}

static void usage_tokens(json_t *o, const tg_job_t *j)
{
        json_object_set_new(o, "inputTokens",
                            json_integer(j->usage.input_tokens));
        json_object_set_new(o, "outputTokens",
                            json_integer(j->usage.output_tokens));
        json_object_set_new(o, "cacheReadInputTokens",
                            json_integer(j->usage.cache_read_tokens));
        json_object_set_new(o, "cacheWriteInputTokens",
                            json_integer(j->usage.cache_write_tokens));
        if (j->usage.cache_write_1h_tokens)
                json_object_set_new(
                    o, "cacheWrite1hInputTokens",
                    json_integer(j->usage.cache_write_1h_tokens));
}

/* Added with service tiers (docs/usage-events.md): what Bedrock reported,
 * else what was asked; and the budget that degraded the request. */
static void tier_fields(json_t *o, const tg_job_t *j)
{
        if (j->has_out && j->out.tier_name[0])
                json_object_set_new(o, "serviceTier",
                                    json_string(j->out.tier_name));
        else if (j->tier.send)
                json_object_set_new(o, "serviceTier",
                                    json_string(tg_tier_name(j->tier.tier)));
        if (j->tier.by[0])
                json_object_set_new(
                    o, "degraded",
                    json_pack("{s:s,s:s,s:s}", "budgetId", j->tier.by,
                              "fromTier", tg_tier_name(j->tier.asked), "toTier",
                              tg_tier_name(j->tier.tier)));
}

static char *old_usage(tg_job_t *j)
{
        json_t *o = json_object();
        int approved = j->status == TG_STATUS_COMPLETED;
        int64_t overrun = approved && j->cost_nano > j->bound.cost_nano
                              ? j->cost_nano - j->bound.cost_nano
                              : 0;
        char ts[40];

        tg_time_format_us(tg_time_now_us(), ts, sizeof(ts));
        json_object_set_new(o, "schema", json_string("tollgate.usage.v1"));
        json_object_set_new(o, "requestId", json_string(j->request_id));
        json_object_set_new(o, "timestamp", json_string(j->timestamp));
        json_object_set_new(o, "decidedAt", json_string(ts));
        json_object_set_new(o, "decision",
                            json_string(decision_name(j->status)));
        json_object_set_new(o, "budgets", budgets_json(j));
        set_model(o, j);
        if (j->res.target)
                json_object_set_new(o, "target", json_string(j->res.target));
        json_object_set_new(o, "tags", tags_json(j, 0));
        usage_tokens(o, j);
        tier_fields(o, j);
        json_object_set_new(o, "reservedNanoUsd",
                            json_integer(j->reserved ? j->bound.cost_nano : 0));
        json_object_set_new(o, "costNanoUsd",
                            json_integer(approved ? j->cost_nano : 0));
        if (overrun)
                json_object_set_new(o, "overrunNanoUsd", json_integer(overrun));
        if (j->billing_unknown)
                json_object_set_new(o, "billingUnknown", json_true());
        json_object_set_new(
            o, "priceVersion",
            json_string(tg_catalog_price_version(j->w->catalog)));
        json_object_set_new(o, "workerId", json_string(j->w->conf->worker_id));
        json_object_set_new(o, "attempts", json_integer(j->attempts));
        json_object_set_new(o, "latencyMs", json_integer(latency_ms(j)));
        json_object_set_new(o, "bedrockLatencyMs",
                            json_integer(j->bedrock_us / 1000));
        if (j->status != TG_STATUS_COMPLETED)
                json_object_set_new(o, "reason", json_string(j->reason));
        return dump(o);
}

static char *old_alert(tg_worker_t *w, const char *id, const char *period,
                       long long thr, long long spent, long long limit,
                       int tokens, const char *ts)
{
        json_t *o = json_object();

        json_object_set_new(o, "schema", json_string("tollgate.alert.v1"));
        json_object_set_new(o, "budgetId", json_string(id));
        json_object_set_new(o, "period", json_string(period));
        json_object_set_new(o, "thresholdPercent", json_integer(thr));
        if (tokens) {
                json_object_set_new(o, "spentTokens", json_integer(spent));
                json_object_set_new(o, "limitTokens", json_integer(limit));
        } else {
                json_object_set_new(o, "spentNanoUsd", json_integer(spent));
                json_object_set_new(o, "limitNanoUsd", json_integer(limit));
        }
        json_object_set_new(o, "at", json_string(ts));
        json_object_set_new(o, "workerId", json_string(w->conf->worker_id));
        return dump(o);
}

/* ---------------------------------------------------------------- checks */

static FILE *dump_file;
static int dump_this; /* the sample is a real event, the schema must pass */

/* Replaces the value after "key": (a string or a number) by 0. */
static void mask(char *s, const char *key)
{
        char pat[64], *p, *end;

        snprintf(pat, sizeof(pat), "\"%s\":", key);
        p = strstr(s, pat);
        if (!p)
                return;
        p += strlen(pat);
        end = p;
        if (*end == '"')
                end = strchr(end + 1, '"') + 1;
        else
                while (*end == '-' || (*end >= '0' && *end <= '9'))
                        end++;
        *p = '0';
        memmove(p + 1, end, strlen(end) + 1);
}

static void compare(const char *kind, char *got, char *want, const char *name)
{
        CHECK(got != NULL && want != NULL);
        if (!got || !want)
                goto out;
        if (dump_file && dump_this)
                fprintf(dump_file, "%s %s\n", kind, got);
        mask(got, "decidedAt");
        mask(got, "completedAt");
        mask(got, "latencyMs");
        mask(want, "decidedAt");
        mask(want, "completedAt");
        mask(want, "latencyMs");
        tg_test_checks++;
        if (strcmp(got, want) != 0) {
                tg_test_failures++;
                fprintf(stderr, "%s %s:\n  new %s\n  old %s\n", name, kind, got,
                        want);
        }
out:
        free(got);
        free(want);
}

/* real: a job the worker can produce, so its events must also pass the
 * schema (TG_EVENTS_DUMP); the others stress the escaping only. */
static void check_job(tg_job_t *j, const char *name, int real)
{
        dump_this = real;
        compare("completion", tg_events_completion(j), old_completion(j), name);
        compare("usage", tg_events_usage(j), old_usage(j), name);
        dump_this = 0;
}

static tg_config_t conf = {.worker_id = "worker-7"};
static tg_worker_t worker = {.conf = &conf};
static tg_job_budget_t budgets[3] = {
    {.id = "team-eng", .period = "2025-11", .limit_nano = 12500000000LL},
    {.id = "all", .period = "2025-11-14", .limit_nano = 100000000000LL},
    {.id = "ops-tokens", .period = "total", .limit_nano = -1},
};

/* An approved request with an output, three budgets and tags. */
static void base_job(tg_job_t *j)
{
        static char text[] = "Here are \"three\" bullets:\n- \xc3\xa9t\xc3\xa9"
                             "\t\\ /path \xf0\x9f\x98\x80\x01\x7f";

        memset(j, 0, sizeof(*j));
        j->w = &worker;
        snprintf(j->request_id, sizeof(j->request_id), "req-000042");
        snprintf(j->timestamp, sizeof(j->timestamp), "2025-11-14T09:30:00Z");
        j->req.model = "nova-lite";
        j->req.tags[0] = (tg_tag_t){"applicationId", "app-eng"};
        j->req.tags[1] = (tg_tag_t){"costCenter", "eng"};
        j->req.tags[2] = (tg_tag_t){"environment", "prod"};
        j->req.n_tags = 3;
        j->res.model = tg_catalog_model_at(worker.catalog, 0);
        j->res.target = "us.amazon.nova-lite-v1:0";
        j->status = TG_STATUS_COMPLETED;
        j->budgets = budgets;
        j->n_budgets = 3;
        j->reserved = 1;
        j->bound.cost_nano = 51234;
        j->cost_nano = 10920;
        j->attempts = 1;
        j->t0_us = tg_mono_us();
        j->bedrock_us = 812345;
        j->has_out = 1;
        j->out.text = text;
        j->out.text_len = sizeof(text) - 1;
        snprintf(j->out.stop_reason, sizeof(j->out.stop_reason), "end_turn");
        j->usage = (tg_usage_t){120, 48, 7, 3, 0};
}

static void test_events_match_jansson(void)
{
        static char nul_text[] = "a\0b";
        static tg_job_budget_t many[12];
        tg_job_t j;

        base_job(&j);
        check_job(&j, "approved", 1);

        base_job(&j); /* degraded to flex, Bedrock says flex, 1 h writes */
        j.tier.asked = TG_TIER_DEFAULT;
        j.tier.tier = TG_TIER_FLEX;
        j.tier.send = 1;
        snprintf(j.tier.by, sizeof(j.tier.by), "eng-month");
        snprintf(j.out.tier_name, sizeof(j.out.tier_name), "flex");
        j.usage.cache_write_tokens = 30;
        j.usage.cache_write_1h_tokens = 20;
        check_job(&j, "degraded", 1);

        base_job(&j); /* a tier asked for, none reported */
        j.tier.tier = j.tier.asked = TG_TIER_PRIORITY;
        j.tier.send = 1;
        check_job(&j, "priority", 1);

        base_job(&j); /* over the bound: an overrun; billing unknown */
        j.cost_nano = 60000;
        j.billing_unknown = 1;
        j.attempts = 3;
        check_job(&j, "overrun", 1);

        base_job(&j); /* a NUL inside the text; no budgets */
        j.out.text = nul_text;
        j.out.text_len = 3;
        j.n_budgets = 0;
        check_job(&j, "nul text", 1);

        base_job(&j); /* tags named like the envelope take its values */
        j.req.tags[1] = (tg_tag_t){"requestId", "user-value"};
        j.req.tags[3] = (tg_tag_t){"timestamp", "user-ts"};
        j.req.n_tags = 4;
        check_job(&j, "envelope tags", 1);

        base_job(&j);
        j.status = TG_STATUS_REJECTED;
        j.has_out = 0;
        j.reserved = 0;
        j.cost_nano = 0;
        j.attempts = 0;
        j.bedrock_us = 0;
        j.usage = (tg_usage_t){0, 0, 0, 0, 0};
        snprintf(j.reason, sizeof(j.reason), "budget_exceeded:team-eng");
        check_job(&j, "rejected", 1);
        snprintf(j.reason, sizeof(j.reason),
                 "budget team-eng (2025-11): \"spent\" 12.49\x1b[0m\n");
        check_job(&j, "rejected, escaped reason", 0);

        base_job(&j);
        j.status = TG_STATUS_INVALID;
        j.has_out = 0;
        j.reserved = 0;
        j.cost_nano = 0;
        j.attempts = 0;
        j.bedrock_us = 0;
        j.n_budgets = 0;
        j.res.model = NULL;
        j.res.target = NULL;
        j.req.model = "no-such\tmodel \xe2\x82\xac";
        snprintf(j.reason, sizeof(j.reason),
                 "invalid: model: unknown model \"no-such\\tmodel\"");
        check_job(&j, "invalid, unknown model", 1);

        j.req.model = NULL; /* not even parsed */
        j.req.n_tags = 0;
        check_job(&j, "invalid, unparsed", 1);

        base_job(&j);
        j.status = TG_STATUS_FAILED;
        j.has_out = 0;
        j.billing_unknown = 1;
        j.attempts = 4;
        j.cost_nano = 0;
        snprintf(j.reason, sizeof(j.reason),
                 "ThrottlingException: Too many requests\r\n(4 attempts)");
        check_job(&j, "failed", 1);

        base_job(&j); /* two-digit spent markers */
        for (size_t i = 0; i < sizeof(many) / sizeof(*many); i++)
                many[i] = budgets[i % 3];
        j.budgets = many;
        j.n_budgets = sizeof(many) / sizeof(*many);
        check_job(&j, "twelve budgets", 0);

        base_job(&j); /* extremes */
        j.usage = (tg_usage_t){INT64_MAX / 2, INT64_MAX / 2, 0, 1, 0};
        j.cost_nano = INT64_MAX;
        j.bound.cost_nano = 1;
        j.bedrock_us = -5000;
        check_job(&j, "extremes", 0);
}

static void test_alerts_match_jansson(void)
{
        const char *ts = "2025-11-14T09:30:00.123Z";

        dump_this = 1;
        compare("alert",
                tg_events_alert(&worker, "team-eng", "2025-11", 80,
                                10000000000LL, 12500000000LL, 0, ts),
                old_alert(&worker, "team-eng", "2025-11", 80, 10000000000LL,
                          12500000000LL, 0, ts),
                "alert usd");
        compare("alert",
                tg_events_alert(&worker, "ops-tokens", "total", 100, 5000001,
                                5000000, 1, ts),
                old_alert(&worker, "ops-tokens", "total", 100, 5000001, 5000000,
                          1, ts),
                "alert tokens");
        dump_this = 0;
}

/* Where jansson dropped a field (a string cut mid-character), the new
 * events keep it with '?' for the broken bytes: the schema wants it. */
static void test_invalid_utf8_kept(void)
{
        tg_job_t j;
        char *usage, *completion;

        base_job(&j);
        j.status = TG_STATUS_FAILED;
        j.has_out = 0;
        snprintf(j.reason, sizeof(j.reason), "ModelError: caf\xc3");
        usage = tg_events_usage(&j);
        completion = tg_events_completion(&j);
        CHECK(usage && strstr(usage, ",\"reason\":\"ModelError: caf?\"}"));
        CHECK(completion &&
              strstr(completion, "\"reason\":\"ModelError: caf?\","));
        free(usage);
        free(completion);
}

/* finish.lua replaces the quoted marker by the number: the marker bytes
 * and their place (before any free text) are a contract. */
static void test_spent_markers(void)
{
        tg_job_t j;
        char *usage;

        base_job(&j);
        snprintf(j.reason, sizeof(j.reason), "#tg:spent:1#");
        usage = tg_events_usage(&j);
        CHECK(usage != NULL);
        CHECK(usage && strstr(usage, "\"budgets\":[{\"id\":\"team-eng\","
                                     "\"period\":\"2025-11\",\"limitNanoUsd\":"
                                     "12500000000,\"spentNanoUsd\":\"#tg:"
                                     "spent:1#\"},"));
        CHECK(usage && strstr(usage, "\"limitNanoUsd\":null,\"spentNanoUsd\":"
                                     "\"#tg:spent:3#\"}],\"model\":"));
        CHECK(usage &&
              strstr(usage, "\"#tg:spent:1#\"") < strstr(usage, "\"tags\":"));
        free(usage);
}

int main(void)
{
        char err[256];
        const char *path = getenv("TG_EVENTS_DUMP");

        worker.catalog =
            tg_catalog_load_file("worker/catalog.json", err, sizeof(err));
        if (!worker.catalog) {
                fprintf(stderr, "catalog: %s\n", err);
                return 1;
        }
        if (path && !(dump_file = fopen(path, "w"))) {
                perror(path);
                return 1;
        }
        test_events_match_jansson();
        test_alerts_match_jansson();
        test_invalid_utf8_kept();
        test_spent_markers();
        if (dump_file)
                fclose(dump_file);
        tg_catalog_destroy(worker.catalog);
        return tg_test_done("test_events");
}
