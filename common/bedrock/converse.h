/*
 * Bedrock Converse: the request body from a tollgate request, the result
 * from a response body, and the URL path of a call.
 *
 * Pure functions: no I/O, no globals. The worker owns the HTTP transfer
 * (curl multi) and hands the bytes here.
 */
#ifndef TG_BEDROCK_CONVERSE_H
#define TG_BEDROCK_CONVERSE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "request.h"

/* Responses above this are rejected even if the caller's cap is larger. */
#define TG_CONVERSE_BODY_MAX (16 * 1024 * 1024)
/* Token counts and latencies above this are treated as corrupt. */
#define TG_CONVERSE_COUNT_MAX 1000000000LL
/* Nesting deeper than this is not a Converse response. */
#define TG_CONVERSE_DEPTH_MAX 64
/* "/model/" + a target of TG_MODEL_MAX bytes all percent-encoded + "/"
 * + the longest op + NUL: a buffer this big always fits. */
#define TG_BEDROCK_PATH_MAX (7 + 3 * TG_MODEL_MAX + 1 + 8 + 1)

/* Builds the Converse request body for `req` sent to `model`:
 * system messages go to the top-level `system` list, user and assistant
 * messages to `messages` (consecutive same-role messages merged into one
 * message with several text blocks, as Converse wants roles to alternate),
 * and the parameters to `inferenceConfig` / `additionalModelRequestFields`
 * in the model family's form. maxTokens is always sent: the request's
 * max_tokens, else the model's max_output_tokens, so the call is bounded by
 * the same number the reservation was.
 *
 * Returns a NUL-terminated compact JSON string the caller frees with free(),
 * its length in *len_out (may be NULL). Returns NULL with errstr filled when
 * the request cannot be sent as a Converse call (no user message, a first
 * turn that is not user, an empty content: the request is `invalid`) or on
 * out of memory. */
char *tg_converse_build(const tg_request_t *req, const tg_model_t *model,
                        size_t *len_out, char *errstr, size_t errstr_size);

/* What a call adds to the request (docs/operations.md, "Service tiers,
 * prompt caching and request metadata"). */
typedef struct tg_converse_opts {
        tg_tier_t tier; /* the tier to ask for (degradation may lower it) */
        int send_tier;  /* 1: send serviceTier (asked for, or degraded) */
        /* NULL: no requestMetadata; else the requestId it carries */
        const char *request_id;
        int ttl_ok; /* set by the builder: cachePoint may carry ttl */
} tg_converse_opts_t;

/* tg_converse_build with the tier of opts (tg_converse_build sends the
 * request's own, and no metadata) and, when opts->request_id is set,
 * `requestMetadata`: the requestId and the request's tags, within AWS's
 * limits (tg_converse_write_metadata). */
char *tg_converse_build_opts(const tg_request_t *req, const tg_model_t *model,
                             const tg_converse_opts_t *opts, size_t *len_out,
                             char *errstr, size_t errstr_size);

/* RequestMetadata (botocore's bedrock-runtime model): a map of 1-16
 * entries, keys 1-256 and values 0-256 characters of
 * [a-zA-Z0-9\s:_@$#=/+,-.]. Written in this order, each entry only if it
 * fits, until 16: "requestId" (the request's id), the applicationId tag,
 * then the other tags in the request's order; a tag named requestId is
 * left out (the envelope's id wins, as in completion events), and so is
 * any key or value the rules refuse. Never an error. */
struct tg_jsonw;
void tg_converse_write_metadata(struct tg_jsonw *w, const tg_request_t *req,
                                const char *request_id);
#define TG_CONVERSE_METADATA_MAX 16
#define TG_CONVERSE_METADATA_LEN 256

typedef struct tg_converse_result {
        char *text;      /* owned: the text blocks concatenated, NUL ended */
        size_t text_len; /* bytes in text (text may hold NUL bytes) */
        char stop_reason[32]; /* "end_turn", "max_tokens", ... */
        tg_usage_t usage;     /* cache counts 0 when absent */
        /* serviceTier.type of the response: the tier Bedrock used;
         * has_tier 0 when absent or not one tollgate prices */
        tg_tier_t tier;
        int has_tier;
        char tier_name[16]; /* as Bedrock said it (printable), "" if none */
        int64_t latency_ms; /* Bedrock's metrics.latencyMs, 0 if absent */
} tg_converse_result_t;

/* Parses a Converse response body of `len` bytes (need not be
 * NUL-terminated). Strict: a body that is not a well-formed Converse
 * response (no usage, negative or huge counts, duplicate keys, nesting over
 * TG_CONVERSE_DEPTH_MAX, more than TG_CONVERSE_BODY_MAX bytes) is rejected,
 * because settlement must not trust a guess.
 *
 * Non-text content blocks (reasoningContent, toolUse, image...) are skipped.
 * Returns 0 with *out filled (free with tg_converse_result_free), or -1 with
 * errstr filled and *out zeroed (nothing to free, freeing is harmless). */
int tg_converse_parse(const char *body, size_t len, tg_converse_result_t *out,
                      char *errstr, size_t errstr_size);

/* What the call costs (docs/operations.md, "Service tiers, prompt caching
 * and request metadata"): its usage at the tier Bedrock reports serving it
 * at (tg_tier_billed: the one asked for when it reports none we price) and
 * the scope of the target. Returns 0 with *cost, or -1 with errstr when the
 * usage cannot be priced: 1-hour cache writes on a model with no 1-hour
 * price at that tier (settlement does not guess a rate). */
int tg_converse_price(const tg_converse_result_t *r, const tg_model_t *m,
                      tg_tier_t asked, const char *target, int64_t *cost,
                      char *errstr, size_t errstr_size);

/* Frees what tg_converse_parse put in r and zeroes it. NULL is fine. */
void tg_converse_result_free(tg_converse_result_t *r);

#endif
