/* rebuild: restore Redis spend from the usage topic, the source of truth. */
#include "totals.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "Usage: " TG_CLI_PROG " rebuild [--reset-reserved] [--dry-run] "
    "[--force]\n"
    "\n"
    "Replays the usage topic as reconcile does, then overwrites spent,\n"
    "spentTokens and approved of every " TG_KEY_PREFIX "b:<id>:<period>\n"
    "hash seen in Kafka or Redis with the sums of approved events (0\n"
    "where Kafka has none), in one MULTI/EXEC. Prints what changes.\n"
    "Stop the workers first: a request settled during the rebuild may be\n"
    "counted twice or not at all.\n"
    "\n"
    "  --reset-reserved  also set reserved and reservedTokens to 0\n"
    "                    (leaked reservations); left alone otherwise\n"
    "  --dry-run         print the changes, write nothing\n"
    "  --force           rebuild even when the topic holds unusable\n"
    "                    events or conflicting ones (the first read "
    "counts)\n"
    "\n" TG_CLI_COMMON_HELP;

enum { OPT_RESET = TG_OPT_FIRST_LOCAL, OPT_DRY_RUN, OPT_FORCE };

typedef struct rebuild_args {
        int reset_reserved, dry_run, force;
} rebuild_args_t;

static int on_opt(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        rebuild_args_t *a = opaque;

        if (opt == OPT_RESET)
                a->reset_reserved = 1;
        else if (opt == OPT_DRY_RUN)
                a->dry_run = 1;
        else if (opt == OPT_FORCE)
                a->force = 1;
        else
                return tg_cli_usage_error(cli, "unknown option");
        return 0;
}

static int changes(const tg_pair_t *p, const rebuild_args_t *a)
{
        return p->r_spent != p->k_spent || p->r_tokens != p->k_tokens ||
               p->r_approved != p->k_approved ||
               (a->reset_reserved && (p->r_reserved || p->r_reserved_tokens));
}

static void print_change(const tg_pair_t *p, const rebuild_args_t *a)
{
        printf("%s %s: spent %lld -> %lld, spentTokens %lld -> %lld, "
               "approved %lld -> %lld",
               p->id, p->period, (long long)p->r_spent, (long long)p->k_spent,
               (long long)p->r_tokens, (long long)p->k_tokens,
               (long long)p->r_approved, (long long)p->k_approved);
        if (a->reset_reserved && (p->r_reserved || p->r_reserved_tokens))
                printf(", reserved %lld -> 0, reservedTokens %lld -> 0",
                       (long long)p->r_reserved,
                       (long long)p->r_reserved_tokens);
        fputc('\n', stdout);
}

static void queue_write(redisContext *c, const tg_pair_t *p,
                        const rebuild_args_t *a)
{
        char key[128];

        tg_key_budget(key, sizeof(key), p->id, p->period);
        if (a->reset_reserved)
                redisAppendCommand(c,
                                   "HSET %s spent %lld spentTokens %lld "
                                   "approved %lld reserved 0 reservedTokens 0",
                                   key, (long long)p->k_spent,
                                   (long long)p->k_tokens,
                                   (long long)p->k_approved);
        else
                redisAppendCommand(c,
                                   "HSET %s spent %lld spentTokens %lld "
                                   "approved %lld",
                                   key, (long long)p->k_spent,
                                   (long long)p->k_tokens,
                                   (long long)p->k_approved);
}

/* MULTI, n_cmds queued commands, EXEC: reads every reply, checks EXEC's. */
static int exec_check(tg_cli_t *cli, redisContext *c, size_t n_cmds)
{
        redisReply *r;
        int rc = 0;

        for (size_t i = 0; i < n_cmds + 2; i++) {
                if (redisGetReply(c, (void **)&r) != REDIS_OK)
                        return tg_cli_fail(cli, "redis: %s", c->errstr);
                if (r->type == REDIS_REPLY_ERROR && rc == 0)
                        rc = tg_cli_fail(cli, "redis: %s", r->str);
                if (i == n_cmds + 1 && r->type != REDIS_REPLY_ARRAY && !rc)
                        rc = tg_cli_fail(cli, "redis: transaction aborted");
                freeReplyObject(r);
        }
        return rc;
}

static int apply(tg_cli_t *cli, redisContext *c, tg_pair_t **pairs, size_t n,
                 const rebuild_args_t *a)
{
        size_t changed = 0;

        if (!a->dry_run)
                redisAppendCommand(c, "MULTI");
        for (size_t i = 0; i < n; i++) {
                if (!changes(pairs[i], a))
                        continue;
                print_change(pairs[i], a);
                if (!a->dry_run)
                        queue_write(c, pairs[i], a);
                changed++;
        }
        if (!a->dry_run) {
                redisAppendCommand(c, "EXEC");
                if (exec_check(cli, c, changed))
                        return TG_EXIT_FAIL;
        }
        printf("rebuild: %zu budget periods, %zu %s\n", n, changed,
               a->dry_run ? "would change (dry run)" : "changed");
        return TG_EXIT_OK;
}

static int rebuild(tg_cli_t *cli, redisContext *c, const rebuild_args_t *a)
{
        tg_pair_t **pairs;
        tg_totals_t t;
        size_t n;
        int rc;

        tg_totals_init(&t);
        if ((rc = tg_totals_from_kafka(cli, &t)))
                goto out;
        tg_totals_print_issues(&t);
        if (json_array_size(t.issues) && !a->force) {
                rc = tg_cli_fail(cli,
                                 "%zu unusable or conflicting events in %s; "
                                 "nothing written (--force rebuilds anyway)",
                                 json_array_size(t.issues), cli->usage_topic);
                goto out;
        }
        if ((rc = tg_totals_from_redis(cli, c, &t)))
                goto out;
        if (!(pairs = tg_totals_sorted(&t, &n))) {
                rc = tg_cli_fail(cli, "out of memory");
                goto out;
        }
        rc = apply(cli, c, pairs, n, a);
        free(pairs);
out:
        tg_totals_free(&t);
        return rc;
}

int tg_cmd_rebuild(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"reset-reserved", no_argument, NULL, OPT_RESET},
            {"dry-run", no_argument, NULL, OPT_DRY_RUN},
            {"force", no_argument, NULL, OPT_FORCE},
            {NULL, 0, NULL, 0}};
        rebuild_args_t a = {0};
        redisContext *c;
        int first, rc;

        rc = tg_cli_getopt(cli, argc, argv, longopts, TG_CLI_COMMON_SHORTOPTS,
                           on_opt, &a, help, &first);
        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if (first < argc)
                return tg_cli_usage_error(cli, "unexpected argument \"%s\"",
                                          argv[first]);
        if ((rc = tg_cli_redis(cli, &c)))
                return rc;
        rc = rebuild(cli, c, &a);
        redisFree(c);
        return rc;
}
