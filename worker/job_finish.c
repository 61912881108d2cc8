/*
 * Finishing: one Lua call settles the reservation (or records a result that
 * never reserved), stores the events for re-publication and reports alert
 * crossings; then the events go to Kafka.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "ledger_args.h"
#include "log.h"
#include "stored.h"
#include "tgtime.h"
#include "worker.h"

#define FINISH_BUILD_TRIES 5

static void on_finish(tg_ledger_t *l, redisReply *r, void *opaque);

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

static const char *elem(redisReply *r, size_t i)
{
        return (i < r->elements && r->element[i]->type == REDIS_REPLY_STRING)
                   ? r->element[i]->str
                   : "";
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

int tg_job_take_stored(tg_job_t *j, redisReply *r, char *err, size_t errlen)
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

        if (!r) {
                tg_job_wait_redis(j, TG_JOB_SETTLE_NO_REDIS);
                return;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
                tg_log(TG_LOG_ERROR, "finish %s: unexpected ledger reply: %s",
                       j->request_id,
                       r->type == REDIS_REPLY_ERROR ? r->str : "?");
                tg_job_after(j, 1000, TG_JOB_SETTLE_LATER);
                return;
        }
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

int tg_job_emit_events(tg_job_t *j)
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

void tg_job_publish(tg_job_t *j)
{
        if (j->w->conf->log_decisions)
                log_decision(j);
        tg_job_output(j);
}
