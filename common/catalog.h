/*
 * The model catalog: aliases, Bedrock model ids, inference profiles, prices,
 * and tag-based routing to application inference profiles.
 *
 * Prices are integer nano-USD per 1M tokens, parsed from decimal strings
 * exactly (no floats). A catalog is immutable once loaded and may be shared.
 */
#ifndef TG_CATALOG_H
#define TG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

typedef enum tg_family {
        TG_FAMILY_OTHER = 0,
        TG_FAMILY_NOVA,
        TG_FAMILY_ANTHROPIC,
        TG_FAMILY_META,
        TG_FAMILY_MISTRAL,
} tg_family_t;

/* One set of per-token prices. cache_write is the 5-minute time to live
 * (the only one older catalogs know); cache_write_1h is 0 when the model
 * offers no 1-hour cache, and then 1-hour writes cannot be priced. */
typedef struct tg_price {
        int64_t input;          /* nano-USD per 1M input tokens */
        int64_t output;         /* nano-USD per 1M output tokens */
        int64_t cache_read;     /* nano-USD per 1M cache-read input tokens */
        int64_t cache_write;    /* nano-USD per 1M cache writes, 5 min TTL */
        int64_t cache_write_1h; /* nano-USD per 1M cache writes, 1 h TTL */
} tg_price_t;

/* Where a call runs: in-region and geographic cross-region profiles
 * (us., eu., apac., ...) are billed at the regional rate, global. profiles
 * at the global one (about 10 % cheaper for newer Claude models). */
typedef enum tg_scope {
        TG_SCOPE_REGIONAL = 0,
        TG_SCOPE_GLOBAL,
        TG_SCOPE_N,
} tg_scope_t;

/* The prices of one tier at one scope. When the model has a long-context
 * threshold, a request whose input (input + cache read + cache write
 * tokens) exceeds it pays `long_context` for every token, output too. */
typedef struct tg_tier_rate {
        int offered; /* 0: this tier/scope does not exist for the model */
        tg_price_t base;
        tg_price_t long_context;
} tg_tier_rate_t;

/* Cross-region profile prefixes a model has (bit i = tg_profile_name(i)). */
#define TG_PROFILE_US     (1u << 0)
#define TG_PROFILE_EU     (1u << 1)
#define TG_PROFILE_APAC   (1u << 2)
#define TG_PROFILE_GLOBAL (1u << 3)
#define TG_PROFILE_LISTED (1u << 8) /* the catalog gave the list */

typedef struct tg_model {
        char *alias;    /* "nova-lite" */
        char *model_id; /* "amazon.nova-lite-v1:0" */
        tg_family_t family;
        int64_t max_output_tokens;
        int64_t message_overhead_tokens; /* per message, for the bound */
        int64_t request_overhead_tokens; /* per request, for the bound */
        /* Default tier, regional: what an old catalog's "price" means and
         * what the worker settles with today (rates[0][0].base). */
        tg_price_t price;
        /* Input tokens above which long-context prices apply; 0 = never. */
        int64_t long_context_above;
        tg_tier_rate_t rates[TG_TIER_N][TG_SCOPE_N];
        unsigned profiles;  /* TG_PROFILE_* bits; 0 = not listed (any) */
        int prompt_caching; /* 1 yes, 0 no, -1 not said (old catalogs) */
} tg_model_t;

typedef struct tg_route {
        tg_tag_t match[8]; /* all must match; strings owned by catalog */
        size_t n_match;
        const tg_model_t *model; /* NULL = any model */
        char *target;            /* model id, profile id or ARN to call */
} tg_route_t;

typedef struct tg_catalog tg_catalog_t;

/* What a request resolves to. Pointers borrow from the catalog. */
typedef struct tg_resolved {
        const tg_model_t *model;
        const char *target; /* what goes in /model/{target}/converse */
} tg_resolved_t;

/* Loads a catalog from a JSON file or string. Returns NULL with errstr. */
tg_catalog_t *tg_catalog_load_file(const char *path, char *errstr,
                                   size_t errstr_size);
tg_catalog_t *tg_catalog_load_string(const char *json, size_t len, char *errstr,
                                     size_t errstr_size);
void tg_catalog_destroy(tg_catalog_t *cat);

const char *tg_catalog_price_version(const tg_catalog_t *cat);
size_t tg_catalog_model_count(const tg_catalog_t *cat);
const tg_model_t *tg_catalog_model_at(const tg_catalog_t *cat, size_t i);

/* Resolves `name` (alias, model id, inference profile id with a us./eu./
 * apac./global. prefix, or application inference profile ARN) and the
 * request's tags to a model and a call target. Returns 0, or -1 with errstr
 * ("unknown model ..."). */
int tg_catalog_resolve(const tg_catalog_t *cat, const char *name,
                       const tg_request_t *req, tg_resolved_t *out,
                       char *errstr, size_t errstr_size);

/* Parses a decimal USD string ("0.06", "15", "0.000000001") into nano-USD.
 * Returns 0 or -1 when malformed, negative, over 9 decimals, or too big. */
int tg_usd_parse_nano(const char *s, int64_t *out);

/* ceil(tokens * nano_per_mtok / 1e6), exact; -1 on overflow. */
int64_t tg_cost_tokens(int64_t tokens, int64_t nano_per_mtok);

/* Tokens of one call. cache_write_tokens is every token written to the
 * cache (Bedrock's cacheWriteInputTokens); cache_write_1h_tokens is the
 * part of it written with the 1-hour TTL (0 when Bedrock gave no split). */
typedef struct tg_usage {
        int64_t input_tokens;
        int64_t output_tokens;
        int64_t cache_read_tokens;
        int64_t cache_write_tokens;
        int64_t cache_write_1h_tokens;
} tg_usage_t;

/* Real cost: each token class rounded up once, then summed. -1 on overflow,
 * or when 1-hour writes are given and the price has no 1-hour rate. */
int64_t tg_cost_usage(const tg_price_t *price, const tg_usage_t *u);

/* The guaranteed upper bound for a request (README.md, "Budgets"):
 * input tokens <= text bytes + overheads, priced at the dearest input class
 * (long-context and 1-hour cache-write rates included); output tokens <=
 * max_tokens or the model maximum. */
typedef struct tg_bound {
        int64_t input_tokens;
        int64_t output_tokens;
        int64_t cost_nano;
} tg_bound_t;
int tg_cost_bound(const tg_model_t *model, const tg_request_t *req,
                  tg_bound_t *out);

/* ---- Tiers, cache TTLs, long context, regional vs global (cost.c,
 * catalog_rates.c). All pure functions of immutable catalog data: any
 * thread may call them. ---- */

/* "priority" | "default" | "flex" -> tier. Returns 0, or -1 when unknown
 * ("standard" is the tier's marketing name, Bedrock's wire value is
 * "default"; both are accepted). */
int tg_tier_parse(const char *s, tg_tier_t *out);
const char *tg_tier_name(tg_tier_t tier);

/* The scope AWS bills a call target at: "global." profiles (bare or in a
 * system inference-profile ARN) are global; model ids, geographic
 * profiles and application inference profile ARNs are regional (for the
 * latter the catalog cannot see what they were copied from; regional is
 * the dearer, safe guess). */
tg_scope_t tg_scope_of_target(const char *target);

/* The rate of a tier at a scope, or NULL when the model does not offer
 * that tier. A model without a separate global price is billed the
 * regional one through global profiles too. */
const tg_tier_rate_t *tg_model_rate(const tg_model_t *m, tg_tier_t tier,
                                    tg_scope_t scope);

/* Whether the long-context prices apply to this usage. */
int tg_cost_is_long_context(const tg_model_t *m, const tg_usage_t *u);

/* What AWS bills for u at a tier and scope: long-context prices when the
 * input passes the model's threshold, 1-hour cache writes at their rate,
 * each token class rounded up once. -1 when the tier is not offered, the
 * split is inconsistent (1 h part above the total), a 1-hour write has no
 * price, or on overflow. */
int64_t tg_cost_usage_at(const tg_model_t *m, tg_tier_t tier, tg_scope_t scope,
                         const tg_usage_t *u);

/* The guaranteed upper bound at a tier and scope: every input token at
 * the dearest input class (input, cache read, 5-minute and 1-hour cache
 * write), using the long-context prices whenever the input bound passes
 * the threshold; output at max_tokens (or the model maximum). Returns 0,
 * or -1 when the tier is not offered or on overflow. tg_cost_bound() is
 * the largest of these over both scopes at the default tier, so it stays
 * an upper bound of tg_cost_usage(&m->price, u) and of tg_cost_usage_at()
 * at the default tier for any target. */
int tg_cost_bound_at(const tg_model_t *m, tg_tier_t tier, tg_scope_t scope,
                     const tg_request_t *req, tg_bound_t *out);

/* ---- A request at a tier (request_check.c, cost.c; docs/operations.md,
 * "Service tiers, prompt caching and request metadata"). Pure functions:
 * any thread. ---- */

/* The tier a request asks for: its service_tier, else the default. */
tg_tier_t tg_request_tier(const tg_request_t *req);

/* Whether the model takes cache points: the catalog says so
 * (promptCaching), or, in a catalog that does not say, it prices cache
 * writes. */
int tg_model_caches(const tg_model_t *m);

/* Whether the model has a separate 1-hour cache-write price at a tier
 * (then Converse's cachePoint may carry ttl). */
int tg_model_cache_1h(const tg_model_t *m, tg_tier_t tier);

/* The request against its model: the tier it asks for is offered, a cache
 * point only on a model with prompt caching, a 1-hour one only where that
 * has a price. Returns 0, or -1 with errstr naming the field and rule (the
 * request is `invalid`: no Bedrock call, nothing charged). */
int tg_request_check_model(const tg_request_t *req, const tg_model_t *m,
                           char *errstr, size_t errstr_size);

/* The tier a call is billed at: the one Bedrock reported serving it at
 * when the model has a price for it, else the one asked for. */
tg_tier_t tg_tier_billed(const tg_model_t *m, tg_tier_t asked, int has_reported,
                         tg_tier_t reported);

/* The reservation at a tier: tg_cost_bound() for the default tier (its
 * values unchanged), else the largest tg_cost_bound_at() over both scopes,
 * so it bounds the cost through any target. -1 when the tier is not
 * offered or on overflow. */
int tg_cost_bound_tier(const tg_model_t *m, tg_tier_t tier,
                       const tg_request_t *req, tg_bound_t *out);

/* What a call costs, at the tier it was served at and the scope of its
 * target (tg_cost_usage_at); a model loaded without rates (tests) is
 * priced with its `price`. -1 as tg_cost_usage_at. */
int64_t tg_cost_settle(const tg_model_t *m, tg_tier_t tier, const char *target,
                       const tg_usage_t *u);

#endif
