/* status: each budget's spend in its current (or a given) period. */
#include "cli.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "forecast.h"
#include "table.h"
#include "tgtime.h"

static const char help[] =
    "Usage: " TG_CLI_PROG " status [--json] [--period LABEL] [ID...]\n"
    "\n"
    "Spend against each budget (or the IDs given) in its current UTC\n"
    "period: limit, spent, reserved (in flight), remaining, % used.\n"
    "\n"
    "  --json          a JSON array, one object per budget: id, selector,\n"
    "                  period, periodKind, limitNanoUsd (null if none),\n"
    "                  spentNanoUsd, reservedNanoUsd, remainingNanoUsd,\n"
    "                  and limitTokens, spentTokens, reservedTokens,\n"
    "                  remainingTokens where a token limit is set, and\n"
    "                  forecast (null for total budgets and past periods):\n"
    "                  periodEnd, ratePerDayNanoUsd, projectedNanoUsd,\n"
    "                  passesLimitAt (RFC 3339, null when it would not)\n"
    "  --period LABEL  a past period instead: 2026-11 (month budgets),\n"
    "                  2026-11-27 (day budgets) or total\n"
    "\n"
    "PROJECTED is the spend at the period end at the period's average\n"
    "rate so far (spent / time elapsed since the period began); PASSES\n"
    "the UTC date the limit would be passed at that rate (\"over\" when\n"
    "it is already, - when not within the period).\n"
    "\n"
    "TOLLGATE_FAKE_NOW (RFC 3339) moves the clock, for tests.\n"
    "\n" TG_CLI_COMMON_HELP;

enum { OPT_JSON = TG_OPT_FIRST_LOCAL, OPT_PERIOD };

typedef struct status_args {
        int json;
        const char *period; /* NULL: the current one */
        tg_period_t period_kind;
        char **ids;
        int n_ids;
} status_args_t;

typedef struct status_row {
        const tg_budget_t *b;
        char label[TG_PERIOD_LABEL_MAX];
        int64_t spent, reserved, spent_tokens, reserved_tokens;
        int has_forecast; /* the current day or month period */
        time_t period_end;
        tg_forecast_t f;
} status_row_t;

static int on_opt(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        status_args_t *a = opaque;

        if (opt == OPT_JSON) {
                a->json = 1;
                return 0;
        }
        if (opt != OPT_PERIOD)
                return tg_cli_usage_error(cli, "unknown option");
        if (!tg_cli_period_label_kind(arg, &a->period_kind))
                return tg_cli_usage_error(cli,
                                          "--period: \"%s\" is not a period "
                                          "label (YYYY-MM, YYYY-MM-DD or "
                                          "total)",
                                          arg);
        a->period = arg;
        return 0;
}

static int wanted(const status_args_t *a, const tg_budget_t *b)
{
        if (a->period && b->period != a->period_kind)
                return 0;
        if (a->n_ids == 0)
                return 1;
        for (int i = 0; i < a->n_ids; i++)
                if (strcmp(a->ids[i], b->id) == 0)
                        return 1;
        return 0;
}

/* One pipelined HMGET per budget. */
static int read_spend(tg_cli_t *cli, redisContext *c, status_row_t *rows,
                      size_t n)
{
        char key[128];
        redisReply *r;

        for (size_t i = 0; i < n; i++) {
                tg_key_budget(key, sizeof(key), rows[i].b->id, rows[i].label);
                redisAppendCommand(c,
                                   "HMGET %s spent reserved spentTokens "
                                   "reservedTokens",
                                   key);
        }
        for (size_t i = 0; i < n; i++) {
                if (redisGetReply(c, (void **)&r) != REDIS_OK)
                        return tg_cli_fail(cli, "redis: %s", c->errstr);
                int bad =
                    r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
                    tg_cli_reply_int(r->element[0], &rows[i].spent) ||
                    tg_cli_reply_int(r->element[1], &rows[i].reserved) ||
                    tg_cli_reply_int(r->element[2], &rows[i].spent_tokens) ||
                    tg_cli_reply_int(r->element[3], &rows[i].reserved_tokens);
                if (bad)
                        tg_cli_fail(cli, "redis: %s: %s", rows[i].b->id,
                                    r->type == REDIS_REPLY_ERROR
                                        ? r->str
                                        : "fields are not integers");
                freeReplyObject(r);
                if (bad)
                        return TG_EXIT_FAIL;
        }
        return 0;
}

static json_t *selector_json(const tg_budget_t *b)
{
        json_t *o = json_object();

        for (size_t i = 0; i < b->n_selector; i++)
                json_object_set_new(o, b->selector[i].key,
                                    json_string(b->selector[i].value));
        return o;
}

/* Settled spend (admit.lua compares that, not reservations that may still
 * be released) has reached the budget's --degrade-at share of its USD
 * limit: matching requests go at its degrade tier now. */
static int degrading(const status_row_t *r)
{
        __extension__ typedef __int128 i128;
        const tg_budget_t *b = r->b;

        return b->degrade_at > 0 && b->limit_nano > 0 &&
               (i128)r->spent * 100 >= (i128)b->limit_nano * b->degrade_at;
}

/* null, or {"atPercent", "tier", "active"}: set with budget set
 * --degrade-at/--degrade-tier (docs/operations.md, "Service tiers"). */
static json_t *degrade_json(const status_row_t *r)
{
        if (r->b->degrade_at <= 0)
                return json_null();
        return json_pack("{s:i, s:s, s:b}", "atPercent", r->b->degrade_at,
                         "tier", tg_tier_name(r->b->degrade_tier), "active",
                         degrading(r));
}

static json_t *row_json(const status_row_t *r)
{
        const tg_budget_t *b = r->b;
        int64_t used = r->spent + r->reserved;
        json_t *o = json_object();

        json_object_set_new(o, "id", json_string(b->id));
        json_object_set_new(o, "selector", selector_json(b));
        json_object_set_new(o, "period", json_string(r->label));
        json_object_set_new(o, "periodKind",
                            json_string(tg_period_name(b->period)));
        json_object_set_new(o, "limitNanoUsd",
                            b->limit_nano < 0 ? json_null()
                                              : json_integer(b->limit_nano));
        json_object_set_new(o, "spentNanoUsd", json_integer(r->spent));
        json_object_set_new(o, "reservedNanoUsd", json_integer(r->reserved));
        json_object_set_new(o, "remainingNanoUsd",
                            b->limit_nano < 0
                                ? json_null()
                                : json_integer(b->limit_nano - used));
        json_object_set_new(o, "degrade", degrade_json(r));
        if (b->limit_tokens < 0)
                return o;
        json_object_set_new(o, "limitTokens", json_integer(b->limit_tokens));
        json_object_set_new(o, "spentTokens", json_integer(r->spent_tokens));
        json_object_set_new(o, "reservedTokens",
                            json_integer(r->reserved_tokens));
        json_object_set_new(o, "remainingTokens",
                            json_integer(b->limit_tokens - r->spent_tokens -
                                         r->reserved_tokens));
        return o;
}

static json_t *time_json(time_t t)
{
        char buf[40];

        tg_time_format_us((int64_t)t * 1000000, buf, sizeof(buf));
        return json_string(buf);
}

static json_t *forecast_json(const status_row_t *r)
{
        if (!r->has_forecast)
                return json_null();
        return json_pack("{s:o, s:I, s:I, s:o}", "periodEnd",
                         time_json(r->period_end), "ratePerDayNanoUsd",
                         (json_int_t)r->f.rate_per_day, "projectedNanoUsd",
                         (json_int_t)r->f.projected_nano, "passesLimitAt",
                         r->f.passes ? time_json(r->f.pass_at) : json_null());
}

static void print_json(const status_row_t *rows, size_t n)
{
        json_t *a = json_array();

        for (size_t i = 0; i < n; i++) {
                json_t *o = row_json(&rows[i]);
                json_object_set_new(o, "forecast", forecast_json(&rows[i]));
                json_array_append_new(a, o);
        }
        json_dumpf(a, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(a);
}

/* "42.5%" of limit; integers only, rounded down to a tenth. */
static void percent(int64_t used, int64_t limit, char *out, size_t size)
{
        __extension__ typedef __int128 i128;

        if (limit <= 0) {
                snprintf(out, size, "-");
                return;
        }
        i128 tenths = (i128)used * 1000 / limit;
        snprintf(out, size, "%lld.%lld%%", (long long)(tenths / 10),
                 (long long)(tenths % 10 < 0 ? -(tenths % 10) : tenths % 10));
}

static void forecast_cells(tg_table_t *t, const status_row_t *r)
{
        char proj[48], day[TG_PERIOD_LABEL_MAX];

        if (!r->has_forecast) {
                tg_table_cell(t, "-");
                tg_table_cell(t, "-");
                return;
        }
        tg_cli_usd(r->f.projected_nano, proj, sizeof(proj));
        tg_table_cell(t, "%s", proj);
        if (r->f.already)
                tg_table_cell(t, "over");
        else if (r->f.passes) {
                tg_period_label(TG_PERIOD_DAY, r->f.pass_at, day);
                tg_table_cell(t, "%s", day);
        } else
                tg_table_cell(t, "-");
}

static void table_row(tg_table_t *t, const status_row_t *r)
{
        const tg_budget_t *b = r->b;
        char sel[TG_BUDGET_SELECTOR_MAX * 400], lim[48], sp[48], rs[48],
            rem[48], pct[32];

        tg_cli_selector_str(b, sel, sizeof(sel));
        snprintf(lim, sizeof(lim), "-");
        snprintf(rem, sizeof(rem), "-");
        if (b->limit_nano >= 0) {
                tg_cli_usd(b->limit_nano, lim, sizeof(lim));
                tg_cli_usd(b->limit_nano - r->spent - r->reserved, rem,
                           sizeof(rem));
        }
        tg_cli_usd(r->spent, sp, sizeof(sp));
        tg_cli_usd(r->reserved, rs, sizeof(rs));
        percent(r->spent + r->reserved, b->limit_nano, pct, sizeof(pct));
        tg_table_cell(t, "%s", b->id);
        tg_table_cell(t, "%s", sel);
        tg_table_cell(t, "%s", r->label);
        tg_table_cell(t, "%s", lim);
        tg_table_cell(t, "%s", sp);
        tg_table_cell(t, "%s", rs);
        tg_table_cell(t, "%s", rem);
        tg_table_cell(t, "%s", pct);
        forecast_cells(t, r);
        if (b->limit_tokens < 0)
                tg_table_cell(t, "-");
        else
                tg_table_cell(t, "%lld+%lld/%lld", (long long)r->spent_tokens,
                              (long long)r->reserved_tokens,
                              (long long)b->limit_tokens);
        if (b->degrade_at <= 0)
                tg_table_cell(t, "-");
        else
                tg_table_cell(t, "%d%%:%s%s", b->degrade_at,
                              tg_tier_name(b->degrade_tier),
                              degrading(r) ? " (now)" : "");
}

static void print_table(const status_row_t *rows, size_t n)
{
        static const char *const cols[] = {
            "ID",         "SELECTOR",  "PERIOD",     ">LIMIT",
            ">SPENT",     ">RESERVED", ">REMAINING", ">USED",
            ">PROJECTED", "PASSES",    ">TOKENS",    "DEGRADE"};
        tg_table_t t;

        tg_table_init(&t, (int)(sizeof(cols) / sizeof(cols[0])), cols);
        for (size_t i = 0; i < n; i++)
                table_row(&t, &rows[i]);
        tg_table_print(&t, stdout);
        tg_table_free(&t);
}

/* Only the period running now has a rate to project from. */
static void row_forecast(status_row_t *r, time_t now)
{
        char cur[TG_PERIOD_LABEL_MAX];
        time_t start;

        tg_period_label(r->b->period, now, cur);
        if (strcmp(cur, r->label) != 0 ||
            tg_period_bounds(r->b->period, now, &start, &r->period_end))
                return;
        r->has_forecast = tg_forecast(r->spent, r->b->limit_nano, start,
                                      r->period_end, now, &r->f) == 0;
}

static int status_run(tg_cli_t *cli, const status_args_t *a, redisContext *c)
{
        tg_budget_t *b = NULL;
        status_row_t *rows = NULL;
        size_t nb = 0, n = 0;
        time_t now = tg_time_now();
        int rc = TG_EXIT_FAIL;

        if (tg_cli_budgets_load(cli, c, &b, &nb))
                return TG_EXIT_FAIL;
        rows = calloc(nb + 1, sizeof(*rows));
        if (!rows) {
                tg_cli_fail(cli, "out of memory");
                goto err;
        }
        for (size_t i = 0; i < nb; i++) {
                if (!wanted(a, &b[i]))
                        continue;
                rows[n].b = &b[i];
                if (a->period)
                        snprintf(rows[n].label, sizeof(rows[n].label), "%s",
                                 a->period);
                else
                        tg_period_label(b[i].period, now, rows[n].label);
                n++;
        }
        if (read_spend(cli, c, rows, n))
                goto err;
        for (size_t i = 0; i < n; i++)
                row_forecast(&rows[i], now);
        if (a->json)
                print_json(rows, n);
        else
                print_table(rows, n);
        rc = TG_EXIT_OK;
err:
        free(rows);
        tg_cli_budgets_free(b, nb);
        return rc;
}

int tg_cmd_status(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"json", no_argument, NULL, OPT_JSON},
            {"period", required_argument, NULL, OPT_PERIOD},
            {NULL, 0, NULL, 0}};
        status_args_t a = {0};
        redisContext *c;
        int first, rc;

        rc = tg_cli_getopt(cli, argc, argv, longopts, TG_CLI_COMMON_SHORTOPTS,
                           on_opt, &a, help, &first);
        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        for (int i = first; i < argc; i++)
                if (!tg_budget_id_valid(argv[i]))
                        return tg_cli_usage_error(
                            cli, "\"%s\" is not a budget ID", argv[i]);
        a.ids = argv + first;
        a.n_ids = argc - first;
        if ((rc = tg_cli_redis(cli, &c)))
                return rc;
        rc = status_run(cli, &a, c);
        redisFree(c);
        return rc;
}
