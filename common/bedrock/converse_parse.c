/*
 * The Converse response: text, stop reason, usage, latency.
 *
 * Response shape (ConverseResponse, TokenUsage, ConverseMetrics):
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 * The usage drives settlement, so anything that is not exactly a count is
 * refused rather than guessed at.
 *
 * Read with common/jsonr.c (strict, no tree) rather than jansson, which cost
 * 84 k instructions a response (RESULTS.md, F9); the old jansson parser is
 * the oracle of tests/unit/test_converse_oracle.c and the fuzz target, which
 * hold this one to the same verdicts, results and error words.
 */
#include "converse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonr.h"
#include "errfmt.h"

/* A count in 0..TG_CONVERSE_COUNT_MAX at v; absent (v NULL) is 0 unless
 * required. */
static int get_count(const char *end, const char *v, const char *where,
                     const char *key, int required, int64_t *out, char *errstr,
                     size_t size)
{
        *out = 0;
        if (!v && !required)
                return 0;
        if (!v)
                return tg_errf(errstr, size, "%s.%s: missing", where, key);
        if (!tg_jsonr_int(v, end, out) || *out < 0 ||
            *out > TG_CONVERSE_COUNT_MAX) {
                *out = 0;
                return tg_errf(errstr, size,
                               "%s.%s: must be an integer from 0 to %lld",
                               where, key, TG_CONVERSE_COUNT_MAX);
        }
        return 0;
}

/* usage.cacheDetails: [{"ttl": "5m" | "1h", "inputTokens": N}], the cache
 * writes split by time to live (CacheDetailsList in botocore's model).
 * The 1-hour part is priced apart, so a TTL we cannot price, or parts
 * that add up to more than cacheWriteInputTokens, refuse the response. */
static int parse_cache_details(const char *end, const char *d, tg_usage_t *u,
                               char *errstr, size_t size)
{
        int64_t sum = 0, n;
        size_t i = 0;

        if (!d)
                return 0;
        if (*d != '[')
                return tg_errf(errstr, size, "usage.cacheDetails: not a list");
        for (const char *e = tg_jsonr_first(d, end); e;
             e = tg_jsonr_next(e, end), i++) {
                const char *ttl = tg_jsonr_get(e, end, "ttl");
                char t[64]; /* a raw ttl this long unescapes to 11+ */
                size_t tl = 0;

                if (*e == '{' && ttl && *ttl == '"' &&
                    tg_jsonr_raw_len(ttl, end) < sizeof(t))
                        tl = tg_jsonr_str(ttl, end, t);
                else
                        tl = sizeof(t);
                if (tl >= 8)
                        return tg_errf(errstr, size,
                                       "usage.cacheDetails[%zu]: needs a ttl "
                                       "of 5m or 1h",
                                       i);
                t[tl] = '\0';
                if (strcmp(t, "5m") != 0 && strcmp(t, "1h") != 0)
                        return tg_errf(errstr, size,
                                       "usage.cacheDetails[%zu].ttl: must be "
                                       "5m or 1h",
                                       i);
                if (get_count(end, tg_jsonr_get(e, end, "inputTokens"),
                              "usage.cacheDetails", "inputTokens", 1, &n,
                              errstr, size))
                        return -1;
                sum += n;
                if (t[1] == 'h')
                        u->cache_write_1h_tokens += n;
                if (sum > u->cache_write_tokens)
                        return tg_errf(errstr, size,
                                       "usage.cacheDetails: more tokens than "
                                       "cacheWriteInputTokens");
        }
        return 0;
}

static int parse_usage(const char *end, const char *usage, tg_usage_t *u,
                       char *errstr, size_t size)
{
        static const char *const keys[] = {
            "inputTokens",          "outputTokens",          "totalTokens",
            "cacheReadInputTokens", "cacheWriteInputTokens", "cacheDetails"};
        int64_t *out[] = {&u->input_tokens, &u->output_tokens, NULL,
                          &u->cache_read_tokens, &u->cache_write_tokens};
        const char *v[6];
        int64_t total;

        if (!usage || *usage != '{')
                return tg_errf(errstr, size, "usage: missing or not an object");
        tg_jsonr_fields(usage, end, keys, 6, v);
        for (int i = 0; i < 5; i++)
                if (get_count(end, v[i], "usage", keys[i], i < 3,
                              out[i] ? out[i] : &total, errstr, size))
                        return -1;
        return parse_cache_details(end, v[5], u, errstr, size);
}

/* serviceTier: {"type": "..."}, the tier Bedrock served the call at.
 * Lenient like stopReason: a label we do not know (or none) leaves
 * has_tier 0, and settlement uses the tier that was asked for. */
static void parse_tier(const char *end, const char *v,
                       tg_converse_result_t *out)
{
        const char *t = v && *v == '{' ? tg_jsonr_get(v, end, "type") : NULL;
        char buf[sizeof(out->tier_name)];
        size_t n, i;

        if (!t || *t != '"' || tg_jsonr_raw_len(t, end) >= sizeof(buf))
                return;
        n = tg_jsonr_str(t, end, buf);
        for (i = 0; i < n; i++)
                out->tier_name[i] =
                    (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
        out->tier_name[i] = '\0';
        out->has_tier = tg_tier_parse(out->tier_name, &out->tier) == 0 &&
                        strcmp(out->tier_name, "standard") != 0;
}

static int parse_metrics(const char *end, const char *metrics,
                         int64_t *latency_ms, char *errstr, size_t size)
{
        *latency_ms = 0;
        if (!metrics)
                return 0;
        if (*metrics != '{')
                return tg_errf(errstr, size, "metrics: must be an object");
        return get_count(end, tg_jsonr_get(metrics, end, "latencyMs"),
                         "metrics", "latencyMs", 0, latency_ms, errstr, size);
}

/* Required, but copied leniently: the call has been billed by now, and a
 * stop reason newer or longer than the ones known today is no reason to
 * throw the answer away. Bytes outside printable ASCII become '?', so the
 * truncated copy is always valid UTF-8 for the events. */
static int parse_stop(const char *end, const char *v, char *out,
                      size_t out_size, char *errstr, size_t size)
{
        char small[256], *buf = small;
        size_t raw, n, i;

        if (!v || *v != '"')
                return tg_errf(errstr, size,
                               "stopReason: missing or not a string");
        raw = tg_jsonr_raw_len(v, end);
        if (raw > sizeof(small) && !(buf = malloc(raw)))
                return tg_errf(errstr, size, "out of memory");
        n = tg_jsonr_str(v, end, buf);
        for (i = 0; i < n && i + 1 < out_size; i++)
                out[i] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
        out[i] = '\0';
        if (buf != small)
                free(buf);
        return 0;
}

/* Checks the content blocks and sums the raw lengths of their texts,
 * which bound the unescaped ones. */
static int text_bound(const char *end, const char *content, size_t *total,
                      char *errstr, size_t size)
{
        size_t i = 0;

        *total = 0;
        for (const char *b = tg_jsonr_first(content, end); b;
             b = tg_jsonr_next(b, end), i++) {
                const char *t = tg_jsonr_get(b, end, "text");

                if (*b != '{')
                        return tg_errf(errstr, size,
                                       "output.message.content[%zu]: not an "
                                       "object",
                                       i);
                if (t && *t != '"')
                        return tg_errf(errstr, size,
                                       "output.message.content[%zu].text: not "
                                       "a string",
                                       i);
                *total += t ? tg_jsonr_raw_len(t, end) : 0;
        }
        return 0;
}

/* Concatenates the text blocks. Reasoning, tool use and media blocks carry
 * no answer text; their tokens are already in usage. */
static int parse_text(const char *end, const char *output,
                      tg_converse_result_t *out, char *errstr, size_t size)
{
        const char *msg = tg_jsonr_get(output, end, "message");
        const char *content = tg_jsonr_get(msg, end, "content");
        size_t total, at = 0;

        if (!content || *content != '[')
                return tg_errf(errstr, size,
                               "output.message.content: missing or not an "
                               "array");
        if (text_bound(end, content, &total, errstr, size))
                return -1;
        out->text = malloc(total + 1);
        if (!out->text)
                return tg_errf(errstr, size, "out of memory");
        for (const char *b = tg_jsonr_first(content, end); b;
             b = tg_jsonr_next(b, end)) {
                const char *t = tg_jsonr_get(b, end, "text");

                if (t)
                        at += tg_jsonr_str(t, end, out->text + at);
        }
        out->text[at] = '\0';
        out->text_len = at;
        return 0;
}

int tg_converse_parse(const char *body, size_t len, tg_converse_result_t *out,
                      char *errstr, size_t errstr_size)
{
        static const char *const root_keys[] = {
            "usage", "metrics", "stopReason", "output", "serviceTier"};
        char jerr[160];
        const char *root, *end, *v[5];
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (!body || len > TG_CONVERSE_BODY_MAX) {
                tg_errf(errstr, errstr_size, "response: empty or over %d bytes",
                        TG_CONVERSE_BODY_MAX);
                goto err;
        }
        switch (tg_jsonr_check(body, len, TG_CONVERSE_DEPTH_MAX, 1, jerr,
                               sizeof(jerr))) {
        case 0:
                break;
        case -2:
                tg_errf(errstr, errstr_size, "response: nested deeper than %d",
                        TG_CONVERSE_DEPTH_MAX);
                goto err;
        default:
                tg_errf(errstr, errstr_size, "response: not a JSON object: %s",
                        jerr);
                goto err;
        }
        end = body + len;
        root = tg_jsonr_root(body, end);
        if (*root != '{') {
                tg_errf(errstr, errstr_size, "response: not a JSON object");
                goto err;
        }
        tg_jsonr_fields(root, end, root_keys, 5, v);
        if (parse_usage(end, v[0], &out->usage, errstr, errstr_size) ||
            parse_metrics(end, v[1], &out->latency_ms, errstr, errstr_size) ||
            parse_stop(end, v[2], out->stop_reason, sizeof(out->stop_reason),
                       errstr, errstr_size) ||
            parse_text(end, v[3], out, errstr, errstr_size))
                goto err;
        parse_tier(end, v[4], out);
        rc = 0;
err:
        if (rc)
                tg_converse_result_free(out);
        return rc;
}

void tg_converse_result_free(tg_converse_result_t *r)
{
        if (!r)
                return;
        free(r->text);
        memset(r, 0, sizeof(*r));
}
