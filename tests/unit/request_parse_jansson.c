/*
 * The oracle: tg_request_parse as it was on jansson, before common/jsonr.c
 * replaced the tree, over the request struct of then (oq_request_t, with its
 * json_t root). Kept as it was but for the names; the unit test and the
 * request fuzz target hold the new parser to it.
 *
 * Request parsing and validation. The rules are README.md's ("Submitting
 * requests"); the error texts are what a pipeline owner reads in a completion
 * event or at submit time, so each names the field and the rule.
 */
#include "request.h"

#include <jansson.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgjson.h"
#include "tgtime.h"

/* The request as the jansson parser filled it. */
typedef struct oq_request {
        json_t *root; /* owned */
        char request_id[TG_REQUEST_ID_MAX + 1];
        char timestamp[40]; /* empty when absent */
        const char *model;
        tg_message_t *messages; /* owned array */
        size_t n_messages;
        tg_params_t params;
        tg_tag_t tags[TG_TAGS_MAX];
        size_t n_tags;
        size_t text_bytes; /* UTF-8 bytes of all message contents */
        size_t n_cache_points;
} oq_request_t;

static const char *oq_request_tag(const oq_request_t *req, const char *key)
{
        for (size_t i = 0; i < req->n_tags; i++)
                if (strcmp(req->tags[i].key, key) == 0)
                        return req->tags[i].value;
        return NULL;
}

static void oq_request_destroy(oq_request_t *req)
{
        json_decref(req->root);
        free(req->messages);
        memset(req, 0, sizeof(*req));
}

tg_parse_result_t tg_request_parse_jansson(oq_request_t *req, const char *buf,
                                           size_t len, size_t max_size,
                                           char *errstr, size_t errstr_size);

static int oq_fail(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int oq_fail(char *errstr, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
        tg_utf8_sanitize(errstr);
        return -1;
}

static int oq_parse_tags(oq_request_t *req, json_t *tags, char *errstr,
                         size_t size)
{
        const char *key;
        json_t *val;

        if (!json_is_object(tags))
                return oq_fail(errstr, size,
                               "tags: required, must be an object");
        if (json_object_size(tags) > TG_TAGS_MAX)
                return oq_fail(errstr, size, "tags: at most %d tags, got %zu",
                               TG_TAGS_MAX, json_object_size(tags));
        json_object_foreach(tags, key, val)
        {
                if (!json_is_string(val))
                        return oq_fail(errstr, size,
                                       "tags.%.64s: value must be a string",
                                       key);
                if (tg_tag_check(key, json_string_value(val), errstr, size))
                        return -1;
                req->tags[req->n_tags].key = key;
                req->tags[req->n_tags].value = json_string_value(val);
                req->n_tags++;
        }
        const char *app = oq_request_tag(req, "applicationId");
        if (!app || !*app)
                return oq_fail(errstr, size,
                               "tags.applicationId: required, non-empty");
        return 0;
}

static int oq_parse_role(const char *s, tg_role_t *out)
{
        if (strcmp(s, "user") == 0)
                *out = TG_ROLE_USER;
        else if (strcmp(s, "assistant") == 0)
                *out = TG_ROLE_ASSISTANT;
        else if (strcmp(s, "system") == 0)
                *out = TG_ROLE_SYSTEM;
        else
                return -1;
        return 0;
}

/* Added with the cachePoint extension (docs/operations.md, "Service
 * tiers, prompt caching and request metadata"), in the oracle's style. */
static int oq_parse_cache(oq_request_t *req, size_t i, json_t *c,
                          tg_cache_ttl_t *out, char *errstr, size_t size)
{
        json_t *ttl = json_object_get(c, "ttl");
        const char *t = json_string_value(ttl);

        if (!json_is_object(c) || json_object_size(c) != (ttl ? 1u : 0u) ||
            (ttl && (!t || (strcmp(t, "5m") != 0 && strcmp(t, "1h") != 0))))
                return oq_fail(errstr, size,
                               "prompt.messages[%zu].cachePoint: must be an "
                               "object with an optional ttl of \"5m\" or "
                               "\"1h\"",
                               i);
        if (++req->n_cache_points > TG_CACHE_POINTS_MAX)
                return oq_fail(errstr, size,
                               "prompt.messages[%zu].cachePoint: at most %d "
                               "cache points a request",
                               i, TG_CACHE_POINTS_MAX);
        *out = !ttl              ? TG_CACHE_DEFAULT
               : strcmp(t, "5m") ? TG_CACHE_1H
                                 : TG_CACHE_5M;
        return 0;
}

static int oq_parse_message(oq_request_t *req, size_t i, json_t *m,
                            char *errstr, size_t size)
{
        json_t *role = json_object_get(m, "role");
        json_t *content = json_object_get(m, "content");
        tg_message_t *msg = &req->messages[i];

        if (!json_is_object(m))
                return oq_fail(errstr, size,
                               "prompt.messages[%zu]: must be an object", i);
        if (!json_is_string(role) ||
            oq_parse_role(json_string_value(role), &msg->role))
                return oq_fail(errstr, size,
                               "prompt.messages[%zu].role: must be one of "
                               "system, user, assistant",
                               i);
        if (!json_is_string(content) || json_string_length(content) == 0)
                return oq_fail(errstr, size,
                               "prompt.messages[%zu].content: required, a "
                               "non-empty string",
                               i);
        if (json_object_size(m) != (json_object_get(m, "cachePoint") ? 3u : 2u))
                return oq_fail(errstr, size,
                               "prompt.messages[%zu]: only role, content and "
                               "cachePoint are allowed",
                               i);
        if (json_object_get(m, "cachePoint") &&
            oq_parse_cache(req, i, json_object_get(m, "cachePoint"),
                           &msg->cache, errstr, size))
                return -1;
        msg->content = json_string_value(content);
        msg->content_len = json_string_length(content);
        req->text_bytes += msg->content_len;
        return 0;
}

static int oq_check_turns(const oq_request_t *req, char *errstr, size_t size)
{
        for (size_t i = 0; i < req->n_messages; i++) {
                if (req->messages[i].role == TG_ROLE_SYSTEM)
                        continue;
                if (req->messages[i].role != TG_ROLE_USER)
                        return oq_fail(errstr, size,
                                       "prompt.messages[%zu].role: the first "
                                       "non-system message must be user",
                                       i);
                return 0;
        }
        return oq_fail(errstr, size,
                       "prompt.messages: needs at least one user message");
}

static int oq_parse_messages(oq_request_t *req, json_t *msgs, char *errstr,
                             size_t size)
{
        size_t n = json_array_size(msgs);

        if (!json_is_array(msgs) || n == 0)
                return oq_fail(errstr, size,
                               "prompt.messages: required, a non-empty array");
        if (n > TG_MESSAGES_MAX)
                return oq_fail(errstr, size,
                               "prompt.messages: at most %d messages, got %zu",
                               TG_MESSAGES_MAX, n);
        req->messages = calloc(n, sizeof(*req->messages));
        if (!req->messages)
                return oq_fail(errstr, size, "out of memory");
        req->n_messages = n;
        for (size_t i = 0; i < n; i++)
                if (oq_parse_message(req, i, json_array_get(msgs, i), errstr,
                                     size))
                        return -1;
        return oq_check_turns(req, errstr, size);
}

static int oq_get_int(json_t *v, const char *name, int64_t min, int64_t max,
                      int64_t *out, char *errstr, size_t size)
{
        if (!json_is_integer(v) || json_integer_value(v) < min ||
            json_integer_value(v) > max)
                return oq_fail(errstr, size,
                               "prompt.parameters.%s: must be an integer from "
                               "%lld to %lld",
                               name, (long long)min, (long long)max);
        *out = json_integer_value(v);
        return 0;
}

static int oq_get_unit(json_t *v, const char *name, double *out, char *errstr,
                       size_t size)
{
        double d = json_number_value(v);

        if (!json_is_number(v) || !isfinite(d) || d < 0.0 || d > 1.0)
                return oq_fail(errstr, size,
                               "prompt.parameters.%s: must be a number from 0 "
                               "to 1",
                               name);
        *out = d;
        return 0;
}

static int oq_parse_param(oq_request_t *req, const char *key, json_t *v,
                          char *errstr, size_t size)
{
        tg_params_t *p = &req->params;

        if (strcmp(key, "max_tokens") == 0)
                return oq_get_int(v, key, 1, 1000000, &p->max_tokens, errstr,
                                  size);
        if (strcmp(key, "top_k") == 0)
                return oq_get_int(v, key, 1, 500, &p->top_k, errstr, size);
        if (strcmp(key, "temperature") == 0) {
                p->has_temperature = 1;
                return oq_get_unit(v, key, &p->temperature, errstr, size);
        }
        if (strcmp(key, "top_p") == 0) {
                p->has_top_p = 1;
                return oq_get_unit(v, key, &p->top_p, errstr, size);
        }
        if (strcmp(key, "service_tier") == 0) {
                const char *t = json_string_value(v);
                static const char *const names[TG_TIER_N] = {
                    "default", "priority", "flex"};
                for (int i = 0; t && i < TG_TIER_N; i++)
                        if (strcmp(t, names[i]) == 0 &&
                            strlen(names[i]) == json_string_length(v)) {
                                p->service_tier = (tg_tier_t)i;
                                p->has_service_tier = 1;
                                return 0;
                        }
                return oq_fail(errstr, size,
                               "prompt.parameters.service_tier: must be one "
                               "of priority, default, flex");
        }
        return oq_fail(errstr, size,
                       "prompt.parameters.%.64s: unknown parameter (allowed: "
                       "max_tokens, temperature, top_p, top_k, service_tier)",
                       key);
}

static int oq_parse_prompt(oq_request_t *req, json_t *prompt, char *errstr,
                           size_t size)
{
        json_t *params, *v;
        const char *key;

        if (!json_is_object(prompt))
                return oq_fail(errstr, size, "prompt: required, an object");
        if (oq_parse_messages(req, json_object_get(prompt, "messages"), errstr,
                              size))
                return -1;
        params = json_object_get(prompt, "parameters");
        if (!params)
                return 0;
        if (!json_is_object(params))
                return oq_fail(errstr, size,
                               "prompt.parameters: must be an object");
        json_object_foreach(params, key, v)
        {
                if (oq_parse_param(req, key, v, errstr, size))
                        return -1;
        }
        return 0;
}

static int oq_parse_envelope(oq_request_t *req, char *errstr, size_t size)
{
        json_t *id = json_object_get(req->root, "requestId");
        json_t *ts = json_object_get(req->root, "timestamp");
        int64_t us;

        if (id) {
                if (!json_is_string(id) ||
                    !tg_request_id_valid(json_string_value(id),
                                         json_string_length(id)))
                        return oq_fail(errstr, size,
                                       "requestId: must be 1-%d characters of "
                                       "[A-Za-z0-9._:-]",
                                       TG_REQUEST_ID_MAX);
                memcpy(req->request_id, json_string_value(id),
                       json_string_length(id) + 1);
        }
        if (ts) {
                if (!json_is_string(ts) ||
                    json_string_length(ts) >= sizeof(req->timestamp) ||
                    tg_time_parse_rfc3339(json_string_value(ts), &us))
                        return oq_fail(errstr, size,
                                       "timestamp: must be RFC 3339 UTC, e.g. "
                                       "2026-11-27T10:00:00Z");
                memcpy(req->timestamp, json_string_value(ts),
                       json_string_length(ts) + 1);
        }
        return 0;
}

static int oq_check_fields(json_t *root, char *errstr, size_t size)
{
        static const char *allowed[] = {"requestId", "timestamp", "model",
                                        "prompt", "tags"};
        const char *key;
        json_t *v;

        json_object_foreach(root, key, v)
        {
                size_t i;
                for (i = 0; i < 5; i++)
                        if (strcmp(key, allowed[i]) == 0)
                                break;
                if (i == 5)
                        return oq_fail(errstr, size,
                                       "%.64s: unknown field (allowed: "
                                       "requestId, timestamp, model, prompt, "
                                       "tags)",
                                       key);
        }
        return 0;
}

static int oq_parse_model(oq_request_t *req, char *errstr, size_t size)
{
        json_t *m = json_object_get(req->root, "model");
        size_t n = json_string_length(m);

        if (!json_is_string(m) || n == 0 || n > TG_MODEL_MAX)
                return oq_fail(errstr, size,
                               "model: required, a catalog alias, model id or "
                               "inference profile");
        req->model = json_string_value(m);
        return 0;
}

static int oq_validate(oq_request_t *req, char *errstr, size_t size)
{
        char tag_err[256];

        /* A bad envelope is reported first, but the tags are read anyway:
         * an invalid request's events still need them for charge-back. */
        if (oq_parse_envelope(req, errstr, size)) {
                oq_parse_tags(req, json_object_get(req->root, "tags"), tag_err,
                              sizeof(tag_err));
                return -1;
        }
        if (oq_parse_tags(req, json_object_get(req->root, "tags"), errstr,
                          size))
                return -1;
        if (oq_check_fields(req->root, errstr, size))
                return -1;
        if (oq_parse_model(req, errstr, size))
                return -1;
        return oq_parse_prompt(req, json_object_get(req->root, "prompt"),
                               errstr, size);
}

tg_parse_result_t tg_request_parse_jansson(oq_request_t *req, const char *buf,
                                           size_t len, size_t max_size,
                                           char *errstr, size_t errstr_size)
{
        json_error_t jerr;

        memset(req, 0, sizeof(*req));
        if (!max_size)
                max_size = TG_REQUEST_SIZE_DEFAULT;
        if (!tg_json_depth_ok(buf, len, TG_JSON_DEPTH_MAX)) {
                oq_fail(errstr, errstr_size, "JSON nested deeper than %d",
                        TG_JSON_DEPTH_MAX);
                return TG_PARSE_NOT_JSON;
        }
        req->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!req->root || !json_is_object(req->root)) {
                oq_fail(errstr, errstr_size, "not a JSON object: %s",
                        req->root ? "top level is not an object" : jerr.text);
                json_decref(req->root);
                req->root = NULL;
                return TG_PARSE_NOT_JSON;
        }
        if (oq_validate(req, errstr, errstr_size))
                return TG_PARSE_INVALID;
        if (len > max_size) {
                oq_fail(errstr, errstr_size,
                        "request is %zu bytes, over the %zu-byte limit", len,
                        max_size);
                return TG_PARSE_INVALID;
        }
        return TG_PARSE_OK;
}

/* Errors about the text itself: each parser words them its own way (and
 * this one checks the depth before the syntax, jsonr as it reads). */
static inline int oq_syntax_class(const char *e)
{
        return strncmp(e, "not a JSON object", 17) == 0 ||
               strncmp(e, "JSON nested deeper", 18) == 0;
}

/* 1 when the new parser's outcome (a, ra, ea) is this one's: the same
 * verdict, the same words but for errors about the text itself, the same
 * envelope and tags (what the events of an invalid request carry), and on
 * success everything. */
static inline int oq_same(const tg_request_t *a, int ra, const char *ea,
                          const oq_request_t *b, int rb, const char *eb)
{
        if (ra != rb)
                return 0;
        if (ra == TG_PARSE_NOT_JSON)
                return oq_syntax_class(ea) && oq_syntax_class(eb);
        if (strcmp(ea, eb) || strcmp(a->request_id, b->request_id) ||
            strcmp(a->timestamp, b->timestamp) || a->n_tags != b->n_tags)
                return 0;
        for (size_t i = 0; i < a->n_tags; i++)
                if (strcmp(a->tags[i].key, b->tags[i].key) ||
                    strcmp(a->tags[i].value, b->tags[i].value))
                        return 0;
        if (ra != TG_PARSE_OK)
                return 1;
        if (strcmp(a->model, b->model) || a->n_messages != b->n_messages ||
            a->text_bytes != b->text_bytes ||
            a->params.max_tokens != b->params.max_tokens ||
            a->params.top_k != b->params.top_k ||
            a->params.has_temperature != b->params.has_temperature ||
            a->params.has_top_p != b->params.has_top_p ||
            (a->params.has_temperature &&
             a->params.temperature != b->params.temperature) ||
            (a->params.has_top_p && a->params.top_p != b->params.top_p) ||
            a->params.has_service_tier != b->params.has_service_tier ||
            a->params.service_tier != b->params.service_tier ||
            a->n_cache_points != b->n_cache_points)
                return 0;
        for (size_t i = 0; i < a->n_messages; i++)
                if (a->messages[i].role != b->messages[i].role ||
                    a->messages[i].cache != b->messages[i].cache ||
                    a->messages[i].content_len != b->messages[i].content_len ||
                    memcmp(a->messages[i].content, b->messages[i].content,
                           a->messages[i].content_len))
                        return 0;
        return 1;
}
