/* budget list|show|delete, and the dispatch of budget subcommands. */
#include "cli.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static const char help[] =
    "Usage: " TG_CLI_PROG " budget set|list|show|delete ...\n"
    "\n"
    "  budget set ID --selector k=v[,k=v...] --period day|month|total\n"
    "             [--limit-usd USD] [--limit-tokens N] [--thresholds L]\n"
    "             [--rpm N] [--tpm N] [--on-exceed reject|defer]\n"
    "  budget list [--json]   all budgets, sorted by id\n"
    "  budget show ID         the stored definition (JSON)\n"
    "  budget delete ID       remove the definition; spend history "
    "stays\n"
    "\n"
    "'" TG_CLI_PROG " budget set --help' lists the fields.\n"
    "\n" TG_CLI_COMMON_HELP;

static const char help_list[] =
    "Usage: " TG_CLI_PROG " budget list [--json]\n"
    "\n"
    "Lists every budget: id, period, selector, limits, thresholds, rate\n"
    "limits. --json prints the definitions as a JSON array.\n"
    "\n" TG_CLI_COMMON_HELP;

static const char help_show[] =
    "Usage: " TG_CLI_PROG " budget show ID\n"
    "\n"
    "Prints the stored definition of budget ID as JSON.\n"
    "\n" TG_CLI_COMMON_HELP;

static const char help_delete[] =
    "Usage: " TG_CLI_PROG " budget delete ID\n"
    "\n"
    "Removes budget ID; workers stop charging it on their next reload.\n"
    "Its spend keys (" TG_KEY_PREFIX "b:ID:<period>) stay for history.\n"
    "\n" TG_CLI_COMMON_HELP;

enum { OPT_JSON = TG_OPT_FIRST_LOCAL };

static int on_json(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        if (opt != OPT_JSON)
                return tg_cli_usage_error(cli, "unknown option");
        *(int *)opaque = 1;
        return 0;
}

static void limit_str(int64_t v, int usd, char *out, size_t size)
{
        if (v < 0)
                snprintf(out, size, "-");
        else if (usd)
                tg_cli_usd(v, out, size);
        else
                snprintf(out, size, "%lld", (long long)v);
}

static void thresholds_str(const tg_budget_t *b, char *out, size_t size)
{
        size_t len = 0;

        snprintf(out, size, "-");
        for (int i = 0; i < b->n_thresholds && len < size; i++)
                len += (size_t)snprintf(out + len, size - len, "%s%d",
                                        i ? "," : "", b->thresholds[i]);
}

static void list_row(tg_table_t *t, const tg_budget_t *b)
{
        char sel[TG_BUDGET_SELECTOR_MAX * 400], usd[48], tok[32], th[64];

        tg_cli_selector_str(b, sel, sizeof(sel));
        limit_str(b->limit_nano, 1, usd, sizeof(usd));
        limit_str(b->limit_tokens, 0, tok, sizeof(tok));
        thresholds_str(b, th, sizeof(th));
        tg_table_cell(t, "%s", b->id);
        tg_table_cell(t, "%s", tg_period_name(b->period));
        tg_table_cell(t, "%s", usd);
        tg_table_cell(t, "%s", tok);
        tg_table_cell(t, "%s", th);
        tg_table_cell(t, "%lld", (long long)b->rpm);
        tg_table_cell(t, "%lld", (long long)b->tpm);
        tg_table_cell(t, "%s", b->on_exceed_defer ? "defer" : "reject");
        tg_table_cell(t, "%s", sel);
}

static void list_print(const tg_budget_t *b, size_t n, int json)
{
        static const char *const cols[] = {"ID",      "PERIOD",     ">LIMIT",
                                           ">TOKENS", "THRESHOLDS", ">RPM",
                                           ">TPM",    "ON-EXCEED",  "SELECTOR"};
        tg_table_t t;

        if (json) {
                fputs("[", stdout);
                for (size_t i = 0; i < n; i++) {
                        char *s = tg_budget_to_json(&b[i]);
                        printf("%s\n%s", i ? "," : "", s ? s : "null");
                        free(s);
                }
                fputs("]\n", stdout);
                return;
        }
        tg_table_init(&t, 9, cols);
        for (size_t i = 0; i < n; i++)
                list_row(&t, &b[i]);
        tg_table_print(&t, stdout);
        tg_table_free(&t);
}

static int budget_list(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"json", no_argument, NULL, OPT_JSON},
            {NULL, 0, NULL, 0}};
        int first, json = 0, rc;
        redisContext *c;
        tg_budget_t *b;
        size_t n;

        rc = tg_cli_getopt(cli, argc, argv, longopts, TG_CLI_COMMON_SHORTOPTS,
                           on_json, &json, help_list, &first);
        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if (first < argc)
                return tg_cli_usage_error(cli, "unexpected argument \"%s\"",
                                          argv[first]);
        if ((rc = tg_cli_redis(cli, &c)))
                return rc;
        rc = tg_cli_budgets_load(cli, c, &b, &n) ? TG_EXIT_FAIL : TG_EXIT_OK;
        if (rc == TG_EXIT_OK) {
                list_print(b, n, json);
                tg_cli_budgets_free(b, n);
        }
        redisFree(c);
        return rc;
}

/* Parses the single ID argument of show and delete. */
static int id_arg(tg_cli_t *cli, int argc, char **argv, const char *help_text,
                  const char **id)
{
        static const struct option longopts[] = {TG_CLI_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        int first, rc;

        rc = tg_cli_getopt(cli, argc, argv, longopts, TG_CLI_COMMON_SHORTOPTS,
                           NULL, NULL, help_text, &first);
        if (rc)
                return rc;
        if (argc - first != 1)
                return tg_cli_usage_error(cli, "expected one budget ID");
        if (!tg_budget_id_valid(argv[first]))
                return tg_cli_usage_error(cli,
                                          "budget ID \"%s\" must be 1-%d of "
                                          "[A-Za-z0-9._-]",
                                          argv[first], TG_BUDGET_ID_MAX);
        *id = argv[first];
        return 0;
}

static int show_print(tg_cli_t *cli, const char *id, const redisReply *r)
{
        json_t *doc;

        if (r->type == REDIS_REPLY_NIL)
                return tg_cli_fail(cli, "no budget \"%s\"", id);
        if (r->type != REDIS_REPLY_STRING)
                return tg_cli_fail(cli, "redis: %s",
                                   r->type == REDIS_REPLY_ERROR ? r->str
                                                                : "bad reply");
        doc = json_loadb(r->str, r->len, 0, NULL);
        if (!doc) {
                /* Show what is there: the user needs it to repair it. */
                tg_cli_warn(cli, "budget %s: stored value is not JSON", id);
                printf("%s\n", r->str);
                return TG_EXIT_FAIL;
        }
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
        return TG_EXIT_OK;
}

static int budget_show(tg_cli_t *cli, int argc, char **argv)
{
        const char *id = NULL;
        redisContext *c;
        redisReply *r;
        int rc = id_arg(cli, argc, argv, help_show, &id);

        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if ((rc = tg_cli_redis(cli, &c)))
                return rc;
        r = redisCommand(c, "HGET %s %s", TG_KEY_BUDGETS, id);
        rc = r ? show_print(cli, id, r)
               : tg_cli_fail(cli, "redis: %s", c->errstr);
        if (r)
                freeReplyObject(r);
        redisFree(c);
        return rc;
}

static int budget_delete(tg_cli_t *cli, int argc, char **argv)
{
        /* HDEL and INCR together, and INCR only when something went. */
        static const char lua[] =
            "if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 "
            "end return redis.call('INCR', KEYS[2])";
        const char *id = NULL;
        redisContext *c;
        redisReply *r;
        int rc = id_arg(cli, argc, argv, help_delete, &id);

        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if ((rc = tg_cli_redis(cli, &c)))
                return rc;
        r = redisCommand(c, "EVAL %s 2 %s %s %s", lua, TG_KEY_BUDGETS,
                         TG_KEY_VERSION, id);
        if (!r)
                rc = tg_cli_fail(cli, "redis: %s", c->errstr);
        else if (r->type != REDIS_REPLY_INTEGER)
                rc = tg_cli_fail(cli, "redis: %s",
                                 r->type == REDIS_REPLY_ERROR ? r->str
                                                              : "bad reply");
        else if (r->integer < 0)
                rc = tg_cli_fail(cli, "no budget \"%s\"", id);
        else
                printf("budget %s deleted (version %lld)\n", id, r->integer);
        if (r)
                freeReplyObject(r);
        redisFree(c);
        return rc;
}

int tg_cmd_budget(tg_cli_t *cli, int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(tg_cli_t *, int, char **);
        } subs[] = {{"set", tg_cmd_budget_set},
                    {"list", budget_list},
                    {"show", budget_show},
                    {"delete", budget_delete}};

        if (argc < 2)
                return tg_cli_usage_error(cli, "missing subcommand (set, "
                                               "list, show, delete)");
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                fputs(help, stdout);
                return TG_EXIT_OK;
        }
        for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
                if (strcmp(argv[1], subs[i].name) == 0) {
                        snprintf(cli->cmd, sizeof(cli->cmd), "budget %s",
                                 subs[i].name);
                        return subs[i].run(cli, argc - 1, argv + 1);
                }
        }
        return tg_cli_usage_error(cli, "unknown subcommand \"%s\"", argv[1]);
}
