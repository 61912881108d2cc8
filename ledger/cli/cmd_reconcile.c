/* reconcile: Redis spend against the sum of approved usage events. */
#include "totals.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "aws_cost.h"
#include "table.h"

static const char help[] =
    "Usage: " TG_CLI_PROG " reconcile [--json] [--from-beginning]\n"
    "       " TG_CLI_PROG " reconcile --aws-cost FILE [--by profile|tag:NAME]\n"
    "       [--tolerance-usd USD] [--json]\n"
    "\n"
    "Reads the usage topic from the beginning to the end it has when the\n"
    "command starts (committed transactions only), sums costNanoUsd and\n"
    "tokens (input+output+cacheRead+cacheWrite) of approved events per\n"
    "budget and period, and compares them with spent and spentTokens of\n"
    "every " TG_KEY_PREFIX "b:<id>:<period> hash in Redis. Events are\n"
    "counted once per requestId; two different events with one "
    "requestId\n"
    "are an error. A non-zero reserved is a difference too (a leaked\n"
    "reservation), so run it while no worker is busy.\n"
    "\n"
    "Prints one line per budget period with both values and the\n"
    "difference (Redis minus Kafka) to the nano-dollar.\n"
    "\n"
    "  --json            one JSON object: ok, pairs, issues, stats\n"
    "  --from-beginning  the default and only mode, for clarity\n"
    "\n"
    "With --aws-cost, compares AWS's own bill instead: FILE is an AWS\n"
    "Data Exports CUR 2.0 CSV (gzip or not, - for standard input). Its\n"
    "AmazonBedrock Usage lines (line_item_unblended_cost, USD) are summed\n"
    "per UTC day (line_item_usage_start_date) and per profile\n"
    "(line_item_resource_id; tollgate's side: each approved event's\n"
    "target) or per cost allocation tag (--by tag:NAME: resource_tags\n"
    "user:NAME; tollgate's side: tags.NAME), and compared with the\n"
    "approved usage events' costNanoUsd per day of decidedAt. Each pair\n"
    "differing by more than the tolerance (default $0.01) is printed with\n"
    "the likely reason (billing lag, requests outside tollgate, price\n"
    "changes, a missing day). Missing columns, non-USD lines and lines\n"
    "that do not parse are reported by line number on stderr; the rest is\n"
    "compared.\n"
    "\n"
    "Exit status: 0 all match, 1 any difference, unusable event or bad\n"
    "CSV line, 2 usage error.\n"
    "\n" TG_CLI_COMMON_HELP;

enum {
        OPT_JSON = TG_OPT_FIRST_LOCAL,
        OPT_FROM_BEGINNING,
        OPT_AWS_COST,
        OPT_BY,
        OPT_TOLERANCE,
};

static int on_opt(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        tg_awscost_opts_t *o = opaque;
        char err[256];

        switch (opt) {
        case OPT_JSON:
                o->json = 1;
                return 0;
        case OPT_FROM_BEGINNING:
                return 0;
        case OPT_AWS_COST:
                o->file = arg;
                return 0;
        case OPT_BY:
                if (strcmp(arg, "profile") == 0) {
                        o->tag = NULL;
                        return 0;
                }
                if (strncmp(arg, "tag:", 4) == 0 &&
                    tg_tag_check(arg + 4, "", err, sizeof(err)) == 0 &&
                    arg[4]) {
                        o->tag = arg + 4;
                        return 0;
                }
                return tg_cli_usage_error(cli,
                                          "--by: \"%s\" is not profile or "
                                          "tag:NAME",
                                          arg);
        case OPT_TOLERANCE:
                if (tg_cli_parse_usd(arg, &o->tolerance_nano))
                        return tg_cli_usage_error(cli,
                                                  "--tolerance-usd: \"%s\" "
                                                  "is not an amount in USD",
                                                  arg);
                return 0;
        }
        return tg_cli_usage_error(cli, "unknown option");
}

static int differs(const tg_pair_t *p)
{
        return p->r_spent != p->k_spent || p->r_tokens != p->k_tokens ||
               p->r_reserved != 0 || p->r_reserved_tokens != 0;
}

/* "spent,tokens,reserved" or "ok". */
static void what_differs(const tg_pair_t *p, char *out, size_t size)
{
        snprintf(out, size, "%s%s%s", p->r_spent != p->k_spent ? "spent," : "",
                 p->r_tokens != p->k_tokens ? "tokens," : "",
                 p->r_reserved || p->r_reserved_tokens ? "reserved," : "");
        size_t n = strlen(out);
        if (n)
                out[n - 1] = '\0';
        else
                snprintf(out, size, "ok");
}

static void print_table(tg_pair_t **pairs, size_t n)
{
        static const char *const cols[] = {
            "BUDGET",           "PERIOD",         ">KAFKA_NANO_USD",
            ">REDIS_NANO_USD",  ">DIFF_NANO_USD", ">KAFKA_TOKENS",
            ">REDIS_TOKENS",    ">DIFF_TOKENS",   ">RESERVED_NANO_USD",
            ">RESERVED_TOKENS", "STATUS"};
        char what[64];
        tg_table_t t;

        tg_table_init(&t, 11, cols);
        for (size_t i = 0; i < n; i++) {
                const tg_pair_t *p = pairs[i];
                what_differs(p, what, sizeof(what));
                tg_table_cell(&t, "%s", p->id);
                tg_table_cell(&t, "%s", p->period);
                tg_table_cell(&t, "%lld", (long long)p->k_spent);
                tg_table_cell(&t, "%lld", (long long)p->r_spent);
                tg_table_cell(&t, "%+lld",
                              (long long)(p->r_spent - p->k_spent));
                tg_table_cell(&t, "%lld", (long long)p->k_tokens);
                tg_table_cell(&t, "%lld", (long long)p->r_tokens);
                tg_table_cell(&t, "%+lld",
                              (long long)(p->r_tokens - p->k_tokens));
                tg_table_cell(&t, "%lld", (long long)p->r_reserved);
                tg_table_cell(&t, "%lld", (long long)p->r_reserved_tokens);
                tg_table_cell(&t, "%s", what);
        }
        tg_table_print(&t, stdout);
        tg_table_free(&t);
}

static json_t *pair_json(const tg_pair_t *p)
{
        return json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
            "s:b}",
            "id", p->id, "period", p->period, "kafkaSpentNanoUsd",
            (json_int_t)p->k_spent, "redisSpentNanoUsd", (json_int_t)p->r_spent,
            "diffNanoUsd", (json_int_t)(p->r_spent - p->k_spent), "kafkaTokens",
            (json_int_t)p->k_tokens, "redisTokens", (json_int_t)p->r_tokens,
            "diffTokens", (json_int_t)(p->r_tokens - p->k_tokens),
            "kafkaApproved", (json_int_t)p->k_approved, "redisApproved",
            (json_int_t)p->r_approved, "reservedNanoUsd",
            (json_int_t)p->r_reserved, "reservedTokens",
            (json_int_t)p->r_reserved_tokens, "match", !differs(p));
}

static json_t *stats_json(const tg_replay_stats_t *s)
{
        return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I}", "partitions",
                         s->partitions, "messages", (json_int_t)s->messages,
                         "events", (json_int_t)s->events, "duplicates",
                         (json_int_t)s->duplicates, "conflicts",
                         (json_int_t)s->conflicts, "malformed",
                         (json_int_t)s->malformed);
}

static void print_json(const tg_totals_t *t, tg_pair_t **pairs, size_t n,
                       int ok)
{
        json_t *a = json_array(), *doc;

        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, pair_json(pairs[i]));
        doc = json_pack("{s:b, s:o, s:O, s:o}", "ok", ok, "pairs", a, "issues",
                        t->issues, "stats", stats_json(&t->stats));
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
}

static int report(const tg_cli_t *cli, const tg_totals_t *t, int json)
{
        size_t n, bad = 0;
        tg_pair_t **pairs = tg_totals_sorted(t, &n);
        const tg_replay_stats_t *s = &t->stats;

        if (!pairs)
                return tg_cli_fail(cli, "out of memory");
        for (size_t i = 0; i < n; i++)
                bad += differs(pairs[i]) ? 1 : 0;
        int ok = bad == 0 && s->conflicts == 0 && s->malformed == 0;
        if (json) {
                print_json(t, pairs, n, ok);
        } else {
                print_table(pairs, n);
                tg_totals_print_issues(t);
                printf("reconcile: %zu budget periods, %zu differ; %lld "
                       "events from %d partitions (%lld duplicates, %lld "
                       "conflicts, %lld malformed): %s\n",
                       n, bad, (long long)s->events, s->partitions,
                       (long long)s->duplicates, (long long)s->conflicts,
                       (long long)s->malformed, ok ? "OK" : "DIFFERENCES");
        }
        free(pairs);
        return ok ? TG_EXIT_OK : TG_EXIT_FAIL;
}

int tg_cmd_reconcile(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"json", no_argument, NULL, OPT_JSON},
            {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
            {"aws-cost", required_argument, NULL, OPT_AWS_COST},
            {"by", required_argument, NULL, OPT_BY},
            {"tolerance-usd", required_argument, NULL, OPT_TOLERANCE},
            {NULL, 0, NULL, 0}};
        tg_awscost_opts_t o = {.tolerance_nano = 10000000}; /* $0.01 */
        redisContext *c;
        tg_totals_t t;
        int first, json, rc;

        rc = tg_cli_getopt(cli, argc, argv, longopts, TG_CLI_COMMON_SHORTOPTS,
                           on_opt, &o, help, &first);
        json = o.json;
        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if (first < argc)
                return tg_cli_usage_error(cli, "unexpected argument \"%s\"",
                                          argv[first]);
        if (o.file)
                return tg_reconcile_aws(cli, &o);
        if ((rc = tg_cli_redis(cli, &c)))
                return rc;
        tg_totals_init(&t);
        /* Kafka first: what Redis holds now includes at least every event
         * below the watermarks once the workers are idle. */
        rc = tg_totals_from_kafka(cli, &t);
        if (rc == 0)
                rc = tg_totals_from_redis(cli, c, &t);
        if (rc == 0)
                rc = report(cli, &t, json);
        tg_totals_free(&t);
        redisFree(c);
        return rc;
}
