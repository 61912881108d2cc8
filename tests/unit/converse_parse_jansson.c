/*
 * The oracle: tg_converse_parse as it was on jansson, before
 * common/jsonr.c replaced the tree (kept verbatim but for its name). The
 * unit test and the Converse fuzz target hold the new parser to it: same
 * verdict on every body, same result, same words for every error after
 * the syntax.
 *
 * The Converse response: text, stop reason, usage, latency.
 *
 * Response shape (ConverseResponse, TokenUsage, ConverseMetrics):
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 * The usage drives settlement, so anything that is not exactly a count is
 * refused rather than guessed at.
 */
#include "bedrock/converse.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgjson.h"

/* Errors about the text itself: each parser words them its own way (and
 * this one checks the depth before the syntax, jsonr as it reads), so the
 * comparisons only ask that both are of this kind. */
static inline int oj_syntax_class(const char *e)
{
        return strncmp(e, "response: not a JSON object", 27) == 0 ||
               strncmp(e, "response: nested deeper", 23) == 0;
}

int tg_converse_parse_jansson(const char *body, size_t len,
                              tg_converse_result_t *out, char *errstr,
                              size_t errstr_size);

static int oj_fail(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int oj_fail(char *errstr, size_t size, const char *fmt, ...)
{
        va_list ap;

        if (errstr && size) {
                va_start(ap, fmt);
                vsnprintf(errstr, size, fmt, ap);
                va_end(ap);
        }
        return -1;
}

/* A count in 0..TG_CONVERSE_COUNT_MAX; absent is 0 unless required. */
static int oj_get_count(json_t *obj, const char *where, const char *key,
                        int required, int64_t *out, char *errstr, size_t size)
{
        json_t *v = json_object_get(obj, key);

        *out = 0;
        if (!v && !required)
                return 0;
        if (!v)
                return oj_fail(errstr, size, "%s.%s: missing", where, key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > TG_CONVERSE_COUNT_MAX)
                return oj_fail(errstr, size,
                               "%s.%s: must be an integer from 0 to %lld",
                               where, key, TG_CONVERSE_COUNT_MAX);
        *out = json_integer_value(v);
        return 0;
}

/* Added with usage.cacheDetails (docs/operations.md, "Service tiers,
 * prompt caching and request metadata"), in the oracle's style. */
static int oj_parse_cache_details(json_t *d, tg_usage_t *u, char *errstr,
                                  size_t size)
{
        int64_t sum = 0, n;
        size_t i;
        json_t *e;

        if (!d)
                return 0;
        if (!json_is_array(d))
                return oj_fail(errstr, size, "usage.cacheDetails: not a list");
        json_array_foreach(d, i, e)
        {
                const char *t = json_string_value(json_object_get(e, "ttl"));

                if (!json_is_object(e) || !t ||
                    json_string_length(json_object_get(e, "ttl")) >= 8)
                        return oj_fail(errstr, size,
                                       "usage.cacheDetails[%zu]: needs a ttl "
                                       "of 5m or 1h",
                                       i);
                if (strcmp(t, "5m") != 0 && strcmp(t, "1h") != 0)
                        return oj_fail(errstr, size,
                                       "usage.cacheDetails[%zu].ttl: must be "
                                       "5m or 1h",
                                       i);
                if (oj_get_count(e, "usage.cacheDetails", "inputTokens", 1, &n,
                                 errstr, size))
                        return -1;
                sum += n;
                if (t[1] == 'h')
                        u->cache_write_1h_tokens += n;
                if (sum > u->cache_write_tokens)
                        return oj_fail(errstr, size,
                                       "usage.cacheDetails: more tokens than "
                                       "cacheWriteInputTokens");
        }
        return 0;
}

static int oj_parse_usage(json_t *root, tg_usage_t *u, char *errstr,
                          size_t size)
{
        json_t *usage = json_object_get(root, "usage");
        int64_t total;

        if (!json_is_object(usage))
                return oj_fail(errstr, size, "usage: missing or not an object");
        if (oj_get_count(usage, "usage", "inputTokens", 1, &u->input_tokens,
                         errstr, size) ||
            oj_get_count(usage, "usage", "outputTokens", 1, &u->output_tokens,
                         errstr, size) ||
            oj_get_count(usage, "usage", "totalTokens", 1, &total, errstr,
                         size) ||
            oj_get_count(usage, "usage", "cacheReadInputTokens", 0,
                         &u->cache_read_tokens, errstr, size) ||
            oj_get_count(usage, "usage", "cacheWriteInputTokens", 0,
                         &u->cache_write_tokens, errstr, size))
                return -1;
        return oj_parse_cache_details(json_object_get(usage, "cacheDetails"), u,
                                      errstr, size);
}

static int oj_parse_metrics(json_t *root, int64_t *latency_ms, char *errstr,
                            size_t size)
{
        json_t *metrics = json_object_get(root, "metrics");

        *latency_ms = 0;
        if (!metrics)
                return 0;
        if (!json_is_object(metrics))
                return oj_fail(errstr, size, "metrics: must be an object");
        return oj_get_count(metrics, "metrics", "latencyMs", 0, latency_ms,
                            errstr, size);
}

/* Required, but copied leniently: the call has been billed by now, and a
 * stop reason newer or longer than the ones known today is no reason to
 * throw the answer away. Bytes outside printable ASCII become '?', so the
 * truncated copy is always valid UTF-8 for the events. */
static int oj_parse_stop(json_t *root, char *out, size_t out_size, char *errstr,
                         size_t size)
{
        json_t *v = json_object_get(root, "stopReason");
        const char *s = json_string_value(v);
        size_t i;

        if (!json_is_string(v))
                return oj_fail(errstr, size,
                               "stopReason: missing or not a string");
        for (i = 0; s[i] && i + 1 < out_size; i++)
                out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        out[i] = '\0';
        return 0;
}

/* Sum of the text blocks' lengths; -1 when a block is malformed. */
static int oj_text_length(json_t *content, size_t *total, char *errstr,
                          size_t size)
{
        size_t i;
        json_t *block;

        *total = 0;
        json_array_foreach(content, i, block)
        {
                json_t *t = json_object_get(block, "text");

                if (!json_is_object(block))
                        return oj_fail(errstr, size,
                                       "output.message.content[%zu]: not an "
                                       "object",
                                       i);
                if (t && !json_is_string(t))
                        return oj_fail(errstr, size,
                                       "output.message.content[%zu].text: not "
                                       "a string",
                                       i);
                *total += t ? json_string_length(t) : 0;
        }
        return 0;
}

/* Concatenates the text blocks. Reasoning, tool use and media blocks carry
 * no answer text; their tokens are already in usage. */
static int oj_parse_text(json_t *root, tg_converse_result_t *out, char *errstr,
                         size_t size)
{
        json_t *msg =
            json_object_get(json_object_get(root, "output"), "message");
        json_t *content = json_object_get(msg, "content"), *block;
        size_t i, total, at = 0;

        if (!json_is_array(content))
                return oj_fail(errstr, size,
                               "output.message.content: missing or not an "
                               "array");
        if (oj_text_length(content, &total, errstr, size))
                return -1;
        out->text = malloc(total + 1);
        if (!out->text)
                return oj_fail(errstr, size, "out of memory");
        json_array_foreach(content, i, block)
        {
                json_t *t = json_object_get(block, "text");

                if (!t)
                        continue;
                memcpy(out->text + at, json_string_value(t),
                       json_string_length(t));
                at += json_string_length(t);
        }
        out->text[at] = '\0';
        out->text_len = at;
        return 0;
}

int tg_converse_parse_jansson(const char *body, size_t len,
                              tg_converse_result_t *out, char *errstr,
                              size_t errstr_size)
{
        json_error_t jerr;
        json_t *root = NULL;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (!body || len > TG_CONVERSE_BODY_MAX) {
                oj_fail(errstr, errstr_size, "response: empty or over %d bytes",
                        TG_CONVERSE_BODY_MAX);
                goto err;
        }
        if (!tg_json_depth_ok(body, len, TG_CONVERSE_DEPTH_MAX)) {
                oj_fail(errstr, errstr_size, "response: nested deeper than %d",
                        TG_CONVERSE_DEPTH_MAX);
                goto err;
        }
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(root)) {
                oj_fail(errstr, errstr_size, "response: not a JSON object%s%s",
                        root ? "" : ": ", root ? "" : jerr.text);
                goto err;
        }
        if (oj_parse_usage(root, &out->usage, errstr, errstr_size) ||
            oj_parse_metrics(root, &out->latency_ms, errstr, errstr_size) ||
            oj_parse_stop(root, out->stop_reason, sizeof(out->stop_reason),
                          errstr, errstr_size) ||
            oj_parse_text(root, out, errstr, errstr_size))
                goto err;
        rc = 0;
err:
        json_decref(root);
        if (rc)
                tg_converse_result_free(out);
        return rc;
}
