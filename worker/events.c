/*
 * The completion, usage and alert events (DESIGN.md). Built with jansson in
 * a fixed key order, so the same job always yields the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgtime.h"
#include "worker.h"

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

char *tg_events_completion(tg_job_t *j)
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

/* spentNanoUsd is filled in by finish.lua, which alone knows it. */
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
}

char *tg_events_usage(tg_job_t *j)
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
        /* budgets before any free text, so finish.lua's first match of a
         * marker is always ours */
        json_object_set_new(o, "budgets", budgets_json(j));
        set_model(o, j);
        if (j->res.target)
                json_object_set_new(o, "target", json_string(j->res.target));
        json_object_set_new(o, "tags", tags_json(j, 0));
        usage_tokens(o, j);
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

char *tg_events_alert(tg_worker_t *w, const char *id, const char *period,
                      long long thr, long long spent, long long limit,
                      int tokens, const char *ts)
{
        json_t *o = json_object();

        json_object_set_new(o, "schema", json_string("tollgate.alert.v1"));
        json_object_set_new(o, "budgetId", json_string(id));
        json_object_set_new(o, "period", json_string(period));
        json_object_set_new(o, "thresholdPercent", json_integer(thr));
        if (tokens) { /* a token-only budget alerts on tokens */
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
