/*
 * The price kinds of a catalog model beyond the old single `price`:
 * 1-hour cache writes, long-context prices, a global (global. profile)
 * rate, service tiers, and the cross-region profiles a model has. The
 * format is in docs/operations.md ("Prices: tiers, cache TTLs, long
 * context, regional and global"); an old catalog (only `price`) loads as
 * before: default tier, regional, no long context, no 1-hour cache.
 */
#include <stdio.h>
#include <string.h>

#include "catalog_int.h"
#include "tgjson.h"

static const char *const tier_names[TG_TIER_N] = {"default", "priority",
                                                  "flex"};
static const char *const profile_names[] = {"us", "eu", "apac", "global"};

int tg_tier_parse(const char *s, tg_tier_t *out)
{
        if (s && strcmp(s, "standard") == 0)
                s = "default";
        for (int i = 0; s && i < TG_TIER_N; i++) {
                if (strcmp(s, tier_names[i]) == 0) {
                        *out = (tg_tier_t)i;
                        return 0;
                }
        }
        return -1;
}

const char *tg_tier_name(tg_tier_t tier)
{
        return tier >= 0 && tier < TG_TIER_N ? tier_names[tier] : "?";
}

tg_scope_t tg_scope_of_target(const char *target)
{
        const char *slash;

        if (!target)
                return TG_SCOPE_REGIONAL;
        if (strncmp(target, "global.", 7) == 0)
                return TG_SCOPE_GLOBAL;
        slash = strrchr(target, '/');
        if (strncmp(target, "arn:", 4) == 0 && slash &&
            strstr(target, ":inference-profile/") &&
            strncmp(slash + 1, "global.", 7) == 0)
                return TG_SCOPE_GLOBAL;
        return TG_SCOPE_REGIONAL;
}

const tg_tier_rate_t *tg_model_rate(const tg_model_t *m, tg_tier_t tier,
                                    tg_scope_t scope)
{
        if (tier < 0 || tier >= TG_TIER_N || scope < 0 || scope >= TG_SCOPE_N)
                return NULL;
        if (m->rates[tier][scope].offered)
                return &m->rates[tier][scope];
        /* No separate global price: billed at the source region's. */
        if (scope == TG_SCOPE_GLOBAL && m->rates[tier][0].offered)
                return &m->rates[tier][0];
        return NULL;
}

/* One price field: a decimal USD string per 1M tokens (or a small whole
 * number). Returns 0, 1 when absent, -1 when bad (why in errstr). */
static int field_get(json_t *price, const char *key, int64_t *out, char *errstr,
                     size_t size, const char *where)
{
        json_t *v = json_object_get(price, key);
        const char *s = json_string_value(v);

        *out = 0;
        if (!v)
                return 1;
        if (json_is_integer(v) && json_integer_value(v) >= 0 &&
            json_integer_value(v) <= 1000000) {
                *out = json_integer_value(v) * 1000000000LL;
                return 0;
        }
        if ((json_is_integer(v) && json_integer_value(v) < 0) ||
            (json_is_real(v) && json_real_value(v) < 0) || (s && *s == '-'))
                snprintf(errstr, size, "%s.%s: negative price", where, key);
        else if (!s || tg_usd_parse_nano(s, out))
                snprintf(errstr, size,
                         "%s.%s: price needs input and output as decimal USD "
                         "strings per 1M tokens (at most 9 decimals)",
                         where, key);
        else
                return 0;
        return -1;
}

/* {"input","output","cacheRead","cacheWrite","cacheWrite1h"}: input and
 * output required, the cache ones optional (absent = 0 = not offered). */
int tg_price_load(json_t *o, tg_price_t *p, char *errstr, size_t size,
                  const char *where)
{
        static const char *const keys[5] = {"input", "output", "cacheRead",
                                            "cacheWrite", "cacheWrite1h"};
        int64_t *dst[5] = {&p->input, &p->output, &p->cache_read,
                           &p->cache_write, &p->cache_write_1h};

        if (!json_is_object(o)) {
                snprintf(errstr, size,
                         "%s: missing price (an object of decimal USD "
                         "strings per 1M tokens)",
                         where);
                return -1;
        }
        for (int i = 0; i < 5; i++) {
                int rc = field_get(o, keys[i], dst[i], errstr, size, where);
                if (rc < 0)
                        return -1;
                if (rc > 0 && i < 2) {
                        snprintf(errstr, size, "%s.%s: missing price", where,
                                 keys[i]);
                        return -1;
                }
        }
        return 0;
}

/* A rate object: {"price": {...}, "longContextPrice": {...}}. */
static int rate_load(const tg_model_t *m, json_t *o, tg_tier_rate_t *r,
                     char *errstr, size_t size, const char *where)
{
        char w[96];
        json_t *lc = json_object_get(o, "longContextPrice");

        snprintf(w, sizeof(w), "%s.price", where);
        if (tg_price_load(json_object_get(o, "price"), &r->base, errstr, size,
                          w))
                return -1;
        snprintf(w, sizeof(w), "%s.longContextPrice", where);
        if (m->long_context_above > 0 || lc) {
                if (m->long_context_above == 0) {
                        snprintf(errstr, size,
                                 "%s: longContextPrice without "
                                 "longContextAboveInputTokens",
                                 where);
                        return -1;
                }
                if (tg_price_load(lc, &r->long_context, errstr, size, w))
                        return -1;
        }
        r->offered = 1;
        return 0;
}

static int profiles_load(tg_model_t *m, json_t *a, char *errstr, size_t size)
{
        size_t i, k;
        json_t *v;

        if (!a)
                return 0;
        if (!json_is_array(a))
                goto bad;
        m->profiles = TG_PROFILE_LISTED;
        json_array_foreach(a, i, v)
        {
                const char *s = json_string_value(v);
                for (k = 0; s && k < 4; k++)
                        if (strcmp(s, profile_names[k]) == 0)
                                break;
                if (!s || k == 4)
                        goto bad;
                m->profiles |= 1u << k;
        }
        return 0;
bad:
        snprintf(errstr, size,
                 "profiles: must be an array of \"us\", \"eu\", \"apac\", "
                 "\"global\"");
        return -1;
}

static int tier_load(tg_model_t *m, const char *name, json_t *o, char *errstr,
                     size_t size)
{
        char where[64];
        tg_tier_t t;
        json_t *g;

        if (tg_tier_parse(name, &t) || t == TG_TIER_DEFAULT) {
                snprintf(errstr, size,
                         "tiers.%.32s: unknown tier (priority or flex; the "
                         "default tier is the model's own price)",
                         name);
                return -1;
        }
        snprintf(where, sizeof(where), "tiers.%s", name);
        if (!json_is_object(o) || !json_object_get(o, "price")) {
                snprintf(errstr, size, "%s: tier without a price", where);
                return -1;
        }
        if (rate_load(m, o, &m->rates[t][TG_SCOPE_REGIONAL], errstr, size,
                      where))
                return -1;
        if ((g = json_object_get(o, "global"))) {
                snprintf(where, sizeof(where), "tiers.%s.global", name);
                return rate_load(m, g, &m->rates[t][TG_SCOPE_GLOBAL], errstr,
                                 size, where);
        }
        return 0;
}

int tg_model_rates_load(tg_model_t *m, json_t *o, char *errstr, size_t size)
{
        json_t *lc = json_object_get(o, "longContextAboveInputTokens");
        json_t *pc = json_object_get(o, "promptCaching");
        json_t *tiers = json_object_get(o, "tiers"), *v;
        const char *name;

        if (lc && (!json_is_integer(lc) || json_integer_value(lc) < 1 ||
                   json_integer_value(lc) > 100000000)) {
                snprintf(errstr, size,
                         "longContextAboveInputTokens: must be 1-100000000");
                return -1;
        }
        m->long_context_above = lc ? json_integer_value(lc) : 0;
        m->prompt_caching = pc ? json_is_true(pc) : -1;
        if (pc && !json_is_boolean(pc)) {
                snprintf(errstr, size, "promptCaching: must be true or false");
                return -1;
        }
        if (rate_load(m, o, &m->rates[TG_TIER_DEFAULT][TG_SCOPE_REGIONAL],
                      errstr, size, "model"))
                return -1;
        m->price = m->rates[TG_TIER_DEFAULT][TG_SCOPE_REGIONAL].base;
        if (json_object_get(o, "global") &&
            rate_load(m, json_object_get(o, "global"),
                      &m->rates[TG_TIER_DEFAULT][TG_SCOPE_GLOBAL], errstr, size,
                      "global"))
                return -1;
        if (tiers && !json_is_object(tiers)) {
                snprintf(errstr, size, "tiers: must be an object");
                return -1;
        }
        json_object_foreach(tiers, name, v)
        {
                if (tier_load(m, name, v, errstr, size))
                        return -1;
        }
        return profiles_load(m, json_object_get(o, "profiles"), errstr, size);
}
