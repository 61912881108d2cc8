/* budget set: create a budget, or change the given fields of one. */
#include "cli.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

static const char help[] =
    "Usage: " TG_CLI_PROG " budget set ID [options]\n"
    "\n"
    "Creates budget ID, or changes the fields given of an existing one.\n"
    "A new budget needs --selector and --period, and every budget needs\n"
    "--limit-usd or --limit-tokens (or both).\n"
    "\n"
    "  --selector k=v[,k=v...]  tags a request must all have to be\n"
    "                           charged; 'none' or '' = every request\n"
    "  --period day|month|total UTC calendar day, month, or no reset\n"
    "  --limit-usd USD          e.g. 12.50 (exact, at most 9 decimals);\n"
    "                           'none' removes the limit\n"
    "  --limit-tokens N         input+output+cache tokens; 'none'\n"
    "  --thresholds P,P,...     alert percentages, default 50,80,100;\n"
    "                           'none' for no alerts\n"
    "  --rpm N                  requests per minute (0 = no limit)\n"
    "  --tpm N                  tokens per minute (0 = no limit)\n"
    "  --on-exceed reject|defer what happens over budget (default "
    "reject)\n"
    "  --degrade-at P           once spend reaches P %% of the USD limit,\n"
    "                           matching requests go at --degrade-tier\n"
    "                           (reserved at its price); 0 or 'none' = "
    "never\n"
    "  --degrade-tier T         flex (default), default or priority\n"
    "\n"
    "Writes field ID of " TG_KEY_BUDGETS " and increments " TG_KEY_VERSION "\n"
    "in one step, so workers reload it.\n"
    "\n" TG_CLI_COMMON_HELP;

enum {
        OPT_SELECTOR = TG_OPT_FIRST_LOCAL,
        OPT_PERIOD,
        OPT_LIMIT_USD,
        OPT_LIMIT_TOKENS,
        OPT_THRESHOLDS,
        OPT_RPM,
        OPT_TPM,
        OPT_ON_EXCEED,
        OPT_DEGRADE_AT,
        OPT_DEGRADE_TIER,
};

/* What the command line asks for; has[] says which fields were given. */
typedef struct set_args {
        tg_budget_t b; /* the given fields; selector pairs owned */
        int has[OPT_DEGRADE_TIER - OPT_SELECTOR + 1];
} set_args_t;

#define HAS(a, opt) ((a)->has[(opt)-OPT_SELECTOR])

/* One "key=value" of --selector (modified in place). Tag keys may hold
 * '=' too, but a selector splits at the first one. */
static int selector_pair(tg_cli_t *cli, tg_budget_t *b, char *pair)
{
        char *eq = strchr(pair, '='), err[256];

        if (!eq || eq == pair)
                return tg_cli_usage_error(
                    cli, "--selector: \"%s\" is not key=value", pair);
        *eq = '\0';
        if (tg_budget_selector_add(b, pair, eq + 1, err, sizeof(err)))
                return tg_cli_usage_error(cli, "--selector: %s", err);
        return 0;
}

static int parse_selector(tg_cli_t *cli, tg_budget_t *b, const char *arg)
{
        char *copy, *next;
        int rc = 0;

        if (!*arg || strcmp(arg, "none") == 0)
                return 0;
        if (!(copy = strdup(arg)))
                return tg_cli_fail(cli, "out of memory");
        /* ',' is not a tag character, so it cannot be inside a pair. */
        for (char *p = copy; p && !rc; p = next) {
                next = strchr(p, ',');
                if (next)
                        *next++ = '\0';
                rc = selector_pair(cli, b, p);
        }
        free(copy);
        return rc;
}

static int parse_thresholds(tg_cli_t *cli, tg_budget_t *b, const char *arg)
{
        const char *p = arg;
        int64_t v;
        char num[16];

        b->n_thresholds = 0;
        if (strcmp(arg, "none") == 0)
                return 0;
        while (*p) {
                size_t n = strcspn(p, ",");
                snprintf(num, sizeof(num), "%.*s", (int)(n < 15 ? n : 15), p);
                if (n >= sizeof(num) ||
                    tg_cli_parse_int64(num, 1, TG_BUDGET_THRESHOLD_MAX, &v))
                        return tg_cli_usage_error(
                            cli,
                            "--thresholds: \"%s\" is not a list of "
                            "percentages 1-%d",
                            arg, TG_BUDGET_THRESHOLD_MAX);
                if (b->n_thresholds == TG_BUDGET_THRESHOLDS_MAX)
                        return tg_cli_usage_error(cli,
                                                  "--thresholds: at most %d",
                                                  TG_BUDGET_THRESHOLDS_MAX);
                b->thresholds[b->n_thresholds++] = (int)v;
                p += n + (p[n] == ',');
        }
        return 0;
}

static int parse_limit(tg_cli_t *cli, const char *opt, const char *arg, int usd,
                       int64_t *out)
{
        if (strcmp(arg, "none") == 0) {
                *out = -1;
                return 0;
        }
        if (usd ? tg_cli_parse_usd(arg, out) != 0
                : tg_cli_parse_int64(arg, 0, INT64_MAX, out) != 0)
                return tg_cli_usage_error(
                    cli, "%s: \"%s\" is not %s", opt, arg,
                    usd ? "a USD amount like 12.50 (at most 9 decimals)"
                        : "a whole number of tokens");
        return 0;
}

static int parse_rate(tg_cli_t *cli, const char *opt, const char *arg,
                      int64_t *out)
{
        if (tg_cli_parse_int64(arg, 0, INT64_MAX, out))
                return tg_cli_usage_error(
                    cli, "%s: \"%s\" is not a whole number (0 = no limit)", opt,
                    arg);
        return 0;
}

static const char *const names[] = {
    "selector", "period", "limit-usd", "limit-tokens", "thresholds",
    "rpm",      "tpm",    "on-exceed", "degrade-at",   "degrade-tier"};

/* --degrade-at and --degrade-tier (docs/operations.md, "Service tiers,
 * prompt caching and request metadata"). */
static int parse_degrade(tg_cli_t *cli, int opt, const char *arg,
                         tg_budget_t *b)
{
        int64_t v;

        if (opt == OPT_DEGRADE_TIER) {
                if (tg_tier_parse(arg, &b->degrade_tier))
                        return tg_cli_usage_error(
                            cli,
                            "--degrade-tier: \"%s\" is not flex, default or "
                            "priority",
                            arg);
                return 0;
        }
        if (strcmp(arg, "none") == 0) {
                b->degrade_at = 0;
                return 0;
        }
        if (tg_cli_parse_int64(arg, 0, 100, &v))
                return tg_cli_usage_error(
                    cli, "--degrade-at: \"%s\" is not a percentage 1-100", arg);
        b->degrade_at = (int)v;
        return 0;
}

static int on_opt(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        set_args_t *a = opaque;
        tg_budget_t *b = &a->b;

        if (opt < OPT_SELECTOR || opt > OPT_DEGRADE_TIER)
                return tg_cli_usage_error(cli, "unknown option");
        if (HAS(a, opt))
                return tg_cli_usage_error(cli, "--%s given twice",
                                          names[opt - OPT_SELECTOR]);
        HAS(a, opt) = 1;
        switch (opt) {
        case OPT_SELECTOR:
                return parse_selector(cli, b, arg);
        case OPT_PERIOD:
                if (tg_period_parse(arg, &b->period))
                        return tg_cli_usage_error(
                            cli,
                            "--period: \"%s\" is not day, month or "
                            "total",
                            arg);
                return 0;
        case OPT_LIMIT_USD:
                return parse_limit(cli, "--limit-usd", arg, 1, &b->limit_nano);
        case OPT_LIMIT_TOKENS:
                return parse_limit(cli, "--limit-tokens", arg, 0,
                                   &b->limit_tokens);
        case OPT_THRESHOLDS:
                return parse_thresholds(cli, b, arg);
        case OPT_RPM:
                return parse_rate(cli, "--rpm", arg, &b->rpm);
        case OPT_TPM:
                return parse_rate(cli, "--tpm", arg, &b->tpm);
        case OPT_DEGRADE_AT:
        case OPT_DEGRADE_TIER:
                return parse_degrade(cli, opt, arg, b);
        }
        if (strcmp(arg, "reject") && strcmp(arg, "defer"))
                return tg_cli_usage_error(
                    cli, "--on-exceed: \"%s\" is not reject or defer", arg);
        b->on_exceed_defer = strcmp(arg, "defer") == 0;
        return 0;
}

/* Moves the given fields of a over cur (the stored budget, or a new one). */
static void merge(tg_budget_t *cur, set_args_t *a)
{
        tg_budget_t *b = &a->b;

        if (HAS(a, OPT_SELECTOR)) {
                for (size_t i = 0; i < cur->n_selector; i++) {
                        free(cur->selector[i].key);
                        free(cur->selector[i].value);
                }
                memcpy(cur->selector, b->selector, sizeof(b->selector));
                cur->n_selector = b->n_selector;
                b->n_selector = 0; /* ownership moved to cur */
        }
        if (HAS(a, OPT_PERIOD))
                cur->period = b->period;
        if (HAS(a, OPT_LIMIT_USD))
                cur->limit_nano = b->limit_nano;
        if (HAS(a, OPT_LIMIT_TOKENS))
                cur->limit_tokens = b->limit_tokens;
        if (HAS(a, OPT_THRESHOLDS)) {
                memcpy(cur->thresholds, b->thresholds, sizeof(b->thresholds));
                cur->n_thresholds = b->n_thresholds;
        }
        if (HAS(a, OPT_RPM))
                cur->rpm = b->rpm;
        if (HAS(a, OPT_TPM))
                cur->tpm = b->tpm;
        if (HAS(a, OPT_ON_EXCEED))
                cur->on_exceed_defer = b->on_exceed_defer;
        if (HAS(a, OPT_DEGRADE_AT))
                cur->degrade_at = b->degrade_at;
        if (HAS(a, OPT_DEGRADE_TIER))
                cur->degrade_tier = b->degrade_tier;
}

/* Returns 1 when found (cur filled), 0 when new, -1 on error. */
static int load_current(tg_cli_t *cli, redisContext *c, const char *id,
                        tg_budget_t *cur)
{
        redisReply *r = redisCommand(c, "HGET %s %s", TG_KEY_BUDGETS, id);
        char err[256];
        int rc;

        tg_budget_init(cur);
        snprintf(cur->id, sizeof(cur->id), "%s", id);
        if (!r)
                return tg_cli_fail(cli, "redis: %s", c->errstr), -1;
        if (r->type == REDIS_REPLY_NIL)
                rc = 0;
        else if (r->type != REDIS_REPLY_STRING)
                rc = -1,
                tg_cli_fail(cli, "redis: HGET: %s",
                            r->type == REDIS_REPLY_ERROR ? r->str
                                                         : "bad reply");
        else if (tg_budget_from_json(r->str, r->len, cur, err, sizeof(err)))
                rc = -1, tg_cli_fail(cli,
                                     "budget %s: the stored definition is "
                                     "unusable (%s); delete it first",
                                     id, err);
        else
                rc = 1;
        freeReplyObject(r);
        return rc;
}

static int store(tg_cli_t *cli, redisContext *c, const tg_budget_t *b,
                 int existed)
{
        static const char lua[] = "redis.call('HSET', KEYS[1], ARGV[1], "
                                  "ARGV[2]) return redis.call('INCR', KEYS[2])";
        char *json = tg_budget_to_json(b);
        redisReply *r;
        int rc = TG_EXIT_FAIL;

        if (!json)
                return tg_cli_fail(cli, "out of memory");
        r = redisCommand(c, "EVAL %s 2 %s %s %s %s", lua, TG_KEY_BUDGETS,
                         TG_KEY_VERSION, b->id, json);
        if (!r)
                tg_cli_fail(cli, "redis: %s", c->errstr);
        else if (r->type != REDIS_REPLY_INTEGER)
                tg_cli_fail(cli, "redis: %s",
                            r->type == REDIS_REPLY_ERROR ? r->str
                                                         : "bad reply");
        else {
                printf("budget %s %s (version %lld)\n", b->id,
                       existed ? "updated" : "created", r->integer);
                rc = TG_EXIT_OK;
        }
        if (r)
                freeReplyObject(r);
        free(json);
        return rc;
}

static int set_apply(tg_cli_t *cli, set_args_t *a, const char *id)
{
        redisContext *c = NULL;
        tg_budget_t cur;
        char err[256];
        int found, rc;

        tg_budget_init(&cur);
        if ((rc = tg_cli_redis(cli, &c)))
                return rc;
        found = load_current(cli, c, id, &cur);
        rc = TG_EXIT_FAIL;
        if (found < 0)
                goto err;
        if (!found && (!HAS(a, OPT_SELECTOR) || !HAS(a, OPT_PERIOD))) {
                rc = tg_cli_usage_error(cli,
                                        "new budget %s needs --selector "
                                        "(k=v,... or none) and --period",
                                        id);
                goto err;
        }
        merge(&cur, a);
        if (tg_budget_validate(&cur, err, sizeof(err))) {
                rc = tg_cli_usage_error(cli, "%s", err);
                goto err;
        }
        rc = store(cli, c, &cur, found);
err:
        tg_budget_clear(&cur);
        redisFree(c);
        return rc;
}

int tg_cmd_budget_set(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"selector", required_argument, NULL, OPT_SELECTOR},
            {"period", required_argument, NULL, OPT_PERIOD},
            {"limit-usd", required_argument, NULL, OPT_LIMIT_USD},
            {"limit-tokens", required_argument, NULL, OPT_LIMIT_TOKENS},
            {"thresholds", required_argument, NULL, OPT_THRESHOLDS},
            {"rpm", required_argument, NULL, OPT_RPM},
            {"tpm", required_argument, NULL, OPT_TPM},
            {"on-exceed", required_argument, NULL, OPT_ON_EXCEED},
            {"degrade-at", required_argument, NULL, OPT_DEGRADE_AT},
            {"degrade-tier", required_argument, NULL, OPT_DEGRADE_TIER},
            {NULL, 0, NULL, 0}};
        set_args_t a;
        int first, rc;

        memset(&a, 0, sizeof(a));
        tg_budget_init(&a.b);
        rc = tg_cli_getopt(cli, argc, argv, longopts, TG_CLI_COMMON_SHORTOPTS,
                           on_opt, &a, help, &first);
        if (rc)
                goto out;
        if (argc - first != 1) {
                rc = tg_cli_usage_error(cli,
                                        "expected one budget ID, got %d "
                                        "arguments",
                                        argc - first);
                goto out;
        }
        if (!tg_budget_id_valid(argv[first])) {
                rc = tg_cli_usage_error(cli,
                                        "budget ID \"%s\" must be 1-%d of "
                                        "[A-Za-z0-9._-]",
                                        argv[first], TG_BUDGET_ID_MAX);
                goto out;
        }
        rc = set_apply(cli, &a, argv[first]);
out:
        tg_budget_clear(&a.b);
        return rc < 0 ? TG_EXIT_OK : rc;
}
