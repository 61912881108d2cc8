/* report: replay the usage topic and group requests, tokens and cost. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "keys.h"
#include "replay.h"
#include "report.h"
#include "report_burn.h"
#include "tgtime.h"
#include "usage_event.h"

static const char help[] =
    "Usage: " TG_CLI_PROG " report [--from TIME] [--to TIME]\n"
    "       [--group-by KEY,...] [--decision D,...]\n"
    "       [--format table|csv|json|html] [--out FILE]\n"
    "\n"
    "Replays the usage topic (committed events, each requestId once) and\n"
    "sums requests, approved requests, tokens and cost per group.\n"
    "\n"
    "  --from TIME     events at or after TIME (RFC 3339 UTC, or a date\n"
    "                  2026-11-01 meaning its UTC midnight); the event's\n"
    "                  timestamp, else decidedAt\n"
    "  --to TIME       events before TIME\n"
    "  --group-by K,.. default costCenter,model. Keys: model, modelId,\n"
    "                  day (UTC date), month, decision, or a tag name\n"
    "                  (tag:NAME for a tag called like a key); '' or\n"
    "                  none for one total row\n"
    "  --decision D,.. only these decisions (approved, rejected_budget,\n"
    "                  invalid, failed); default all\n"
    "  --format F      table (default), csv, json, or html: one\n"
    "                  self-contained page with a stacked bar chart of\n"
    "                  spend per day and group, the table, and per money\n"
    "                  budget (definitions and spend read from Redis) a\n"
    "                  burn-down of its current period: spend so far, the\n"
    "                  projection to the period end, limit and thresholds\n"
    "  --out FILE      write there instead of standard output\n"
    "\n"
    "Cost is the sum of costNanoUsd as recorded (integer nano-USD; USD\n"
    "columns are exact decimals).\n"
    "\n" TG_CLI_COMMON_HELP;

enum {
        OPT_FROM = TG_OPT_FIRST_LOCAL,
        OPT_TO,
        OPT_GROUP_BY,
        OPT_FORMAT,
        OPT_OUT,
        OPT_DECISION,
};

typedef struct report_args {
        tg_report_t rep;
        char *group_by; /* owned copy; rep.keys point into it */
        const char *format;
        const char *out;
} report_args_t;

static const struct {
        const char *name;
        tg_report_key_kind_t kind;
} key_names[] = {
    {"model", TG_RK_MODEL}, {"modelId", TG_RK_MODEL_ID},  {"day", TG_RK_DAY},
    {"month", TG_RK_MONTH}, {"decision", TG_RK_DECISION},
};

static int add_key(tg_cli_t *cli, tg_report_t *r, const char *k)
{
        char err[256];
        int i = r->n_keys;

        if (i == TG_REPORT_KEYS_MAX)
                return tg_cli_usage_error(cli, "--group-by: at most %d keys",
                                          TG_REPORT_KEYS_MAX);
        for (int j = 0; j < i; j++)
                if (strcmp(r->keys[j], k) == 0)
                        return tg_cli_usage_error(
                            cli, "--group-by: \"%s\" given twice", k);
        r->keys[i] = k;
        r->kinds[i] = TG_RK_TAG;
        r->tag_names[i] = strncmp(k, "tag:", 4) == 0 ? k + 4 : k;
        for (size_t n = 0; n < sizeof(key_names) / sizeof(key_names[0]); n++)
                if (strcmp(k, key_names[n].name) == 0)
                        r->kinds[i] = key_names[n].kind;
        if (r->kinds[i] == TG_RK_TAG &&
            tg_tag_check(r->tag_names[i], "", err, sizeof(err)))
                return tg_cli_usage_error(cli, "--group-by: \"%s\": %s", k,
                                          err);
        r->n_keys++;
        return 0;
}

static int parse_group_by(tg_cli_t *cli, report_args_t *a, const char *arg)
{
        char *save = NULL, *k;
        int rc = 0;

        free(a->group_by);
        a->group_by = strdup(arg);
        a->rep.n_keys = 0;
        if (!a->group_by)
                return tg_cli_fail(cli, "out of memory");
        if (strcmp(arg, "none") == 0)
                return 0;
        for (k = strtok_r(a->group_by, ",", &save); k && !rc;
             k = strtok_r(NULL, ",", &save))
                rc = add_key(cli, &a->rep, k);
        return rc;
}

static int parse_time_opt(tg_cli_t *cli, const char *name, const char *arg,
                          const char **s, int64_t *us)
{
        if (tg_cli_parse_time(arg, us))
                return tg_cli_usage_error(cli,
                                          "%s: \"%s\" is not an RFC 3339 UTC "
                                          "time (2026-11-27T10:00:00Z) or a "
                                          "date (2026-11-27)",
                                          name, arg);
        *s = arg;
        return 0;
}

static int on_opt(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        report_args_t *a = opaque;

        switch (opt) {
        case OPT_FROM:
                return parse_time_opt(cli, "--from", arg, &a->rep.from,
                                      &a->rep.from_us);
        case OPT_TO:
                return parse_time_opt(cli, "--to", arg, &a->rep.to,
                                      &a->rep.to_us);
        case OPT_GROUP_BY:
                return parse_group_by(cli, a, arg);
        case OPT_DECISION:
                a->rep.decisions = arg;
                return 0;
        case OPT_OUT:
                a->out = arg;
                return 0;
        case OPT_FORMAT:
                if (strcmp(arg, "table") && strcmp(arg, "csv") &&
                    strcmp(arg, "json") && strcmp(arg, "html"))
                        return tg_cli_usage_error(
                            cli,
                            "--format: \"%s\" is not table, csv, json or "
                            "html",
                            arg);
                a->format = arg;
                return 0;
        }
        return tg_cli_usage_error(cli, "unknown option");
}

static int decision_wanted(const tg_report_t *r, const char *d)
{
        size_t n = strlen(d);
        const char *p = r->decisions;

        if (!p)
                return 1;
        while ((p = strstr(p, d)) != NULL) {
                if ((p == r->decisions || p[-1] == ',') &&
                    (p[n] == ',' || p[n] == '\0'))
                        return 1;
                p += n;
        }
        return 0;
}

static const char *key_value(const tg_report_t *r, int i,
                             const tg_usage_ev_t *e, char *day, char *month)
{
        switch (r->kinds[i]) {
        case TG_RK_MODEL:
                return e->model;
        case TG_RK_MODEL_ID:
                return e->model_id;
        case TG_RK_DAY:
                return e->has_ts ? day : NULL;
        case TG_RK_MONTH:
                return e->has_ts ? month : NULL;
        case TG_RK_DECISION:
                return e->decision;
        default:
                return json_string_value(
                    json_object_get(e->tags, r->tag_names[i]));
        }
}

static int on_event(json_t *ev, const char *rid, void *opaque, char *errstr,
                    size_t size)
{
        tg_report_t *r = opaque;
        char day[TG_PERIOD_LABEL_MAX], month[TG_PERIOD_LABEL_MAX];
        const char *values[TG_REPORT_KEYS_MAX];
        tg_usage_ev_t e;

        if (tg_usage_ev_parse(ev, &e, errstr, size))
                return 1;
        /* The burn-down shows the current period whatever --from/--to. */
        if (r->burn && tg_burn_add(r->burn, &e, ev))
                return snprintf(errstr, size, "out of memory"), -1;
        if ((r->from || r->to) &&
            (!e.has_ts || (r->from && e.ts_us < r->from_us) ||
             (r->to && e.ts_us >= r->to_us))) {
                r->skipped++;
                return 0;
        }
        if (!decision_wanted(r, e.decision))
                return 0;
        if (e.has_ts) {
                tg_period_label(TG_PERIOD_DAY, (time_t)(e.ts_us / 1000000),
                                day);
                tg_period_label(TG_PERIOD_MONTH, (time_t)(e.ts_us / 1000000),
                                month);
        }
        for (int i = 0; i < r->n_keys; i++)
                values[i] = key_value(r, i, &e, day, month);
        return tg_report_add(r, values, e.has_ts ? day : NULL, &e, errstr,
                             size);
}

static void on_issue(const tg_replay_issue_t *is, void *opaque)
{
        fprintf(stderr,
                "warning: " TG_CLI_PROG " report: %s at partition %d offset "
                "%lld%s%s: %s\n",
                is->kind == TG_REPLAY_CONFLICT ? "conflicting event"
                                               : "unusable event",
                (int)is->partition, (long long)is->offset,
                *is->request_id ? " requestId " : "", is->request_id,
                is->reason);
}

static int write_out(tg_cli_t *cli, const report_args_t *a)
{
        FILE *f = a->out ? fopen(a->out, "w") : stdout;
        const char *fmt = a->format ? a->format : "table";
        int rc;

        if (!f)
                return tg_cli_fail(cli, "--out %s: %m", a->out);
        if (strcmp(fmt, "csv") == 0)
                rc = tg_report_csv(&a->rep, f);
        else if (strcmp(fmt, "json") == 0)
                rc = tg_report_json(&a->rep, f);
        else if (strcmp(fmt, "html") == 0)
                rc = tg_report_html(&a->rep, f);
        else
                rc = tg_report_table(&a->rep, f);
        if (fflush(f) != 0 || ferror(f))
                rc = -1;
        if (a->out && fclose(f) != 0)
                rc = -1;
        if (rc)
                return tg_cli_fail(cli, "writing %s: %m",
                                   a->out ? a->out : "standard output");
        return TG_EXIT_OK;
}

/* Budget definitions and current spend for the burn-down; without Redis
 * the page says so instead of failing the report. */
static void burn_budgets(tg_cli_t *cli, tg_burn_t *b)
{
        redisContext *c = NULL;
        char key[128], label[TG_PERIOD_LABEL_MAX];
        redisReply *rep;

        if (tg_cli_redis(cli, &c) ||
            tg_cli_budgets_load(cli, c, &b->budgets, &b->n_budgets)) {
                tg_cli_warn(cli, "no burn-down charts (Redis unavailable)");
                b->budgets = NULL;
                b->n_budgets = 0;
                goto out;
        }
        b->spent = calloc(b->n_budgets + 1, sizeof(*b->spent));
        for (size_t i = 0; b->spent && i < b->n_budgets; i++) {
                tg_period_label(b->budgets[i].period, b->now, label);
                tg_key_budget(key, sizeof(key), b->budgets[i].id, label);
                rep = redisCommand(c, "HGET %s spent", key);
                if (rep)
                        tg_cli_reply_int(rep, &b->spent[i]);
                freeReplyObject(rep);
        }
        if (!b->spent) {
                tg_cli_budgets_free(b->budgets, b->n_budgets);
                b->budgets = NULL;
                b->n_budgets = 0;
        }
out:
        if (c)
                redisFree(c);
}

static int report_run(tg_cli_t *cli, report_args_t *a)
{
        tg_replay_conf_t conf = {.brokers = cli->brokers,
                                 .topic = cli->usage_topic,
                                 .props = cli->props,
                                 .n_props = cli->n_props,
                                 .auth = &cli->auth,
                                 .timeout_ms = cli->timeout_ms,
                                 .max_message = TG_CLI_MSG_MAX};
        tg_replay_stats_t stats;
        char err[512];

        tg_burn_t burn;
        int rc;

        if (a->rep.from && a->rep.to && a->rep.to_us <= a->rep.from_us)
                return tg_cli_usage_error(cli, "--to must be after --from");
        tg_burn_init(&burn, tg_time_now());
        if (a->format && strcmp(a->format, "html") == 0) {
                a->rep.burn = &burn;
                burn_budgets(cli, &burn);
        }
        if (tg_replay_run(&conf, on_event, on_issue, &a->rep, &stats, err,
                          sizeof(err)))
                rc = tg_cli_fail(cli, "%s", err);
        else
                rc = write_out(cli, a);
        a->rep.burn = NULL;
        tg_burn_free(&burn);
        return rc;
}

int tg_cmd_report(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"from", required_argument, NULL, OPT_FROM},
            {"to", required_argument, NULL, OPT_TO},
            {"group-by", required_argument, NULL, OPT_GROUP_BY},
            {"format", required_argument, NULL, OPT_FORMAT},
            {"out", required_argument, NULL, OPT_OUT},
            {"decision", required_argument, NULL, OPT_DECISION},
            {NULL, 0, NULL, 0}};
        report_args_t a;
        int first, rc;

        memset(&a, 0, sizeof(a));
        tg_strmap_init(&a.rep.rows);
        tg_strmap_init(&a.rep.cells);
        rc = parse_group_by(cli, &a, "costCenter,model");
        if (rc == 0)
                rc = tg_cli_getopt(cli, argc, argv, longopts,
                                   TG_CLI_COMMON_SHORTOPTS, on_opt, &a, help,
                                   &first);
        if (rc == 0 && first < argc)
                rc = tg_cli_usage_error(cli, "unexpected argument \"%s\"",
                                        argv[first]);
        if (rc == 0)
                rc = report_run(cli, &a);
        tg_report_free(&a.rep);
        free(a.group_by);
        return rc < 0 ? TG_EXIT_OK : rc;
}
