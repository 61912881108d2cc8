/*
 * Budget matching (worker/budgets.c) and the keys it copies out of its
 * per-budget cache instead of formatting them per request:
 *
 *  - a request at 23:59:59.999999 and one at 00:00:00.000000 get different
 *    period keys (day and month budgets), the minute's rate key moves with
 *    the minute, and a clock stepping back gets the old period's key again;
 *  - a reload of the definitions (a new version) rebuilds the cache: a
 *    changed budget's period, key, thresholds and limits are the new ones;
 *  - a resumed reservation keeps its own period and key;
 *  - only matching budgets are copied, and tag values never reach a key.
 *
 * The definitions arrive through the real reload path: tg_ledger_eval is
 * wrapped (tests/CMakeLists.txt) and its callback gets a reply built here.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tg_test.h"
#include "tgtime.h"
#include "worker.h"

static tg_ledger_cb *load_cb;

int __wrap_tg_ledger_eval(tg_ledger_t *l, tg_script_t script, int nkeys,
                          int nargs, const char **argv, const size_t *lens,
                          tg_ledger_cb *cb, void *opaque)
{
        load_cb = cb;
        return 0;
}

static redisReply *str_reply(const char *s)
{
        redisReply *r = calloc(1, sizeof(*r));

        r->type = REDIS_REPLY_STRING;
        r->str = (char *)s;
        r->len = strlen(s);
        return r;
}

/* What the load script answers: the version, then id/definition pairs. */
static void load(tg_worker_t *w, const char *version, const char **defs,
                 size_t n)
{
        redisReply top = {.type = REDIS_REPLY_ARRAY, .elements = 1 + 2 * n};
        redisReply *el[16];

        el[0] = str_reply(version);
        for (size_t i = 0; i < n; i++) {
                el[1 + 2 * i] = str_reply("id");
                el[2 + 2 * i] = str_reply(defs[i]);
        }
        top.element = el;
        load_cb = NULL;
        tg_budgets_reload(w);
        CHECK(load_cb != NULL);
        if (load_cb)
                load_cb(NULL, &top, w);
        for (size_t i = 0; i < top.elements; i++)
                free(el[i]);
        CHECK(w->budgets_loaded);
        CHECK_STR(w->budgets_version, version);
}

static int64_t at(const char *rfc3339)
{
        int64_t us = 0;

        CHECK_INT(tg_time_parse_rfc3339(rfc3339, &us), 0);
        return us;
}

static tg_job_t *job(const char *cost_center)
{
        tg_job_t *j = calloc(1, sizeof(*j));

        j->req.tags[0] = (tg_tag_t){"costCenter", cost_center};
        j->req.n_tags = 1;
        return j;
}

static void job_free(tg_job_t *j)
{
        free(j->budgets);
        free(j);
}

/* The matched budget with this id, NULL when it did not match. */
static const tg_job_budget_t *got(const tg_job_t *j, const char *id)
{
        for (size_t i = 0; i < j->n_budgets; i++)
                if (strcmp(j->budgets[i].id, id) == 0)
                        return &j->budgets[i];
        return NULL;
}

static const char *DAY_ENG =
    "{\"id\":\"eng-day\",\"selector\":{\"costCenter\":\"eng\"},"
    "\"period\":\"day\",\"limitNanoUsd\":1000,\"thresholds\":[50,80,100],"
    "\"rpm\":0,\"tpm\":0,\"onExceed\":\"reject\"}";
static const char *MONTH_ALL =
    "{\"id\":\"all\",\"selector\":{},\"period\":\"month\","
    "\"limitNanoUsd\":5000,\"thresholds\":[90],\"rpm\":0,\"tpm\":0,"
    "\"onExceed\":\"reject\"}";
static const char *TOTAL_OPS =
    "{\"id\":\"ops\",\"selector\":{\"costCenter\":\"ops\"},"
    "\"period\":\"total\",\"limitTokens\":7,\"thresholds\":[100],"
    "\"rpm\":0,\"tpm\":0,\"onExceed\":\"defer\"}";

static void test_period_boundary(void)
{
        tg_worker_t *w = calloc(1, sizeof(*w));
        const char *defs[] = {DAY_ENG, MONTH_ALL, TOTAL_OPS};
        tg_job_t *j = job("eng");
        const tg_job_budget_t *d, *m;

        load(w, "1", defs, 3);
        CHECK_INT(w->n_budgets, 3);

        CHECK_INT(tg_budgets_match_at(w, j, at("2026-11-30T23:59:59.999999Z")),
                  0);
        CHECK_INT(j->n_budgets, 2); /* not ops */
        d = got(j, "eng-day");
        m = got(j, "all");
        CHECK(d && m && !got(j, "ops"));
        if (!d || !m)
                goto out;
        CHECK_STR(d->period, "2026-11-30");
        CHECK_STR(d->key, "tg:{tg}:b:eng-day:2026-11-30");
        CHECK_STR(d->rate_key, "tg:{tg}:rate:eng-day:29934719");
        CHECK_STR(d->thresholds, "50,80,100");
        CHECK_INT(d->limit_nano, 1000);
        CHECK_INT(d->limit_tokens, -1);
        CHECK_STR(m->period, "2026-11");
        CHECK_STR(m->key, "tg:{tg}:b:all:2026-11");
        CHECK(strstr(d->key, "eng:") == NULL); /* no tag value in a key */

        /* One microsecond later: a new day, a new month, a new minute. */
        CHECK_INT(tg_budgets_match_at(w, j, at("2026-12-01T00:00:00.000000Z")),
                  0);
        d = got(j, "eng-day");
        m = got(j, "all");
        CHECK(d && m);
        if (!d || !m)
                goto out;
        CHECK_STR(d->period, "2026-12-01");
        CHECK_STR(d->key, "tg:{tg}:b:eng-day:2026-12-01");
        CHECK_STR(d->rate_key, "tg:{tg}:rate:eng-day:29934720");
        CHECK_STR(m->period, "2026-12");
        CHECK_STR(m->key, "tg:{tg}:b:all:2026-12");

        /* Within the day, the next minute moves only the rate key. */
        CHECK_INT(tg_budgets_match_at(w, j, at("2026-12-01T00:01:30Z")), 0);
        d = got(j, "eng-day");
        CHECK(d && strcmp(d->key, "tg:{tg}:b:eng-day:2026-12-01") == 0);
        CHECK(d && strcmp(d->rate_key, "tg:{tg}:rate:eng-day:29934721") == 0);

        /* A clock stepping back (NTP) is in the old period again. */
        CHECK_INT(tg_budgets_match_at(w, j, at("2026-11-30T23:59:59Z")), 0);
        d = got(j, "eng-day");
        m = got(j, "all");
        CHECK(d && strcmp(d->key, "tg:{tg}:b:eng-day:2026-11-30") == 0);
        CHECK(m && strcmp(m->key, "tg:{tg}:b:all:2026-11") == 0);

        /* total never moves; ops matches an ops request only. */
        tg_job_t *o = job("ops");
        CHECK_INT(tg_budgets_match_at(w, o, at("2026-12-01T00:00:00Z")), 0);
        CHECK_INT(o->n_budgets, 2);
        d = got(o, "ops");
        CHECK(d && strcmp(d->key, "tg:{tg}:b:ops:total") == 0);
        CHECK(d && d->defer == 1 && d->limit_tokens == 7);
        job_free(o);
out:
        job_free(j);
        tg_budgets_destroy(w);
        free(w);
}

/* The same ids in a new version: nothing of the old definitions stays. */
static void test_reload_rebuilds(void)
{
        tg_worker_t *w = calloc(1, sizeof(*w));
        const char *v1[] = {DAY_ENG, MONTH_ALL};
        const char *v2[] = {
            /* eng-day now monthly, other thresholds and limit */
            "{\"id\":\"eng-day\",\"selector\":{\"costCenter\":\"eng\"},"
            "\"period\":\"month\",\"limitNanoUsd\":2000,"
            "\"thresholds\":[25],\"rpm\":3,\"tpm\":0,"
            "\"onExceed\":\"defer\"}",
            /* a new budget where "all" was: its own keys */
            "{\"id\":\"eng-2\",\"selector\":{\"costCenter\":\"eng\"},"
            "\"period\":\"total\",\"limitNanoUsd\":1,\"thresholds\":[100],"
            "\"rpm\":0,\"tpm\":0,\"onExceed\":\"reject\"}"};
        int64_t now = at("2026-11-30T12:00:00Z");
        tg_job_t *j = job("eng");
        const tg_job_budget_t *d, *e;

        load(w, "1", v1, 2);
        CHECK_INT(tg_budgets_match_at(w, j, now), 0);
        d = got(j, "eng-day");
        CHECK(d && strcmp(d->key, "tg:{tg}:b:eng-day:2026-11-30") == 0);

        load(w, "2", v2, 2);
        CHECK_INT(tg_budgets_match_at(w, j, now), 0); /* same instant */
        CHECK_INT(j->n_budgets, 2);
        d = got(j, "eng-day");
        e = got(j, "eng-2");
        CHECK(d && e && !got(j, "all"));
        if (d && e) {
                CHECK_STR(d->period, "2026-11");
                CHECK_STR(d->key, "tg:{tg}:b:eng-day:2026-11");
                CHECK_STR(d->thresholds, "25");
                CHECK_INT(d->limit_nano, 2000);
                CHECK_INT(d->rpm, 3);
                CHECK_INT(d->defer, 1);
                CHECK_STR(e->key, "tg:{tg}:b:eng-2:total");
                CHECK_STR(e->rate_key, "tg:{tg}:rate:eng-2:29934000");
        }
        job_free(j);
        tg_budgets_destroy(w);
        free(w);
}

/* A reservation made in the period before is settled on its own key. */
static void test_resumed_keys(void)
{
        tg_worker_t *w = calloc(1, sizeof(*w));
        const char *defs[] = {DAY_ENG, MONTH_ALL};
        tg_job_t *j = job("eng");
        const tg_job_budget_t *d, *m;

        load(w, "1", defs, 2);
        /* The cache holds today's keys; the resumed ones are older. */
        CHECK_INT(tg_budgets_match(w, j), 0);
        CHECK_INT(tg_budgets_from_keys(w, j,
                                       "tg:{tg}:b:eng-day:2020-01-31\n"
                                       "tg:{tg}:b:all:2020-01\n"
                                       "tg:{tg}:b:gone:2020-01"),
                  0);
        CHECK_INT(j->n_budgets, 3);
        d = got(j, "eng-day");
        m = got(j, "all");
        CHECK(d && m && got(j, "gone"));
        if (d && m) {
                CHECK_STR(d->period, "2020-01-31");
                CHECK_STR(d->key, "tg:{tg}:b:eng-day:2020-01-31");
                CHECK_STR(d->thresholds, "50,80,100");
                CHECK_INT(d->limit_nano, 1000);
                CHECK(strncmp(d->rate_key, "tg:{tg}:rate:eng-day:", 21) == 0);
                CHECK_STR(m->period, "2020-01");
                CHECK_STR(m->key, "tg:{tg}:b:all:2020-01");
                CHECK_STR(m->thresholds, "90");
        }
        CHECK(got(j, "gone") && got(j, "gone")->limit_nano == -1);

        /* And the next match is at today's keys again, not the resumed. */
        CHECK_INT(tg_budgets_match(w, j), 0);
        d = got(j, "eng-day");
        CHECK(d && strcmp(d->period, "2020-01-31") != 0);
        job_free(j);
        tg_budgets_destroy(w);
        free(w);
}

int main(void)
{
        tg_log_setup("error", "test");
        test_period_boundary();
        test_reload_rebuilds();
        test_resumed_keys();
        return tg_test_done("test_budgets_match");
}
