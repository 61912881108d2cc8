/* The CLI's Redis side: connecting and reading budget definitions. */
#include "cli.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

/* The URL with the --redis-tls-* options in (redis_url.h), parsed. */
static int cli_url(tg_cli_t *cli, tg_redis_url_t *url, char *err, size_t size)
{
        char *full =
            tg_redis_url_with_tls(cli->redis_url, &cli->tls, err, size);
        int rc;

        if (!full)
                return -1;
        rc = tg_redis_url_parse(full, url, err, size);
        free(full);
        return rc;
}

int tg_cli_redis(tg_cli_t *cli, redisContext **out)
{
        tg_redis_url_t *url = calloc(1, sizeof(*url));
        char err[768];

        *out = NULL;
        if (!url)
                return tg_cli_fail(cli, "out of memory");
        if (cli_url(cli, url, err, sizeof(err))) {
                free(url);
                return tg_cli_usage_error(cli, "--redis: %s", err);
        }
        *out = tg_redis_connect_sync(url, cli->timeout_ms, err, sizeof(err));
        memset(url->password, 0, sizeof(url->password));
        free(url);
        return *out ? 0 : tg_cli_fail(cli, "%s", err);
}

int tg_cli_reply_int(const redisReply *r, int64_t *out)
{
        char *end;

        *out = 0;
        if (!r || r->type == REDIS_REPLY_NIL)
                return 0;
        if (r->type == REDIS_REPLY_INTEGER) {
                *out = r->integer;
                return 0;
        }
        if (r->type != REDIS_REPLY_STRING || r->len == 0)
                return -1;
        errno = 0;
        *out = strtoll(r->str, &end, 10);
        return errno || *end ? -1 : 0;
}

static int by_id(const void *a, const void *b)
{
        return strcmp(((const tg_budget_t *)a)->id,
                      ((const tg_budget_t *)b)->id);
}

/* HGETALL replies alternate field, value. */
static size_t budgets_parse(tg_cli_t *cli, const redisReply *r,
                            tg_budget_t *out)
{
        size_t n = 0;
        char err[256];

        for (size_t i = 0; i + 1 < r->elements; i += 2) {
                const redisReply *f = r->element[i], *v = r->element[i + 1];
                if (v->type != REDIS_REPLY_STRING ||
                    tg_budget_from_json(v->str, v->len, &out[n], err,
                                        sizeof(err)) != 0) {
                        tg_cli_warn(cli,
                                    "budget \"%.64s\": stored definition is "
                                    "unusable, skipped: %s",
                                    f->type == REDIS_REPLY_STRING ? f->str
                                                                  : "?",
                                    v->type == REDIS_REPLY_STRING ? err
                                                                  : "not a "
                                                                    "string");
                        continue;
                }
                if (f->type != REDIS_REPLY_STRING ||
                    strcmp(f->str, out[n].id) != 0) {
                        tg_cli_warn(cli,
                                    "budget \"%s\": stored under another "
                                    "field name, skipped",
                                    out[n].id);
                        tg_budget_clear(&out[n]);
                        continue;
                }
                n++;
        }
        return n;
}

int tg_cli_budgets_load(tg_cli_t *cli, redisContext *c, tg_budget_t **out,
                        size_t *n)
{
        redisReply *r = redisCommand(c, "HGETALL %s", TG_KEY_BUDGETS);
        tg_budget_t *b = NULL;
        int rc = -1;

        *out = NULL;
        *n = 0;
        if (!r) {
                tg_cli_fail(cli, "redis: %s", c->errstr);
                return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY) {
                tg_cli_fail(cli, "redis: HGETALL %s: %s", TG_KEY_BUDGETS,
                            r->type == REDIS_REPLY_ERROR ? r->str
                                                         : "unexpected reply");
                goto err;
        }
        b = calloc(r->elements / 2 + 1, sizeof(*b));
        if (!b) {
                tg_cli_fail(cli, "out of memory");
                goto err;
        }
        *n = budgets_parse(cli, r, b);
        qsort(b, *n, sizeof(*b), by_id);
        *out = b;
        rc = 0;
err:
        freeReplyObject(r);
        return rc;
}

void tg_cli_budgets_free(tg_budget_t *b, size_t n)
{
        for (size_t i = 0; i < n; i++)
                tg_budget_clear(&b[i]);
        free(b);
}
