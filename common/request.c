/*
 * Request parsing and validation. The rules are README.md's ("Submitting
 * requests"); the error texts are what a pipeline owner reads in a completion
 * event or at submit time, so each names the field and the rule.
 *
 * Read with common/jsonr.c (strict, no tree; jansson cost 80 k instructions
 * a request, RESULTS.md F9). The jansson parser it replaced is the oracle of
 * tests/unit/test_request_oracle.c and of the request fuzz target.
 */
#include "request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errfmt.h"
#include "jsonr.h"
#include "tgjson.h"
#include "tgtime.h"

static int fail(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errstr, size_t size, const char *fmt, ...)
{
        va_list ap;

        /* formatted by the common helper, then made valid UTF-8: the
         * message quotes the request */
        va_start(ap, fmt);
        tg_verrf(errstr, size, fmt, ap);
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

/* A string value of the document, unescaped and NUL-ended into
 * req->strings (sized in tg_request_parse so that every string fits once). */
static const char *keep(tg_request_t *req, const char *v, const char *end,
                        size_t *len)
{
        size_t raw = tg_jsonr_raw_len(v, end), n;
        char *out;

        if (req->strings_used + raw + 1 > req->strings_cap)
                return NULL;
        out = req->strings + req->strings_used;
        n = tg_jsonr_str(v, end, out);
        out[n] = '\0';
        req->strings_used += n + 1;
        if (len)
                *len = n;
        return out;
}

/* A member's key, the same way. */
static const char *keep_key(tg_request_t *req, const char *k, size_t raw)
{
        char *out;
        size_t n;

        if (req->strings_used + raw + 1 > req->strings_cap)
                return NULL;
        out = req->strings + req->strings_used;
        n = tg_jsonr_unescape(k, raw, out);
        out[n] = '\0';
        req->strings_used += n + 1;
        return out;
}

static size_t members(const char *obj, const char *end)
{
        const char *v = NULL, *k;
        size_t n = 0, kl;

        while ((v = tg_jsonr_member(obj, end, v, &k, &kl)))
                n++;
        return n;
}

static int parse_tags(tg_request_t *req, const char *tags, const char *end,
                      char *errstr, size_t size)
{
        const char *v = NULL, *k, *key, *val;
        size_t n = members(tags, end), kl;

        if (!tags || *tags != '{')
                return fail(errstr, size, "tags: required, must be an object");
        if (n > TG_TAGS_MAX)
                return fail(errstr, size, "tags: at most %d tags, got %zu",
                            TG_TAGS_MAX, n);
        while ((v = tg_jsonr_member(tags, end, v, &k, &kl))) {
                if (!(key = keep_key(req, k, kl)))
                        return fail(errstr, size, "out of memory");
                if (*v != '"')
                        return fail(errstr, size,
                                    "tags.%.64s: value must be a string", key);
                if (!(val = keep(req, v, end, NULL)))
                        return fail(errstr, size, "out of memory");
                if (tg_tag_check(key, val, errstr, size))
                        return -1;
                req->tags[req->n_tags].key = key;
                req->tags[req->n_tags].value = val;
                req->n_tags++;
        }
        const char *app = tg_request_tag(req, "applicationId");
        if (!app || !*app)
                return fail(errstr, size,
                            "tags.applicationId: required, non-empty");
        return 0;
}

static int parse_role(const char *s, const char *end, tg_role_t *out)
{
        static const char *const names[] = {"user", "assistant", "system"};
        static const tg_role_t roles[] = {TG_ROLE_USER, TG_ROLE_ASSISTANT,
                                          TG_ROLE_SYSTEM};
        char buf[96]; /* no role takes more than 9 x 6 bytes escaped */
        size_t n;

        if (!s || *s != '"' || tg_jsonr_raw_len(s, end) >= sizeof(buf))
                return -1;
        n = tg_jsonr_str(s, end, buf);
        buf[n] = '\0';
        for (int i = 0; i < 3; i++)
                if (n == strlen(names[i]) && strcmp(buf, names[i]) == 0) {
                        *out = roles[i];
                        return 0;
                }
        return -1;
}

/* A message's optional cache point: {} or {"ttl": "5m" | "1h"}, the
 * shape of Converse's cachePoint block without its one-value "type". */
static int parse_cache(tg_request_t *req, size_t i, const char *c,
                       const char *end, tg_cache_ttl_t *out, char *errstr,
                       size_t size)
{
        const char *ttl = tg_jsonr_get(c, end, "ttl");
        char buf[16];
        size_t n = 0;

        if (*c == '{' && ttl && *ttl == '"' &&
            tg_jsonr_raw_len(ttl, end) < sizeof(buf))
                n = tg_jsonr_str(ttl, end, buf);
        buf[n] = '\0';
        if (*c != '{' || members(c, end) != (ttl ? 1u : 0u) ||
            (ttl && strcmp(buf, "5m") != 0 && strcmp(buf, "1h") != 0))
                return fail(errstr, size,
                            "prompt.messages[%zu].cachePoint: must be an "
                            "object with an optional ttl of \"5m\" or "
                            "\"1h\"",
                            i);
        if (++req->n_cache_points > TG_CACHE_POINTS_MAX)
                return fail(errstr, size,
                            "prompt.messages[%zu].cachePoint: at most %d "
                            "cache points a request",
                            i, TG_CACHE_POINTS_MAX);
        *out = !ttl            ? TG_CACHE_DEFAULT
               : buf[1] == 'm' ? TG_CACHE_5M
                               : TG_CACHE_1H;
        return 0;
}

static int parse_message(tg_request_t *req, size_t i, const char *m,
                         const char *end, char *errstr, size_t size)
{
        static const char *const keys[] = {"role", "content", "cachePoint"};
        const char *v[3];
        tg_message_t *msg = &req->messages[i];

        tg_jsonr_fields(m, end, keys, 3, v);
        if (*m != '{')
                return fail(errstr, size,
                            "prompt.messages[%zu]: must be an object", i);
        if (parse_role(v[0], end, &msg->role))
                return fail(errstr, size,
                            "prompt.messages[%zu].role: must be one of "
                            "system, user, assistant",
                            i);
        if (!v[1] || *v[1] != '"' || tg_jsonr_raw_len(v[1], end) == 0)
                return fail(errstr, size,
                            "prompt.messages[%zu].content: required, a "
                            "non-empty string",
                            i);
        if (members(m, end) != (v[2] ? 3u : 2u))
                return fail(errstr, size,
                            "prompt.messages[%zu]: only role, content and "
                            "cachePoint are allowed",
                            i);
        if (v[2] && parse_cache(req, i, v[2], end, &msg->cache, errstr, size))
                return -1;
        msg->content = keep(req, v[1], end, &msg->content_len);
        if (!msg->content)
                return fail(errstr, size, "out of memory");
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

static int parse_messages(tg_request_t *req, const char *msgs, const char *end,
                          char *errstr, size_t size)
{
        size_t n = 0, i = 0;
        const char *m;

        for (m = tg_jsonr_first(msgs, end); m; m = tg_jsonr_next(m, end))
                n++;
        if (!msgs || *msgs != '[' || n == 0)
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
        for (m = tg_jsonr_first(msgs, end); m; m = tg_jsonr_next(m, end), i++)
                if (parse_message(req, i, m, end, errstr, size))
                        return -1;
        return check_turns(req, errstr, size);
}

static int get_int(const char *v, const char *end, const char *name,
                   int64_t min, int64_t max, int64_t *out, char *errstr,
                   size_t size)
{
        int64_t x;

        if (!tg_jsonr_int(v, end, &x) || x < min || x > max)
                return fail(errstr, size,
                            "prompt.parameters.%s: must be an integer from "
                            "%lld to %lld",
                            name, (long long)min, (long long)max);
        *out = x;
        return 0;
}

/* A number's value as jansson gives it: an integer converted, a real as
 * strtod reads it. */
static int number_value(const char *v, const char *end, double *out)
{
        char small[64], *buf = small;
        size_t n = 0;
        int64_t x;

        if (!v || v >= end || !(*v == '-' || (*v >= '0' && *v <= '9')))
                return -1;
        if (tg_jsonr_int(v, end, &x)) {
                *out = (double)x;
                return 0;
        }
        while (v + n < end && strchr("+-.0123456789eE", v[n]))
                n++;
        if (n >= sizeof(small) && !(buf = malloc(n + 1)))
                return -1;
        memcpy(buf, v, n);
        buf[n] = '\0';
        *out = strtod(buf, NULL);
        if (buf != small)
                free(buf);
        return 0;
}

static int get_unit(const char *v, const char *end, const char *name,
                    double *out, char *errstr, size_t size)
{
        double d = 0.0;

        if (number_value(v, end, &d) || !isfinite(d) || d < 0.0 || d > 1.0)
                return fail(errstr, size,
                            "prompt.parameters.%s: must be a number from 0 "
                            "to 1",
                            name);
        *out = d;
        return 0;
}

/* Bedrock's wire names of the tiers tollgate prices (ServiceTierType in
 * botocore's bedrock-runtime model, less "reserved"). */
static int get_tier(const char *v, const char *end, tg_params_t *p,
                    char *errstr, size_t size)
{
        static const char *const names[TG_TIER_N] = {"default", "priority",
                                                     "flex"};
        char buf[16];
        size_t n = 0;

        if (v && *v == '"' && tg_jsonr_raw_len(v, end) < sizeof(buf))
                n = tg_jsonr_str(v, end, buf);
        buf[n] = '\0';
        for (int i = 0; n && i < TG_TIER_N; i++)
                if (strcmp(buf, names[i]) == 0) {
                        p->service_tier = (tg_tier_t)i;
                        p->has_service_tier = 1;
                        return 0;
                }
        return fail(errstr, size,
                    "prompt.parameters.service_tier: must be one of "
                    "priority, default, flex");
}

static int parse_param(tg_request_t *req, const char *key, const char *v,
                       const char *end, char *errstr, size_t size)
{
        tg_params_t *p = &req->params;

        if (strcmp(key, "max_tokens") == 0)
                return get_int(v, end, key, 1, 1000000, &p->max_tokens, errstr,
                               size);
        if (strcmp(key, "top_k") == 0)
                return get_int(v, end, key, 1, 500, &p->top_k, errstr, size);
        if (strcmp(key, "temperature") == 0) {
                p->has_temperature = 1;
                return get_unit(v, end, key, &p->temperature, errstr, size);
        }
        if (strcmp(key, "top_p") == 0) {
                p->has_top_p = 1;
                return get_unit(v, end, key, &p->top_p, errstr, size);
        }
        if (strcmp(key, "service_tier") == 0)
                return get_tier(v, end, p, errstr, size);
        return fail(errstr, size,
                    "prompt.parameters.%.64s: unknown parameter (allowed: "
                    "max_tokens, temperature, top_p, top_k, service_tier)",
                    key);
}

static int parse_prompt(tg_request_t *req, const char *prompt, const char *end,
                        char *errstr, size_t size)
{
        static const char *const keys[] = {"messages", "parameters"};
        const char *f[2], *v = NULL, *k, *key;
        size_t kl;

        if (!prompt || *prompt != '{')
                return fail(errstr, size, "prompt: required, an object");
        tg_jsonr_fields(prompt, end, keys, 2, f);
        if (parse_messages(req, f[0], end, errstr, size))
                return -1;
        if (!f[1])
                return 0;
        if (*f[1] != '{')
                return fail(errstr, size,
                            "prompt.parameters: must be an object");
        while ((v = tg_jsonr_member(f[1], end, v, &k, &kl))) {
                if (!(key = keep_key(req, k, kl)))
                        return fail(errstr, size, "out of memory");
                if (parse_param(req, key, v, end, errstr, size))
                        return -1;
        }
        return 0;
}

static int parse_envelope(tg_request_t *req, const char *id, const char *ts,
                          const char *end, char *errstr, size_t size)
{
        char buf[6 * (TG_REQUEST_ID_MAX + 2)]; /* all escaped, and more */
        size_t raw, n;
        int64_t us;

        if (id) {
                raw = tg_jsonr_raw_len(id, end);
                n = *id == '"' && raw < sizeof(buf) ? tg_jsonr_str(id, end, buf)
                                                    : 0;
                if (*id != '"' || raw >= sizeof(buf) ||
                    !tg_request_id_valid(buf, n))
                        return fail(errstr, size,
                                    "requestId: must be 1-%d characters of "
                                    "[A-Za-z0-9._:-]",
                                    TG_REQUEST_ID_MAX);
                memcpy(req->request_id, buf, n);
                req->request_id[n] = '\0';
        }
        if (ts) {
                raw = tg_jsonr_raw_len(ts, end);
                n = *ts == '"' && raw < sizeof(buf) ? tg_jsonr_str(ts, end, buf)
                                                    : 0;
                buf[n] = '\0';
                if (*ts != '"' || raw >= sizeof(buf) ||
                    n >= sizeof(req->timestamp) ||
                    tg_time_parse_rfc3339(buf, &us))
                        return fail(errstr, size,
                                    "timestamp: must be RFC 3339 UTC, e.g. "
                                    "2026-11-27T10:00:00Z");
                memcpy(req->timestamp, buf, n + 1);
        }
        return 0;
}
static int check_fields(tg_request_t *req, const char *root, const char *end,
                        char *errstr, size_t size)
{
        static const char *allowed[] = {"requestId", "timestamp", "model",
                                        "prompt", "tags"};
        const char *v = NULL, *k, *key;
        size_t kl;

        while ((v = tg_jsonr_member(root, end, v, &k, &kl))) {
                size_t i;
                if (!(key = keep_key(req, k, kl)))
                        return fail(errstr, size, "out of memory");
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

static int parse_model(tg_request_t *req, const char *m, const char *end,
                       char *errstr, size_t size)
{
        size_t n = 0;

        if (m && *m == '"')
                req->model = keep(req, m, end, &n);
        if (!req->model || n == 0 || n > TG_MODEL_MAX) {
                req->model = NULL;
                return fail(errstr, size,
                            "model: required, a catalog alias, model id or "
                            "inference profile");
        }
        return 0;
}

enum { F_ID, F_TS, F_MODEL, F_PROMPT, F_TAGS, F_N };

static int validate(tg_request_t *req, const char *root, const char *end,
                    char *errstr, size_t size)
{
        static const char *const keys[F_N] = {"requestId", "timestamp", "model",
                                              "prompt", "tags"};
        const char *f[F_N];
        char tag_err[256];

        tg_jsonr_fields(root, end, keys, F_N, f);
        /* A bad envelope is reported first, but the tags are read anyway:
         * an invalid request's events still need them for charge-back. */
        if (parse_envelope(req, f[F_ID], f[F_TS], end, errstr, size)) {
                parse_tags(req, f[F_TAGS], end, tag_err, sizeof(tag_err));
                return -1;
        }
        if (parse_tags(req, f[F_TAGS], end, errstr, size))
                return -1;
        if (check_fields(req, root, end, errstr, size))
                return -1;
        if (parse_model(req, f[F_MODEL], end, errstr, size))
                return -1;
        return parse_prompt(req, f[F_PROMPT], end, errstr, size);
}

/* Room for every string of the document once, unescaped (never longer),
 * each with its NUL: a string takes 2 bytes at least, so len / 2 NULs. */
static int strings_alloc(tg_request_t *req, size_t len)
{
        req->strings_cap = len + len / 2 + 16;
        req->strings = malloc(req->strings_cap);
        return req->strings ? 0 : -1;
}

tg_parse_result_t tg_request_parse(tg_request_t *req, const char *buf,
                                   size_t len, size_t max_size, char *errstr,
                                   size_t errstr_size)
{
        char jerr[160];
        const char *root, *end = buf + len;

        memset(req, 0, sizeof(*req));
        if (!max_size)
                max_size = TG_REQUEST_SIZE_DEFAULT;
        switch (tg_jsonr_check(buf, len, TG_JSON_DEPTH_MAX, 1, jerr,
                               sizeof(jerr))) {
        case 0:
                break;
        case -2:
                fail(errstr, errstr_size, "JSON nested deeper than %d",
                     TG_JSON_DEPTH_MAX);
                return TG_PARSE_NOT_JSON;
        default:
                fail(errstr, errstr_size, "not a JSON object: %s", jerr);
                return TG_PARSE_NOT_JSON;
        }
        root = tg_jsonr_root(buf, end);
        if (*root != '{') {
                fail(errstr, errstr_size,
                     "not a JSON object: top level is not an object");
                return TG_PARSE_NOT_JSON;
        }
        if (strings_alloc(req, len)) {
                fail(errstr, errstr_size, "not a JSON object: out of memory");
                return TG_PARSE_NOT_JSON;
        }
        if (validate(req, root, end, errstr, errstr_size))
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
        free(req->strings);
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
