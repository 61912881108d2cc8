/*
 * A request against the model it resolved to: the service tier it asks for
 * and its cache points (docs/operations.md, "Service tiers, prompt caching
 * and request metadata"). Checked before admission, so a request the model
 * cannot serve is `invalid` without a reservation or a Bedrock call.
 */
#include <stdio.h>

#include "catalog.h"
#include "errfmt.h"

tg_tier_t tg_request_tier(const tg_request_t *req)
{
        return req->params.has_service_tier ? req->params.service_tier
                                            : TG_TIER_DEFAULT;
}

int tg_model_caches(const tg_model_t *m)
{
        if (m->prompt_caching >= 0)
                return m->prompt_caching;
        return m->price.cache_write > 0 || m->price.cache_read > 0;
}

int tg_model_cache_1h(const tg_model_t *m, tg_tier_t tier)
{
        const tg_tier_rate_t *r = tg_model_rate(m, tier, TG_SCOPE_REGIONAL);

        if (tier == TG_TIER_DEFAULT && !r)
                return m->price.cache_write_1h > 0;
        return r && r->base.cache_write_1h > 0;
}

static int check_tier(const tg_request_t *req, const tg_model_t *m,
                      char *errstr, size_t size)
{
        tg_tier_t t = tg_request_tier(req);

        if (t == TG_TIER_DEFAULT || tg_model_rate(m, t, TG_SCOPE_REGIONAL))
                return 0;
        return tg_errf(errstr, size,
                       "prompt.parameters.service_tier: model %s does not "
                       "offer the %s tier (the catalog has no price for it)",
                       m->alias, tg_tier_name(t));
}

int tg_request_check_model(const tg_request_t *req, const tg_model_t *m,
                           char *errstr, size_t errstr_size)
{
        tg_tier_t t = tg_request_tier(req);

        if (check_tier(req, m, errstr, errstr_size))
                return -1;
        for (size_t i = 0; i < req->n_messages; i++) {
                tg_cache_ttl_t c = req->messages[i].cache;

                if (c == TG_CACHE_NONE)
                        continue;
                if (!tg_model_caches(m))
                        return tg_errf(errstr, errstr_size,
                                       "prompt.messages[%zu].cachePoint: "
                                       "model %s has no prompt caching",
                                       i, m->alias);
                if (c == TG_CACHE_1H && !tg_model_cache_1h(m, t))
                        return tg_errf(errstr, errstr_size,
                                       "prompt.messages[%zu].cachePoint.ttl: "
                                       "model %s has no 1-hour cache at the "
                                       "%s tier (5m only)",
                                       i, m->alias, tg_tier_name(t));
        }
        return 0;
}

tg_tier_t tg_tier_billed(const tg_model_t *m, tg_tier_t asked, int has_reported,
                         tg_tier_t reported)
{
        if (!has_reported || reported == asked)
                return asked;
        if (reported == TG_TIER_DEFAULT ||
            tg_model_rate(m, reported, TG_SCOPE_REGIONAL))
                return reported;
        return asked;
}
