/* The Redis half of totals.h: every tg:{tg}:b:<id>:<period> hash. */
#include "totals.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define BUDGET_KEY_PREFIX TG_KEY_PREFIX "b:"
#define SCAN_COUNT        "1000"

/* Splits "tg:{tg}:b:<id>:<period>" from the right: ids and periods hold no
 * ':', so the last one separates them. */
static int key_split(const char *key, char *id, char *period)
{
        const char *rest = key + strlen(BUDGET_KEY_PREFIX);
        const char *colon;
        tg_period_t kind;
        size_t idlen;

        if (strncmp(key, BUDGET_KEY_PREFIX, strlen(BUDGET_KEY_PREFIX)) != 0 ||
            !(colon = strrchr(rest, ':')))
                return -1;
        idlen = (size_t)(colon - rest);
        if (idlen == 0 || idlen > TG_BUDGET_ID_MAX ||
            strlen(colon + 1) >= TG_PERIOD_LABEL_MAX)
                return -1;
        memcpy(id, rest, idlen);
        id[idlen] = '\0';
        strcpy(period, colon + 1);
        return tg_budget_id_valid(id) && tg_cli_period_label_kind(period, &kind)
                   ? 0
                   : -1;
}

static int fields_read(tg_pair_t *p, const redisReply *r)
{
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 5)
                return -1;
        p->in_redis = 1;
        return tg_cli_reply_int(r->element[0], &p->r_spent) ||
               tg_cli_reply_int(r->element[1], &p->r_tokens) ||
               tg_cli_reply_int(r->element[2], &p->r_approved) ||
               tg_cli_reply_int(r->element[3], &p->r_reserved) ||
               tg_cli_reply_int(r->element[4], &p->r_reserved_tokens);
}

/* Sends one HMGET per budget key of a SCAN page; pairs[i] is left NULL
 * for keys that are not budget keys. */
static int page_send(tg_cli_t *cli, redisContext *c, tg_totals_t *t,
                     const redisReply *keys, tg_pair_t **pairs)
{
        char id[TG_BUDGET_ID_MAX + 1], period[TG_PERIOD_LABEL_MAX];

        for (size_t i = 0; i < keys->elements; i++) {
                const char *key = keys->element[i]->str;
                if (keys->element[i]->type != REDIS_REPLY_STRING ||
                    key_split(key, id, period)) {
                        tg_cli_warn(cli, "ignoring %s: not a budget key",
                                    key ? key : "?");
                        continue;
                }
                if (!(pairs[i] = tg_totals_pair(t, id, period)))
                        return tg_cli_fail(cli, "out of memory");
                redisAppendCommand(c,
                                   "HMGET %s spent spentTokens approved "
                                   "reserved reservedTokens",
                                   key);
        }
        return 0;
}

/* Reads one SCAN page of keys with pipelined HMGETs. */
static int page_read(tg_cli_t *cli, redisContext *c, tg_totals_t *t,
                     const redisReply *keys)
{
        tg_pair_t **pairs = calloc(keys->elements + 1, sizeof(*pairs));
        redisReply *r;
        int rc;

        if (!pairs)
                return tg_cli_fail(cli, "out of memory");
        rc = page_send(cli, c, t, keys, pairs);
        for (size_t i = 0; rc == 0 && i < keys->elements; i++) {
                if (!pairs[i])
                        continue;
                if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                        rc = tg_cli_fail(cli, "redis: %s", c->errstr);
                        break;
                }
                if (fields_read(pairs[i], r))
                        rc = tg_cli_fail(cli,
                                         "redis: %s: not a hash of integers",
                                         keys->element[i]->str);
                freeReplyObject(r);
        }
        free(pairs);
        return rc;
}

int tg_totals_from_redis(tg_cli_t *cli, redisContext *c, tg_totals_t *t)
{
        char cursor[32] = "0";
        redisReply *r;
        int rc = 0;

        do {
                r = redisCommand(c, "SCAN %s MATCH %s* COUNT " SCAN_COUNT,
                                 cursor, BUDGET_KEY_PREFIX);
                if (!r)
                        return tg_cli_fail(cli, "redis: %s", c->errstr);
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                    r->element[0]->type != REDIS_REPLY_STRING) {
                        rc = tg_cli_fail(cli, "redis: SCAN: %s",
                                         r->type == REDIS_REPLY_ERROR
                                             ? r->str
                                             : "unexpected reply");
                } else {
                        snprintf(cursor, sizeof(cursor), "%s",
                                 r->element[0]->str);
                        rc = page_read(cli, c, t, r->element[1]);
                }
                freeReplyObject(r);
        } while (rc == 0 && strcmp(cursor, "0") != 0);
        return rc;
}
