/*
 * The worker's copy of the budget definitions. Admission passes the version
 * it matched against; the script refuses a stale one, so a worker never
 * admits against definitions that changed under it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "ledger_args.h"
#include "log.h"
#include "tgtime.h"
#include "worker.h"

#define BUDGETS_MAX   4096
#define US_PER_MINUTE INT64_C(60000000)
#define US_PER_DAY    INT64_C(86400000000)

static void budgets_free(tg_budget_t *b, size_t n)
{
        for (size_t i = 0; i < n; i++)
                tg_budget_clear(&b[i]);
        free(b);
}

void tg_budgets_destroy(tg_worker_t *w)
{
        budgets_free(w->budgets, w->n_budgets);
        free(w->budget_fills);
        w->budgets = NULL;
        w->budget_fills = NULL;
        w->n_budgets = 0;
}

/* The definition's part of what a budget puts in a job: formatted once
 * per load, so a changed definition never leaves a stale copy. The
 * sentinels make the first match build the period's and minute's keys. */
static void fill_init(tg_budget_fill_t *f, const tg_budget_t *b)
{
        tg_job_budget_t *jb = &f->jb;
        size_t off = 0;

        memset(f, 0, sizeof(*f));
        f->day = f->minute = INT64_MIN;
        snprintf(jb->id, sizeof(jb->id), "%s", b->id);
        jb->rpm = b->rpm;
        jb->tpm = b->tpm;
        jb->defer = b->on_exceed_defer;
        jb->limit_nano = b->limit_nano;
        jb->limit_tokens = b->limit_tokens;
        jb->degrade_at = b->degrade_at;
        jb->degrade_tier = b->degrade_tier;
        for (int t = 0; t < b->n_thresholds; t++)
                off += (size_t)snprintf(jb->thresholds + off,
                                        sizeof(jb->thresholds) - off, "%s%d",
                                        t ? "," : "", b->thresholds[t]);
}

/* Rounds towards minus infinity, so that a day or minute is one interval
 * of the clock on both sides of the epoch. */
static int64_t floor_div(int64_t a, int64_t b)
{
        return a / b - (a % b < 0);
}

/* Brings f's keys to now_us. The period label is a function of the UTC day
 * (day and month labels change only at midnight, "total" never), so the
 * day is what the period's part is keyed by: 23:59:59.999999 and
 * 00:00:00.000000 are different days, hence different keys. A clock that
 * steps back changes the day as well and rebuilds the old one. */
static void fill_refresh(tg_budget_fill_t *f, const tg_budget_t *b,
                         int64_t now_us)
{
        int64_t day = floor_div(now_us, US_PER_DAY);
        int64_t minute = floor_div(now_us, US_PER_MINUTE);
        tg_job_budget_t *jb = &f->jb;

        if (day != f->day) {
                tg_period_label(b->period, (time_t)floor_div(now_us, 1000000),
                                jb->period);
                tg_key_budget(jb->key, sizeof(jb->key), b->id, jb->period);
                f->day = day;
        }
        if (minute != f->minute) {
                tg_key_rate(jb->rate_key, sizeof(jb->rate_key), b->id, minute);
                f->minute = minute;
        }
}

static int parse_defs(tg_worker_t *w, redisReply *r)
{
        size_t n = (r->elements - 1) / 2, k = 0;
        tg_budget_t *b;
        tg_budget_fill_t *f;
        char err[256];

        if (n > BUDGETS_MAX)
                n = BUDGETS_MAX;
        b = calloc(n ? n : 1, sizeof(*b));
        f = malloc((n ? n : 1) * sizeof(*f));
        if (!b || !f) {
                free(b);
                free(f);
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                redisReply *v = r->element[2 + 2 * i];
                if (v->type != REDIS_REPLY_STRING)
                        continue;
                tg_budget_init(&b[k]);
                if (tg_budget_from_json(v->str, v->len, &b[k], err,
                                        sizeof(err))) {
                        tg_log(TG_LOG_ERROR, "budget definition skipped: %s",
                               err);
                        continue;
                }
                fill_init(&f[k], &b[k]);
                k++;
        }
        tg_budgets_destroy(w);
        w->budgets = b;
        w->budget_fills = f;
        w->n_budgets = k;
        snprintf(w->budgets_version, sizeof(w->budgets_version), "%s",
                 r->element[0]->str);
        return 0;
}

static void on_load(tg_ledger_t *l, redisReply *r, void *opaque)
{
        tg_worker_t *w = opaque;
        size_t n;

        w->budgets_loading = 0;
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
            r->element[0]->type != REDIS_REPLY_STRING || parse_defs(w, r)) {
                /* Redis went away: the jobs wait for it instead. */
                while (w->wait_budgets.len)
                        tg_job_wait_redis(tg_job_list_pop(&w->wait_budgets),
                                          TG_JOB_ADMIT_NO_REDIS);
                return;
        }
        w->budgets_loaded = 1;
        tg_log(TG_LOG_DEBUG, "loaded %zu budgets, version %s", w->n_budgets,
               w->budgets_version);
        n = w->wait_budgets.len;
        while (n-- > 0)
                tg_job_run(tg_job_list_pop(&w->wait_budgets));
}

void tg_budgets_reload(tg_worker_t *w)
{
        const char *argv[2] = {TG_KEY_VERSION, TG_KEY_BUDGETS};
        size_t lens[2] = {strlen(argv[0]), strlen(argv[1])};

        if (w->budgets_loading)
                return;
        w->budgets_loading = 1;
        if (tg_ledger_eval(w->ledger, TG_SCRIPT_LOAD, 2, 0, argv, lens, on_load,
                           w)) {
                w->budgets_loading = 0;
                while (w->wait_budgets.len)
                        tg_job_wait_redis(tg_job_list_pop(&w->wait_budgets),
                                          TG_JOB_ADMIT_NO_REDIS);
        }
}

int tg_budgets_match(tg_worker_t *w, tg_job_t *j)
{
        return tg_budgets_match_at(w, j, tg_time_now_us());
}

/* Per request only a copy of each matching budget's fill: its keys are
 * formatted when the day or the minute moves, not per request. */
int tg_budgets_match_at(tg_worker_t *w, tg_job_t *j, int64_t now_us)
{
        free(j->budgets);
        j->n_budgets = 0;
        /* Not zeroed: every entry below n_budgets is a whole copy. */
        j->budgets =
            malloc((w->n_budgets ? w->n_budgets : 1) * sizeof(*j->budgets));
        if (!j->budgets)
                return -1;
        for (size_t i = 0; i < w->n_budgets; i++) {
                const tg_budget_t *b = &w->budgets[i];
                if (!tg_budget_matches(b, j->req.tags, j->req.n_tags))
                        continue;
                fill_refresh(&w->budget_fills[i], b, now_us);
                j->budgets[j->n_budgets++] = w->budget_fills[i].jb;
        }
        return j->n_budgets > TG_BUDGETS_PER_REQUEST ? -1 : 0;
}

/* A resumed reservation keeps its own period and key (it may be of the
 * period before); the rest is the current definition's, as in a match. */
static void fill_resumed(tg_worker_t *w, tg_job_budget_t *jb,
                         const tg_budget_t *b)
{
        tg_budget_fill_t *f = &w->budget_fills[b - w->budgets];
        tg_job_budget_t own = *jb;

        fill_refresh(f, b, tg_time_now_us());
        *jb = f->jb;
        memcpy(jb->period, own.period, sizeof(jb->period));
        memcpy(jb->key, own.key, sizeof(jb->key));
}

static const tg_budget_t *find(tg_worker_t *w, const char *id)
{
        for (size_t i = 0; i < w->n_budgets; i++)
                if (strcmp(w->budgets[i].id, id) == 0)
                        return &w->budgets[i];
        return NULL;
}

/* A resumed reservation names its keys "tg:{tg}:b:<id>:<period>", one per
 * line; limits come from the current definitions (for alerts only). */
int tg_budgets_from_keys(tg_worker_t *w, tg_job_t *j, const char *keys)
{
        const char *p = keys, *prefix = TG_KEY_PREFIX "b:";
        size_t plen = strlen(prefix), n = 1;

        for (const char *c = keys; *c; c++)
                n += *c == '\n';
        free(j->budgets);
        j->n_budgets = 0;
        j->budgets = calloc(n, sizeof(*j->budgets));
        while (j->budgets && *p) {
                const char *end = strchr(p, '\n'), *colon;
                size_t len = end ? (size_t)(end - p) : strlen(p);
                tg_job_budget_t *jb = &j->budgets[j->n_budgets];
                if (len <= plen || len >= sizeof(jb->key) ||
                    strncmp(p, prefix, plen) != 0)
                        return -1;
                memcpy(jb->key, p, len);
                jb->key[len] = '\0';
                colon = strrchr(jb->key, ':');
                snprintf(jb->id, sizeof(jb->id), "%.*s",
                         (int)(colon - jb->key - plen), jb->key + plen);
                snprintf(jb->period, sizeof(jb->period), "%s", colon + 1);
                const tg_budget_t *b = find(w, jb->id);
                if (b)
                        fill_resumed(w, jb, b);
                else
                        jb->limit_nano = jb->limit_tokens = -1;
                j->n_budgets++;
                p += len + (end ? 1 : 0);
        }
        return j->budgets ? 0 : -1;
}

void tg_budgets_degrade_args(tg_job_t *j, tg_ledger_args_t *a)
{
        size_t i;

        for (i = 0; i < j->n_budgets && !j->budgets[i].degrade_at; i++)
                ;
        if (i == j->n_budgets)
                return; /* none may degrade: admit.lua as before */
        tg_ledger_args_str(a, tg_tier_name(j->tier.asked));
        for (i = 0; i < j->n_budgets; i++) {
                const tg_job_budget_t *jb = &j->budgets[i];
                tg_ledger_args_int(a, jb->degrade_at);
                tg_ledger_args_str(a, tg_tier_name(jb->degrade_tier));
                tg_ledger_args_int(
                    a, tg_degrade_bound(j->res.model, &j->req, jb->degrade_at,
                                        jb->degrade_tier, j->bound.cost_nano));
        }
}

static const char *str_at(redisReply *r, size_t i)
{
        return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING
                   ? r->element[i]->str
                   : NULL;
}

/* A new bound from the ledger replaces the computed one: the reservation
 * is what the usage event reports (reservedNanoUsd). */
static int take_bound(tg_job_t *j, const char *res)
{
        char *end;
        long long v;

        if (!res)
                return 0;
        v = strtoll(res, &end, 10);
        if (*end || v < 0)
                return -1;
        j->bound.cost_nano = v;
        return 0;
}

int tg_budgets_tier_ok(tg_job_t *j, redisReply *r)
{
        size_t at = 1 + j->n_budgets;

        if (!str_at(r, at))
                return 0; /* no degrade arguments were sent */
        if (tg_tier_pick_take(&j->tier, str_at(r, at), str_at(r, at + 1)))
                return -1;
        return take_bound(j, str_at(r, at + 2));
}

int tg_budgets_tier_resume(tg_job_t *j, redisReply *r)
{
        if (tg_tier_pick_take(&j->tier, str_at(r, 4), str_at(r, 5)))
                return -1;
        return take_bound(j, str_at(r, 2));
}
