/*
 * Request parsing and validation. The rules are DESIGN.md's; the error texts
 * are what a pipeline owner reads in a completion event or at submit time, so
 * each names the field and the rule.
 */
#include "request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgjson.h"
#include "tgtime.h"

static int fail(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errstr, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
        tg_utf8_sanitize(errstr);
        return -1;
}

int tg_request_id_valid(const char *s, size_t len)
{
        if (len == 0 || len > TG_REQUEST_ID_MAX)
                return 0;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == ':' || c == '-'))
                        return 0;
        }
        return 1;
}

static int tag_chars_ok(const char *s)
{
        for (; *s; s++) {
                char c = *s;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || strchr(" ._:/=+@-", c)))
                        return 0;
        }
        return 1;
}

int tg_tag_check(const char *key, const char *value, char *errstr,
                 size_t errstr_size)
{
        size_t kl = strlen(key), vl = strlen(value);

        if (kl == 0 || kl > TG_TAG_KEY_MAX)
                return fail(errstr, errstr_size,
                            "tags: key length must be 1-%d", TG_TAG_KEY_MAX);
        if (!tag_chars_ok(key))
                return fail(errstr, errstr_size,
                            "tags: key \"%.64s\" has a character outside "
                            "[A-Za-z0-9 ._:/=+@-]",
                            key);
        if (vl > TG_TAG_VALUE_MAX)
                return fail(errstr, errstr_size,
                            "tags.%.64s: value longer than %d", key,
                            TG_TAG_VALUE_MAX);
        if (!tag_chars_ok(value))
                return fail(errstr, errstr_size,
                            "tags.%.64s: value has a character outside "
                            "[A-Za-z0-9 ._:/=+@-]",
                            key);
        return 0;
}

static int parse_tags(tg_request_t *req, json_t *tags, char *errstr,
                      size_t size)
{
        const char *key;
        json_t *val;

        if (!json_is_object(tags))
                return fail(errstr, size, "tags: required, must be an object");
        if (json_object_size(tags) > TG_TAGS_MAX)
                return fail(errstr, size, "tags: at most %d tags, got %zu",
                            TG_TAGS_MAX, json_object_size(tags));
        json_object_foreach(tags, key, val)
        {
                if (!json_is_string(val))
                        return fail(errstr, size,
                                    "tags.%.64s: value must be a string", key);
                if (tg_tag_check(key, json_string_value(val), errstr, size))
                        return -1;
                req->tags[req->n_tags].key = key;
                req->tags[req->n_tags].value = json_string_value(val);
                req->n_tags++;
        }
        const char *app = tg_request_tag(req, "applicationId");
        if (!app || !*app)
                return fail(errstr, size,
                            "tags.applicationId: required, non-empty");
        return 0;
}

static int parse_role(const char *s, tg_role_t *out)
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

static int parse_message(tg_request_t *req, size_t i, json_t *m, char *errstr,
                         size_t size)
{
        json_t *role = json_object_get(m, "role");
        json_t *content = json_object_get(m, "content");
        tg_message_t *msg = &req->messages[i];

        if (!json_is_object(m))
                return fail(errstr, size,
                            "prompt.messages[%zu]: must be an object", i);
        if (!json_is_string(role) ||
            parse_role(json_string_value(role), &msg->role))
                return fail(errstr, size,
                            "prompt.messages[%zu].role: must be one of "
                            "system, user, assistant",
                            i);
        if (!json_is_string(content) || json_string_length(content) == 0)
                return fail(errstr, size,
                            "prompt.messages[%zu].content: required, a "
                            "non-empty string",
                            i);
        if (json_object_size(m) != 2)
                return fail(errstr, size,
                            "prompt.messages[%zu]: only role and content are "
                            "allowed",
                            i);
        msg->content = json_string_value(content);
        msg->content_len = json_string_length(content);
        req->text_bytes += msg->content_len;
        return 0;
}

static int check_turns(const tg_request_t *req, char *errstr, size_t size)
{
        for (size_t i = 0; i < req->n_messages; i++) {
                if (req->messages[i].role == TG_ROLE_SYSTEM)
                        continue;
                if (req->messages[i].role != TG_ROLE_USER)
                        return fail(errstr, size,
                                    "prompt.messages[%zu].role: the first "
                                    "non-system message must be user",
                                    i);
                return 0;
        }
        return fail(errstr, size,
                    "prompt.messages: needs at least one user message");
}

static int parse_messages(tg_request_t *req, json_t *msgs, char *errstr,
                          size_t size)
{
        size_t n = json_array_size(msgs);

        if (!json_is_array(msgs) || n == 0)
                return fail(errstr, size,
                            "prompt.messages: required, a non-empty array");
        if (n > TG_MESSAGES_MAX)
                return fail(errstr, size,
                            "prompt.messages: at most %d messages, got %zu",
                            TG_MESSAGES_MAX, n);
        req->messages = calloc(n, sizeof(*req->messages));
        if (!req->messages)
                return fail(errstr, size, "out of memory");
        req->n_messages = n;
        for (size_t i = 0; i < n; i++)
                if (parse_message(req, i, json_array_get(msgs, i), errstr,
                                  size))
                        return -1;
        return check_turns(req, errstr, size);
}

static int get_int(json_t *v, const char *name, int64_t min, int64_t max,
                   int64_t *out, char *errstr, size_t size)
{
        if (!json_is_integer(v) || json_integer_value(v) < min ||
            json_integer_value(v) > max)
                return fail(errstr, size,
                            "prompt.parameters.%s: must be an integer from "
                            "%lld to %lld",
                            name, (long long)min, (long long)max);
        *out = json_integer_value(v);
        return 0;
}

static int get_unit(json_t *v, const char *name, double *out, char *errstr,
                    size_t size)
{
        double d = json_number_value(v);

        if (!json_is_number(v) || !isfinite(d) || d < 0.0 || d > 1.0)
                return fail(errstr, size,
                            "prompt.parameters.%s: must be a number from 0 "
                            "to 1",
                            name);
        *out = d;
        return 0;
}

static int parse_param(tg_request_t *req, const char *key, json_t *v,
                       char *errstr, size_t size)
{
        tg_params_t *p = &req->params;

        if (strcmp(key, "max_tokens") == 0)
                return get_int(v, key, 1, 1000000, &p->max_tokens, errstr,
                               size);
        if (strcmp(key, "top_k") == 0)
                return get_int(v, key, 1, 500, &p->top_k, errstr, size);
        if (strcmp(key, "temperature") == 0) {
                p->has_temperature = 1;
                return get_unit(v, key, &p->temperature, errstr, size);
        }
        if (strcmp(key, "top_p") == 0) {
                p->has_top_p = 1;
                return get_unit(v, key, &p->top_p, errstr, size);
        }
        return fail(errstr, size,
                    "prompt.parameters.%.64s: unknown parameter (allowed: "
                    "max_tokens, temperature, top_p, top_k)",
                    key);
}

static int parse_prompt(tg_request_t *req, json_t *prompt, char *errstr,
                        size_t size)
{
        json_t *params, *v;
        const char *key;

        if (!json_is_object(prompt))
                return fail(errstr, size, "prompt: required, an object");
        if (parse_messages(req, json_object_get(prompt, "messages"), errstr,
                           size))
                return -1;
        params = json_object_get(prompt, "parameters");
        if (!params)
                return 0;
        if (!json_is_object(params))
                return fail(errstr, size,
                            "prompt.parameters: must be an object");
        json_object_foreach(params, key, v)
        {
                if (parse_param(req, key, v, errstr, size))
                        return -1;
        }
        return 0;
}

static int parse_envelope(tg_request_t *req, char *errstr, size_t size)
{
        json_t *id = json_object_get(req->root, "requestId");
        json_t *ts = json_object_get(req->root, "timestamp");
        int64_t us;

        if (id) {
                if (!json_is_string(id) ||
                    !tg_request_id_valid(json_string_value(id),
                                         json_string_length(id)))
                        return fail(errstr, size,
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
                        return fail(errstr, size,
                                    "timestamp: must be RFC 3339 UTC, e.g. "
                                    "2026-11-27T10:00:00Z");
                memcpy(req->timestamp, json_string_value(ts),
                       json_string_length(ts) + 1);
        }
        return 0;
}

static int check_fields(json_t *root, char *errstr, size_t size)
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
                        return fail(errstr, size,
                                    "%.64s: unknown field (allowed: "
                                    "requestId, timestamp, model, prompt, "
                                    "tags)",
                                    key);
        }
        return 0;
}

static int parse_model(tg_request_t *req, char *errstr, size_t size)
{
        json_t *m = json_object_get(req->root, "model");
        size_t n = json_string_length(m);

        if (!json_is_string(m) || n == 0 || n > TG_MODEL_MAX)
                return fail(errstr, size,
                            "model: required, a catalog alias, model id or "
                            "inference profile");
        req->model = json_string_value(m);
        return 0;
}

static int validate(tg_request_t *req, char *errstr, size_t size)
{
        char tag_err[256];

        /* A bad envelope is reported first, but the tags are read anyway:
         * an invalid request's events still need them for charge-back. */
        if (parse_envelope(req, errstr, size)) {
                parse_tags(req, json_object_get(req->root, "tags"), tag_err,
                           sizeof(tag_err));
                return -1;
        }
        if (parse_tags(req, json_object_get(req->root, "tags"), errstr, size))
                return -1;
        if (check_fields(req->root, errstr, size))
                return -1;
        if (parse_model(req, errstr, size))
                return -1;
        return parse_prompt(req, json_object_get(req->root, "prompt"), errstr,
                            size);
}

tg_parse_result_t tg_request_parse(tg_request_t *req, const char *buf,
                                   size_t len, size_t max_size, char *errstr,
                                   size_t errstr_size)
{
        json_error_t jerr;

        memset(req, 0, sizeof(*req));
        if (!max_size)
                max_size = TG_REQUEST_SIZE_DEFAULT;
        if (!tg_json_depth_ok(buf, len, TG_JSON_DEPTH_MAX)) {
                fail(errstr, errstr_size, "JSON nested deeper than %d",
                     TG_JSON_DEPTH_MAX);
                return TG_PARSE_NOT_JSON;
        }
        req->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!req->root || !json_is_object(req->root)) {
                fail(errstr, errstr_size, "not a JSON object: %s",
                     req->root ? "top level is not an object" : jerr.text);
                json_decref(req->root);
                req->root = NULL;
                return TG_PARSE_NOT_JSON;
        }
        if (validate(req, errstr, errstr_size))
                return TG_PARSE_INVALID;
        if (len > max_size) {
                fail(errstr, errstr_size,
                     "request is %zu bytes, over the %zu-byte limit", len,
                     max_size);
                return TG_PARSE_INVALID;
        }
        return TG_PARSE_OK;
}

void tg_request_destroy(tg_request_t *req)
{
        json_decref(req->root);
        free(req->messages);
        memset(req, 0, sizeof(*req));
}

const char *tg_request_tag(const tg_request_t *req, const char *key)
{
        for (size_t i = 0; i < req->n_tags; i++)
                if (strcmp(req->tags[i].key, key) == 0)
                        return req->tags[i].value;
        return NULL;
}
