/*
 * Settlement's price of a Converse result: the tier Bedrock served it at,
 * the scope of the target, and the usage with its cache writes by TTL
 * (common/cost.c). docs/operations.md, "Service tiers, prompt caching and
 * request metadata".
 */
#include "converse.h"
#include "errfmt.h"

int tg_converse_price(const tg_converse_result_t *r, const tg_model_t *m,
                      tg_tier_t asked, const char *target, int64_t *cost,
                      char *errstr, size_t errstr_size)
{
        tg_tier_t t = tg_tier_billed(m, asked, r->has_tier, r->tier);

        *cost = tg_cost_settle(m, t, target, &r->usage);
        if (*cost >= 0)
                return 0;
        *cost = 0;
        return tg_errf(errstr, errstr_size,
                       "usage: %lld 1-hour cache-write tokens, but model %s "
                       "has no 1-hour cache price at the %s tier (or the "
                       "cost overflows)",
                       (long long)r->usage.cache_write_1h_tokens, m->alias,
                       tg_tier_name(t));
}
