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

typedef struct tg_price {
        int64_t input;       /* nano-USD per 1M input tokens */
        int64_t output;      /* nano-USD per 1M output tokens */
        int64_t cache_read;  /* nano-USD per 1M cache-read input tokens */
        int64_t cache_write; /* nano-USD per 1M cache-write input tokens */
} tg_price_t;

typedef struct tg_model {
        char *alias;    /* "nova-lite" */
        char *model_id; /* "amazon.nova-lite-v1:0" */
        tg_family_t family;
        int64_t max_output_tokens;
        int64_t message_overhead_tokens; /* per message, for the bound */
        int64_t request_overhead_tokens; /* per request, for the bound */
        tg_price_t price;
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

typedef struct tg_usage {
        int64_t input_tokens;
        int64_t output_tokens;
        int64_t cache_read_tokens;
        int64_t cache_write_tokens;
} tg_usage_t;

/* Real cost: each token class rounded up once, then summed. -1 on overflow. */
int64_t tg_cost_usage(const tg_price_t *price, const tg_usage_t *u);

/* The guaranteed upper bound for a request (DESIGN.md, "Money and tokens"):
 * input tokens <= text bytes + overheads, priced at the dearer of input and
 * cache-write; output tokens <= max_tokens or the model maximum. */
typedef struct tg_bound {
        int64_t input_tokens;
        int64_t output_tokens;
        int64_t cost_nano;
} tg_bound_t;
int tg_cost_bound(const tg_model_t *model, const tg_request_t *req,
                  tg_bound_t *out);

#endif
