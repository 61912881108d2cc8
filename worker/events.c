/*
 * The completion, usage and alert events (docs/usage-events.md), written in a
 * fixed key order, so the same job always yields the same bytes.
 *
 * They are written with common/jsonw.h straight into one buffer: the bytes
 * are those jansson's json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) gave
 * when these were jansson objects (tests/unit/test_events.c keeps that
 * builder and compares), at a fraction of the instructions and mallocs.
 * Strings are written lossy: a byte that is not valid UTF-8 (a reason cut
 * mid-character) becomes '?', where jansson dropped the whole field.
 */
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "tgtime.h"
#include "worker.h"

/* A guard, never reached by a real event: the largest holds the response
 * text (<= TG_RESPONSE_MAX bytes, each at most 6 when escaped) and a few
 * KiB of fields and tags. */
#define TG_EVENT_MAX (6 * (size_t)TG_RESPONSE_MAX + 1024 * 1024)
/* First allocation: a usage event with a few budgets and tags fits. */
#define TG_EVENT_INITIAL 1024

/* The request's tags; with_envelope adds requestId and timestamp, which
 * take the place of a user tag of the same name (jansson's set replaced it
 * in place). */
static void tags_json(tg_jsonw_t *t, const tg_job_t *j, int with_envelope)
{
        int has_id = 0, has_ts = 0;

        tg_jsonw_obj_open(t);
        for (size_t i = 0; i < j->req.n_tags; i++) {
                const char *key = j->req.tags[i].key;
                const char *value = j->req.tags[i].value;

                if (with_envelope && strcmp(key, "requestId") == 0) {
                        value = j->request_id;
                        has_id = 1;
                } else if (with_envelope && strcmp(key, "timestamp") == 0) {
                        value = j->timestamp;
                        has_ts = 1;
                }
                tg_jsonw_kstr(t, key, value);
        }
        if (with_envelope && !has_id)
                tg_jsonw_kstr(t, "requestId", j->request_id);
        if (with_envelope && !has_ts)
                tg_jsonw_kstr(t, "timestamp", j->timestamp);
        tg_jsonw_obj_close(t);
}

static void set_model(tg_jsonw_t *o, const tg_job_t *j)
{
        if (j->res.model) {
                tg_jsonw_kstr(o, "model", j->res.model->alias);
                tg_jsonw_kstr(o, "modelId", j->res.model->model_id);
        } else {
                tg_jsonw_kstr(o, "model", j->req.model); /* NULL: null */
                tg_jsonw_key(o, "modelId");
                tg_jsonw_null(o);
        }
}

static int64_t latency_ms(const tg_job_t *j)
{
        return (tg_mono_us() - j->t0_us) / 1000;
}

static void event_init(tg_jsonw_t *w, size_t extra)
{
        tg_jsonw_init(w, TG_EVENT_INITIAL + extra, TG_EVENT_MAX, 1);
        tg_jsonw_obj_open(w);
}

static char *event_finish(tg_jsonw_t *w)
{
        tg_jsonw_obj_close(w);
        return tg_jsonw_finish(w, NULL);
}

static void output_json(tg_jsonw_t *out, const tg_job_t *j)
{
        tg_jsonw_obj_open(out);
        tg_jsonw_key(out, "text");
        tg_jsonw_strn(out, j->out.text ? j->out.text : "", j->out.text_len);
        tg_jsonw_kstr(out, "stopReason", j->out.stop_reason);
        tg_jsonw_obj_close(out);
}

static void usage_json(tg_jsonw_t *u, const tg_job_t *j)
{
        tg_jsonw_obj_open(u);
        tg_jsonw_kint(u, "inputTokens", j->usage.input_tokens);
        tg_jsonw_kint(u, "outputTokens", j->usage.output_tokens);
        tg_jsonw_kint(u, "totalTokens",
                      j->usage.input_tokens + j->usage.output_tokens);
        tg_jsonw_obj_close(u);
}

char *tg_events_completion(tg_job_t *j)
{
        tg_jsonw_t w, *o = &w;
        char ts[40];

        event_init(o, j->has_out ? j->out.text_len : 0);
        tg_jsonw_kstr(o, "requestId", j->request_id);
        tg_jsonw_kstr(o, "status", tg_status_name(j->status));
        if (j->status != TG_STATUS_COMPLETED)
                tg_jsonw_kstr(o, "reason", j->reason);
        set_model(o, j);
        if (j->has_out) {
                tg_jsonw_key(o, "output");
                output_json(o, j);
        }
        tg_jsonw_key(o, "usage");
        usage_json(o, j);
        tg_jsonw_kint(o, "costNanoUsd", j->cost_nano);
        tg_jsonw_key(o, "tags");
        tags_json(o, j, 1);
        tg_jsonw_kint(o, "attempts", j->attempts);
        tg_jsonw_kint(o, "latencyMs", latency_ms(j));
        tg_time_format_us(tg_time_now_us(), ts, sizeof(ts));
        tg_jsonw_kstr(o, "completedAt", ts);
        return event_finish(o);
}

/* "#tg:spent:<i>#" into buf (at least 32 bytes), its length returned;
 * snprintf cost more than the rest of a budget's fields. */
static size_t spent_marker(char *buf, size_t i)
{
        char digits[24];
        size_t n = 0, len = sizeof("#tg:spent:") - 1;

        do {
                digits[n++] = (char)('0' + i % 10);
                i /= 10;
        } while (i);
        memcpy(buf, "#tg:spent:", len);
        while (n)
                buf[len++] = digits[--n];
        buf[len++] = '#';
        return len;
}

/* spentNanoUsd is filled in after finish.lua, which alone knows it: the
 * string "#tg:spent:<i>#" (quotes included) is replaced by the number. */
static void budgets_json(tg_jsonw_t *b, const tg_job_t *j)
{
        char marker[32];

        tg_jsonw_arr_open(b);
        for (size_t i = 0; i < j->n_budgets; i++) {
                const tg_job_budget_t *jb = &j->budgets[i];

                tg_jsonw_obj_open(b);
                tg_jsonw_kstr(b, "id", jb->id);
                tg_jsonw_kstr(b, "period", jb->period);
                tg_jsonw_key(b, "limitNanoUsd");
                if (jb->limit_nano >= 0)
                        tg_jsonw_int(b, jb->limit_nano);
                else
                        tg_jsonw_null(b);
                tg_jsonw_key(b, "spentNanoUsd");
                tg_jsonw_strn(b, marker, spent_marker(marker, i + 1));
                tg_jsonw_obj_close(b);
        }
        tg_jsonw_arr_close(b);
}

static void usage_tokens(tg_jsonw_t *o, const tg_job_t *j)
{
        tg_jsonw_kint(o, "inputTokens", j->usage.input_tokens);
        tg_jsonw_kint(o, "outputTokens", j->usage.output_tokens);
        tg_jsonw_kint(o, "cacheReadInputTokens", j->usage.cache_read_tokens);
        tg_jsonw_kint(o, "cacheWriteInputTokens", j->usage.cache_write_tokens);
        if (j->usage.cache_write_1h_tokens)
                tg_jsonw_kint(o, "cacheWrite1hInputTokens",
                              j->usage.cache_write_1h_tokens);
}

/* serviceTier: what Bedrock said it served the call at, else the tier
 * asked of it; absent when neither is known. degraded: the budget that
 * moved the request to a cheaper tier (docs/usage-events.md). */
static void tier_json(tg_jsonw_t *o, const tg_job_t *j)
{
        tg_jsonw_t *d = o; /* the degraded object's members */

        if (j->has_out && j->out.tier_name[0])
                tg_jsonw_kstr(o, "serviceTier", j->out.tier_name);
        else if (j->tier.send)
                tg_jsonw_kstr(o, "serviceTier", tg_tier_name(j->tier.tier));
        if (!j->tier.by[0])
                return;
        tg_jsonw_key(o, "degraded");
        tg_jsonw_obj_open(d);
        tg_jsonw_kstr(d, "budgetId", j->tier.by);
        tg_jsonw_kstr(d, "fromTier", tg_tier_name(j->tier.asked));
        tg_jsonw_kstr(d, "toTier", tg_tier_name(j->tier.tier));
        tg_jsonw_obj_close(d);
}

char *tg_events_usage(tg_job_t *j)
{
        tg_jsonw_t w, *o = &w;
        int approved = j->status == TG_STATUS_COMPLETED;
        int64_t overrun = approved && j->cost_nano > j->bound.cost_nano
                              ? j->cost_nano - j->bound.cost_nano
                              : 0;
        char ts[40];

        tg_time_format_us(tg_time_now_us(), ts, sizeof(ts));
        event_init(o, 128 * j->n_budgets);
        tg_jsonw_kstr(o, "schema", "tollgate.usage.v1");
        tg_jsonw_kstr(o, "requestId", j->request_id);
        tg_jsonw_kstr(o, "timestamp", j->timestamp);
        tg_jsonw_kstr(o, "decidedAt", ts);
        tg_jsonw_kstr(o, "decision", tg_status_decision(j->status));
        /* budgets before any free text, so finish.lua's first match of a
         * marker is always ours */
        tg_jsonw_key(o, "budgets");
        budgets_json(o, j);
        set_model(o, j);
        if (j->res.target)
                tg_jsonw_kstr(o, "target", j->res.target);
        tg_jsonw_key(o, "tags");
        tags_json(o, j, 0);
        usage_tokens(o, j);
        tier_json(o, j);
        tg_jsonw_kint(o, "reservedNanoUsd",
                      j->reserved ? j->bound.cost_nano : 0);
        tg_jsonw_kint(o, "costNanoUsd", approved ? j->cost_nano : 0);
        if (overrun)
                tg_jsonw_kint(o, "overrunNanoUsd", overrun);
        if (j->billing_unknown) {
                tg_jsonw_key(o, "billingUnknown");
                tg_jsonw_bool(o, 1);
        }
        tg_jsonw_kstr(o, "priceVersion",
                      tg_catalog_price_version(j->w->catalog));
        tg_jsonw_kstr(o, "workerId", j->w->conf->worker_id);
        tg_jsonw_kint(o, "attempts", j->attempts);
        tg_jsonw_kint(o, "latencyMs", latency_ms(j));
        tg_jsonw_kint(o, "bedrockLatencyMs", j->bedrock_us / 1000);
        if (j->status != TG_STATUS_COMPLETED)
                tg_jsonw_kstr(o, "reason", j->reason);
        return event_finish(o);
}

char *tg_events_alert(tg_worker_t *w, const char *id, const char *period,
                      long long thr, long long spent, long long limit,
                      int tokens, const char *ts)
{
        tg_jsonw_t jw, *o = &jw;

        event_init(o, 0);
        tg_jsonw_kstr(o, "schema", "tollgate.alert.v1");
        tg_jsonw_kstr(o, "budgetId", id);
        tg_jsonw_kstr(o, "period", period);
        tg_jsonw_kint(o, "thresholdPercent", thr);
        if (tokens) { /* a token-only budget alerts on tokens */
                tg_jsonw_kint(o, "spentTokens", spent);
                tg_jsonw_kint(o, "limitTokens", limit);
        } else {
                tg_jsonw_kint(o, "spentNanoUsd", spent);
                tg_jsonw_kint(o, "limitNanoUsd", limit);
        }
        tg_jsonw_kstr(o, "at", ts);
        tg_jsonw_kstr(o, "workerId", w->conf->worker_id);
        return event_finish(o);
}
