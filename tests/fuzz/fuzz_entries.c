/*
 * The fuzz targets' bodies. See fuzz_entries.h.
 *
 * The checks are the contracts the headers state, checked from the outside:
 * where a check needs a reference value it computes it without the code
 * under test (its own UTF-8 validator, percent-decoder, HMAC chain), so a
 * bug cannot agree with itself.
 */
#include "fuzz_entries.h"

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/bedrock_auth.h"
#include "aws/sigv4.h"
#include "bedrock/converse.h"
#include "bedrock/errors.h"
#include "catalog.h"
#include "request.h"

#ifndef TG_FUZZ_CATALOG
#define TG_FUZZ_CATALOG "worker/catalog.json"
#endif

const char *tg_fuzz_catalog_path;
void (*tg_fuzz_on_fail)(const char *what, const char *file, int line);

static void fuzz_fail(const char *what, const char *file, int line)
{
        if (tg_fuzz_on_fail) {
                tg_fuzz_on_fail(what, file, line);
                return;
        }
        fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
        abort();
}

#define FZ_CHECK(cond)                                                         \
        do {                                                                   \
                if (!(cond))                                                   \
                        fuzz_fail(#cond, __FILE__, __LINE__);                  \
        } while (0)

/* ---- helpers ----------------------------------------------------------- */

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past
 * U+10FFFF. Everything that reaches a JSON event must pass, or jansson
 * refuses the string and the field silently goes missing. */
static int utf8_valid(const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0;

        while (i < n) {
                unsigned c = p[i];
                size_t len;
                uint32_t cp, min;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF) {
                        len = 2, cp = c & 0x1F, min = 0x80;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        len = 3, cp = c & 0x0F, min = 0x800;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        len = 4, cp = c & 0x07, min = 0x10000;
                } else {
                        return 0;
                }
                if (n - i < len)
                        return 0;
                for (size_t k = 1; k < len; k++) {
                        if ((p[i + k] & 0xC0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (p[i + k] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return 0;
                i += len;
        }
        return 1;
}

static int utf8_valid_str(const char *s)
{
        return s && utf8_valid(s, strlen(s));
}

static int is_unreserved(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
               c == '~';
}

static int is_upper_hex(unsigned char c)
{
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int hex_digit(unsigned char c)
{
        return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* 1 when s[0..n) is unreserved bytes and %XX escapes (upper-case hex)
 * only, plus the bytes in `also`. */
static int strictly_encoded(const char *s, size_t n, const char *also)
{
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (is_unreserved(c) || (c && also && strchr(also, c)))
                        continue;
                if (c != '%' || n - i < 3 ||
                    !is_upper_hex((unsigned char)s[i + 1]) ||
                    !is_upper_hex((unsigned char)s[i + 2]))
                        return 0;
                i += 2;
        }
        return 1;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char md[32];
        unsigned int mdlen = 0;

        EVP_Digest(data ? data : (const void *)"", len, md, &mdlen,
                   EVP_sha256(), NULL);
        for (unsigned i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", md[i]);
        out[64] = '\0';
}

static int is_lower_hex64(const char *s)
{
        if (strlen(s) != 64)
                return 0;
        for (size_t i = 0; i < 64; i++)
                if (!((s[i] >= '0' && s[i] <= '9') ||
                      (s[i] >= 'a' && s[i] <= 'f')))
                        return 0;
        return 1;
}

/* The catalog every request is priced against, loaded once: the fuzzer
 * should spend its time on the request, not on reloading prices. */
static const tg_catalog_t *default_catalog(void)
{
        static tg_catalog_t *cat;
        char err[512];
        const char *path =
            tg_fuzz_catalog_path ? tg_fuzz_catalog_path : TG_FUZZ_CATALOG;

        if (!cat) {
                cat = tg_catalog_load_file(path, err, sizeof(err));
                if (!cat) {
                        fprintf(stderr, "fuzz: cannot load %s: %s\n", path,
                                err);
                        abort();
                }
        }
        return cat;
}

/* The default models plus routes to application inference profiles, so
 * requests reach tag routing too. */
static const char ROUTED_CATALOG[] =
    "{\"priceVersion\":\"fuzz\",\"models\":["
    "{\"alias\":\"nova-lite\",\"modelId\":\"amazon.nova-lite-v1:0\","
    "\"family\":\"nova\",\"maxOutputTokens\":5000,\"price\":{\"input\":"
    "\"0.06\",\"output\":\"0.24\",\"cacheRead\":\"0.015\"}},"
    "{\"alias\":\"sonnet\",\"modelId\":\"anthropic.claude-3-5-sonnet-"
    "20240620-v1:0\",\"family\":\"anthropic\",\"maxOutputTokens\":8192,"
    "\"messageOverheadTokens\":10,\"requestOverheadTokens\":20,"
    "\"price\":{\"input\":\"3\",\"output\":\"15\",\"cacheRead\":\"0.30\","
    "\"cacheWrite\":\"3.75\"}},"
    "{\"alias\":\"llama\",\"modelId\":\"meta.llama3-8b-instruct-v1:0\","
    "\"family\":\"meta\",\"target\":\"us.meta.llama3-8b-instruct-v1:0\","
    "\"price\":{\"input\":\"0.30\",\"output\":\"0.60\"}}],"
    "\"routes\":["
    "{\"match\":{\"costCenter\":\"sales\"},\"model\":\"nova-lite\","
    "\"target\":\"arn:aws:bedrock:us-east-1:123456789012:application-"
    "inference-profile/sales1\"},"
    "{\"match\":{\"applicationId\":\"chat\",\"environment\":\"prod\"},"
    "\"target\":\"arn:aws:bedrock:us-east-1:123456789012:application-"
    "inference-profile/chatprod\"}]}";

static const tg_catalog_t *routed_catalog(void)
{
        static tg_catalog_t *cat;
        char err[512];

        if (!cat) {
                cat = tg_catalog_load_string(ROUTED_CATALOG,
                                             sizeof(ROUTED_CATALOG) - 1, err,
                                             sizeof(err));
                if (!cat) {
                        fprintf(stderr, "fuzz: built-in catalog: %s\n", err);
                        abort();
                }
        }
        return cat;
}

/* ---- the call path ----------------------------------------------------- */

/* Percent-decodes a strictly encoded segment; returns the length. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%') {
                        out[o++] =
                            (char)(hex_digit((unsigned char)s[i + 1]) * 16 +
                                   hex_digit((unsigned char)s[i + 2]));
                        i += 2;
                } else {
                        out[o++] = s[i];
                }
        }
        return o;
}

/* What a model path must be for the worker to call exactly that model: one
 * encoded segment that decodes back to the id and that neither curl (dot
 * segment squashing) nor a server can read as another path, query,
 * fragment or host. Also signs it: the canonical path must be the wire
 * path encoded once more, with nothing normalized away. */
static void check_model_path(const char *id, const char *path, long n,
                             const char *op)
{
        static const char pre[] = "/model/";
        size_t plen = sizeof(pre) - 1, oplen = strlen(op), seglen;
        const char *seg = path + plen;
        char *dec, *creq, expect[3 * TG_BEDROCK_PATH_MAX + 1];
        size_t e = 0;
        char err[256] = "";

        FZ_CHECK(n > 0 && (size_t)n == strlen(path));
        if (n <= 0 || (size_t)n != strlen(path) || (size_t)n < plen + 1 + oplen)
                return;
        FZ_CHECK(strncmp(path, pre, plen) == 0);
        FZ_CHECK(path[n - (long)oplen - 1] == '/' &&
                 strcmp(path + n - oplen, op) == 0);
        seglen = (size_t)n - plen - oplen - 1;
        FZ_CHECK(seglen > 0);
        FZ_CHECK(strictly_encoded(seg, seglen, NULL));
        FZ_CHECK(!memchr(seg, '/', seglen) && !memchr(seg, '?', seglen) &&
                 !memchr(seg, '#', seglen) && !memchr(seg, '@', seglen));
        FZ_CHECK(!strstr(path, "/../") && !strstr(path, "/./"));
        FZ_CHECK(!(seglen == 1 && seg[0] == '.') &&
                 !(seglen == 2 && seg[0] == '.' && seg[1] == '.'));
        if (!strictly_encoded(seg, seglen, NULL))
                return;
        dec = malloc(seglen + 1);
        FZ_CHECK(dec != NULL);
        if (!dec)
                return;
        FZ_CHECK(pct_decode(seg, seglen, dec) == strlen(id) &&
                 memcmp(dec, id, strlen(id)) == 0);
        free(dec);

        if ((size_t)n > TG_SIGV4_MAX_PATH)
                return;
        tg_sigv4_header_t h[2] = {{"Host", "bedrock-runtime.us-east-1."
                                           "amazonaws.com"},
                                  {"X-Amz-Date", "20261127T100000Z"}};
        tg_sigv4_request_t rq = {.method = "POST",
                                 .path = path,
                                 .headers = h,
                                 .n_headers = 2,
                                 .body = "{}",
                                 .body_len = 2};
        tg_sigv4_params_t pa = {.access_key_id = "AKIDEXAMPLE",
                                .secret_access_key = "secret",
                                .region = "us-east-1",
                                .service = "bedrock",
                                .amz_date = "20261127T100000Z"};
        for (long i = 0; i < n; i++) {
                if (path[i] == '%') {
                        memcpy(expect + e, "%25", 3);
                        e += 3;
                } else {
                        expect[e++] = path[i];
                }
        }
        expect[e] = '\0';
        creq = tg_sigv4_canonical_request(&rq, &pa, err, sizeof(err));
        FZ_CHECK(creq != NULL);
        if (!creq)
                return;
        FZ_CHECK(strncmp(creq, "POST\n", 5) == 0 &&
                 strncmp(creq + 5, expect, e) == 0 && creq[5 + e] == '\n');
        free(creq);
}

static int dot_segment(const char *s)
{
        return !strcmp(s, ".") || !strcmp(s, "..");
}

/* The worker's path for a resolved target. */
static void check_call_path(const char *target)
{
        char a[TG_BEDROCK_PATH_MAX];
        long n = tg_bedrock_model_path(target, "converse", a, sizeof(a));

        /* A target of up to TG_MODEL_MAX bytes always fits; only the two
         * that would be dot segments may be refused. */
        if (strlen(target) <= TG_MODEL_MAX && !dot_segment(target))
                FZ_CHECK(n > 0);
        if (n > 0)
                check_model_path(target, a, n, "converse");
}

/* ---- prices ------------------------------------------------------------ */

/* The reservation must cover every bill the call can produce: any split of
 * the bounded input tokens over the input classes, plus the full output. */
static void check_bound_covers(const tg_model_t *m, const tg_bound_t *b)
{
        int64_t in = b->input_tokens, out = b->output_tokens;
        tg_usage_t splits[] = {
            {in, out, 0, 0},
            {0, out, in, 0},
            {0, out, 0, in},
            {in / 3, out, in / 3, in - 2 * (in / 3)},
            {in / 2, out, 0, in - in / 2},
        };

        FZ_CHECK(b->cost_nano >= 0);
        FZ_CHECK(in >= 0 && out >= 1);
        for (size_t i = 0; i < sizeof(splits) / sizeof(*splits); i++) {
                int64_t c = tg_cost_usage(&m->price, &splits[i]);
                FZ_CHECK(c >= 0 && c <= b->cost_nano);
        }
}

static void check_bound(const tg_model_t *m, const tg_request_t *req,
                        int must_price)
{
        tg_bound_t b;
        int r = tg_cost_bound(m, req, &b);

        if (must_price)
                FZ_CHECK(r == 0);
        if (r)
                return;
        FZ_CHECK(b.input_tokens >= (int64_t)req->text_bytes);
        FZ_CHECK(b.output_tokens == (req->params.max_tokens > 0
                                         ? req->params.max_tokens
                                         : m->max_output_tokens));
        check_bound_covers(m, &b);
}

/* ---- the Converse body ------------------------------------------------- */

/* The body must carry every byte of every message, in turns that start
 * with user and alternate, bounded by the same maxTokens as the
 * reservation. */
static void check_body(const tg_request_t *req, const tg_model_t *m)
{
        char err[512] = "";
        size_t len = 0, text = 0, blocks = 0, i, j;
        char *body = tg_converse_build(req, m, &len, err, sizeof(err));
        json_t *doc, *msgs, *sys, *turn, *blk, *cfg;
        const char *prev = NULL;

        /* A request that passed validation is always sendable. */
        FZ_CHECK(body != NULL);
        if (!body)
                return;
        FZ_CHECK(len == strlen(body));
        doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
        free(body);
        FZ_CHECK(json_is_object(doc));
        msgs = json_object_get(doc, "messages");
        sys = json_object_get(doc, "system");
        FZ_CHECK(json_is_array(msgs) && json_array_size(msgs) > 0);
        FZ_CHECK(!sys || (json_is_array(sys) && json_array_size(sys) > 0));
        json_array_foreach(sys, i, blk)
        {
                json_t *t = json_object_get(blk, "text");
                FZ_CHECK(json_is_string(t));
                text += json_string_length(t);
                blocks++;
        }
        json_array_foreach(msgs, i, turn)
        {
                const char *role =
                    json_string_value(json_object_get(turn, "role"));
                json_t *content = json_object_get(turn, "content");

                FZ_CHECK(role && (strcmp(role, "user") == 0 ||
                                  strcmp(role, "assistant") == 0));
                if (!role)
                        continue;
                FZ_CHECK(i > 0 || strcmp(role, "user") == 0);
                FZ_CHECK(!prev || strcmp(prev, role) != 0);
                prev = role;
                FZ_CHECK(json_is_array(content) &&
                         json_array_size(content) > 0);
                json_array_foreach(content, j, blk)
                {
                        json_t *t = json_object_get(blk, "text");
                        FZ_CHECK(json_is_string(t));
                        text += json_string_length(t);
                        blocks++;
                }
        }
        FZ_CHECK(blocks == req->n_messages);
        FZ_CHECK(text == req->text_bytes);
        cfg = json_object_get(doc, "inferenceConfig");
        FZ_CHECK(json_integer_value(json_object_get(cfg, "maxTokens")) ==
                 (req->params.max_tokens > 0 ? req->params.max_tokens
                                             : m->max_output_tokens));
        json_decref(doc);
}

/* ---- request ----------------------------------------------------------- */

static void check_parsed(const tg_request_t *req)
{
        size_t sum = 0, first = req->n_messages;
        const char *app;

        FZ_CHECK(json_is_object(req->root));
        FZ_CHECK(!req->request_id[0] ||
                 tg_request_id_valid(req->request_id, strlen(req->request_id)));
        FZ_CHECK(strlen(req->timestamp) < sizeof(req->timestamp));
        FZ_CHECK(req->model && req->model[0] &&
                 strlen(req->model) <= TG_MODEL_MAX);
        FZ_CHECK(req->n_messages >= 1 && req->n_messages <= TG_MESSAGES_MAX);
        FZ_CHECK(req->messages != NULL);
        for (size_t i = 0; req->messages && i < req->n_messages; i++) {
                const tg_message_t *m = &req->messages[i];

                FZ_CHECK(m->role == TG_ROLE_SYSTEM || m->role == TG_ROLE_USER ||
                         m->role == TG_ROLE_ASSISTANT);
                FZ_CHECK(m->content && m->content_len > 0);
                FZ_CHECK(utf8_valid(m->content, m->content_len));
                sum += m->content_len;
                if (m->role != TG_ROLE_SYSTEM && first == req->n_messages)
                        first = i;
        }
        FZ_CHECK(sum == req->text_bytes);
        FZ_CHECK(first < req->n_messages &&
                 req->messages[first].role == TG_ROLE_USER);
        FZ_CHECK(req->n_tags <= TG_TAGS_MAX);
        for (size_t i = 0; i < req->n_tags; i++) {
                char err[256];

                FZ_CHECK(req->tags[i].key && req->tags[i].value);
                FZ_CHECK(tg_tag_check(req->tags[i].key, req->tags[i].value, err,
                                      sizeof(err)) == 0);
                for (size_t k = 0; k < i; k++)
                        FZ_CHECK(strcmp(req->tags[k].key, req->tags[i].key));
        }
        app = tg_request_tag(req, "applicationId");
        FZ_CHECK(app && app[0]);
        FZ_CHECK(
            req->params.max_tokens == 0 ||
            (req->params.max_tokens >= 1 && req->params.max_tokens <= 1000000));
        FZ_CHECK(req->params.top_k == 0 ||
                 (req->params.top_k >= 1 && req->params.top_k <= 500));
        FZ_CHECK(!req->params.has_temperature ||
                 (isfinite(req->params.temperature) &&
                  req->params.temperature >= 0 &&
                  req->params.temperature <= 1));
        FZ_CHECK(!req->params.has_top_p ||
                 (isfinite(req->params.top_p) && req->params.top_p >= 0 &&
                  req->params.top_p <= 1));
}

/* What the worker does with a valid request, against one catalog. */
static void price_and_build(const tg_request_t *req, const tg_catalog_t *cat)
{
        static const tg_family_t families[] = {
            TG_FAMILY_OTHER, TG_FAMILY_NOVA, TG_FAMILY_ANTHROPIC,
            TG_FAMILY_META, TG_FAMILY_MISTRAL};
        tg_resolved_t res = {0};
        char err[512] = "";

        if (tg_catalog_resolve(cat, req->model, req, &res, err, sizeof(err))) {
                /* The reason of an `invalid` completion event. */
                FZ_CHECK(err[0] && utf8_valid_str(err));
                return;
        }
        FZ_CHECK(res.model && res.target && res.target[0]);
        if (!res.model || !res.target)
                return;
        FZ_CHECK(req->params.max_tokens <= res.model->max_output_tokens);
        check_bound(res.model, req, 1);
        check_call_path(res.target);
        for (size_t i = 0; i < sizeof(families) / sizeof(*families); i++) {
                tg_model_t m = *res.model;
                m.family = families[i];
                check_body(req, &m);
        }
}

int tg_fuzz_request(const uint8_t *data, size_t size)
{
        tg_request_t req;
        char err[512] = "";
        tg_parse_result_t r;

        r = tg_request_parse(&req, (const char *)data, size, 0, err,
                             sizeof(err));
        switch (r) {
        case TG_PARSE_NOT_JSON:
                FZ_CHECK(req.root == NULL && req.messages == NULL);
                FZ_CHECK(err[0] != '\0');
                break;
        case TG_PARSE_INVALID:
                FZ_CHECK(req.root != NULL);
                FZ_CHECK(req.n_tags <= TG_TAGS_MAX);
                FZ_CHECK(err[0] && utf8_valid_str(err));
                break;
        case TG_PARSE_OK:
                check_parsed(&req);
                price_and_build(&req, default_catalog());
                price_and_build(&req, routed_catalog());
                break;
        default:
                FZ_CHECK(!"tg_request_parse returned no known result");
        }
        tg_request_destroy(&req);

        /* The size cap holds however valid the rest is. */
        if (r == TG_PARSE_OK && size > 1) {
                r = tg_request_parse(&req, (const char *)data, size, size - 1,
                                     err, sizeof(err));
                FZ_CHECK(r == TG_PARSE_INVALID);
                tg_request_destroy(&req);
        }
        return 0;
}

/* ---- catalog ----------------------------------------------------------- */

static const char *const FIXED_NAMES[] = {
    "",
    ".",
    "..",
    "us.",
    "arn:aws",
    "arn:aws:bedrock:us-east-1::foundation-model/",
    /* parenthesized: one name split over two lines */
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-"
     "profile/sales1"),
    "nova-lite",
    "amazon.nova-lite-v1:0",
    "global.anthropic.claude-3-5-sonnet-20240620-v1:0",
};

/* Two requests to price against every model: a small one, and the largest
 * the default limits let through (1 MiB of text in 1024 messages). */
static tg_message_t small_msgs[2] = {
    {TG_ROLE_SYSTEM, "Be brief.", 9},
    {TG_ROLE_USER, "Hi", 2},
};

static void fake_request(tg_request_t *req, int big)
{
        memset(req, 0, sizeof(*req));
        req->model = "nova-lite";
        req->messages = small_msgs;
        req->n_messages = big ? TG_MESSAGES_MAX : 2;
        req->text_bytes = big ? TG_REQUEST_SIZE_DEFAULT : 11;
        req->tags[0] = (tg_tag_t){"applicationId", "chat"};
        req->tags[1] = (tg_tag_t){"costCenter", "sales"};
        req->tags[2] = (tg_tag_t){"environment", "prod"};
        req->n_tags = 3;
}

/* A resolution must name a model that answers to the name, and a target
 * the worker can call. */
static void check_resolve(const tg_catalog_t *cat, const char *name,
                          const tg_request_t *req, int must)
{
        tg_resolved_t res = {0};
        char err[512] = "";
        int r = tg_catalog_resolve(cat, name, req, &res, err, sizeof(err));

        if (must)
                FZ_CHECK(r == 0);
        if (r) {
                FZ_CHECK(err[0] && utf8_valid_str(err));
                return;
        }
        FZ_CHECK(res.model && res.target && res.target[0]);
        if (!res.model || !res.target)
                return;
        if (must)
                FZ_CHECK(strcmp(res.model->alias, name) == 0 ||
                         strcmp(res.model->model_id, name) == 0);
        check_call_path(res.target);
}

static void check_model(const tg_catalog_t *cat, const tg_model_t *m)
{
        tg_request_t req;
        char name[TG_MODEL_MAX + 64];

        FZ_CHECK(m->alias && m->alias[0] && m->model_id && m->model_id[0]);
        FZ_CHECK(m->max_output_tokens >= 1);
        FZ_CHECK(m->message_overhead_tokens >= 0 &&
                 m->request_overhead_tokens >= 0);
        FZ_CHECK(m->price.input >= 0 && m->price.output >= 0 &&
                 m->price.cache_read >= 0 && m->price.cache_write >= 0);
        check_resolve(cat, m->alias, NULL, 1);
        check_resolve(cat, m->model_id, NULL, 1);
        fake_request(&req, 0);
        check_resolve(cat, m->model_id, &req, 0);
        if (strlen(m->model_id) < TG_MODEL_MAX) {
                snprintf(name, sizeof(name), "us.%s", m->model_id);
                check_resolve(cat, name, &req, 0);
                snprintf(name, sizeof(name),
                         "arn:aws:bedrock:us-east-1::foundation-model/%s",
                         m->model_id);
                check_resolve(cat, name, &req, 0);
        }
        check_bound(m, &req, 0);
        check_body(&req, m);
        fake_request(&req, 1);
        check_bound(m, &req, 0);
}

/* Route targets and match tags come from the input itself, so the fuzzer
 * reaches routing without guessing names. */
static void check_routes(const tg_catalog_t *cat, const uint8_t *data,
                         size_t size)
{
        json_t *root = json_loadb((const char *)data, size, 0, NULL);
        json_t *routes = json_object_get(root, "routes"), *r, *v;
        size_t i;
        const char *key;

        json_array_foreach(routes, i, r)
        {
                const char *target =
                    json_string_value(json_object_get(r, "target"));
                const char *model =
                    json_string_value(json_object_get(r, "model"));
                tg_request_t req;

                if (i == 8)
                        break;
                fake_request(&req, 0);
                req.n_tags = 1;
                json_object_foreach(json_object_get(r, "match"), key, v)
                {
                        if (req.n_tags == TG_TAGS_MAX || !json_is_string(v))
                                break;
                        req.tags[req.n_tags++] =
                            (tg_tag_t){key, json_string_value(v)};
                }
                if (target)
                        check_resolve(cat, target, &req, 0);
                if (model)
                        check_resolve(cat, model, &req, 0);
        }
        json_decref(root);
}

int tg_fuzz_catalog(const uint8_t *data, size_t size)
{
        char err[512] = "";
        tg_catalog_t *cat =
            tg_catalog_load_string((const char *)data, size, err, sizeof(err));
        const char *pv;
        size_t n;
        tg_request_t req;

        if (!cat) {
                FZ_CHECK(err[0] != '\0');
                return 0;
        }
        pv = tg_catalog_price_version(cat);
        FZ_CHECK(pv && pv[0] && strlen(pv) <= 64);
        n = tg_catalog_model_count(cat);
        FZ_CHECK(n >= 1 && n <= 256);
        for (size_t i = 0; i < n; i++) {
                const tg_model_t *m = tg_catalog_model_at(cat, i);
                FZ_CHECK(m != NULL);
                if (m)
                        check_model(cat, m);
        }
        FZ_CHECK(tg_catalog_model_at(cat, n) == NULL);
        fake_request(&req, 0);
        for (size_t i = 0; i < sizeof(FIXED_NAMES) / sizeof(*FIXED_NAMES);
             i++) {
                check_resolve(cat, FIXED_NAMES[i], NULL, 0);
                check_resolve(cat, FIXED_NAMES[i], &req, 0);
        }
        check_routes(cat, data, size);
        tg_catalog_destroy(cat);
        return 0;
}

/* ---- SigV4 ------------------------------------------------------------- */

#define DEFAULT_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
/* Over the signer's cap on purpose: it must refuse, not overflow. */
#define FZ_MAX_HEADERS (TG_SIGV4_MAX_HEADERS + 8)

typedef struct fz_req {
        char *buf; /* NUL-terminated copy the strings point into */
        const char *method, *path, *query;
        tg_sigv4_header_t h[FZ_MAX_HEADERS];
        char *values[FZ_MAX_HEADERS]; /* owned, folded lines joined */
        size_t n;
        const char *body;
        size_t body_len;
        int no_normalize, s3_path, unsigned_payload, token;
        const char *region, *service, *date, *akid, *secret;
} fz_req_t;

static char *next_line(char **p, char *end)
{
        char *line = *p, *nl;

        if (line >= end)
                return NULL;
        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl) {
                *nl = '\0';
                *p = nl + 1;
        } else {
                *p = end;
        }
        if (nl && nl > line && nl[-1] == '\r')
                nl[-1] = '\0';
        return line;
}

/* "#n s u t region=R service=S date=D akid=K secret=X": options for the
 * signing, so the corpus can reach the unnormalized and S3 paths. */
static void parse_options(fz_req_t *r, char *line)
{
        char *save = NULL;

        for (char *tok = strtok_r(line + 1, " ", &save); tok;
             tok = strtok_r(NULL, " ", &save)) {
                char *eq = strchr(tok, '=');

                if (!eq) {
                        r->no_normalize |= strchr(tok, 'n') != NULL;
                        r->s3_path |= strchr(tok, 's') != NULL;
                        r->unsigned_payload |= strchr(tok, 'u') != NULL;
                        r->token |= strchr(tok, 't') != NULL;
                        continue;
                }
                *eq = '\0';
                if (!strcmp(tok, "region"))
                        r->region = eq + 1;
                else if (!strcmp(tok, "service"))
                        r->service = eq + 1;
                else if (!strcmp(tok, "date"))
                        r->date = eq + 1;
                else if (!strcmp(tok, "akid"))
                        r->akid = eq + 1;
                else if (!strcmp(tok, "secret"))
                        r->secret = eq + 1;
        }
}

/* The suite's request.txt: "METHOD target HTTP/1.1", "Name:value" lines
 * (a line starting with a blank folds into the previous value with one
 * space, as obs-fold allows), a blank line, the body. Lenient on purpose:
 * whatever it makes of the input goes to the signer, which must cope. */
static void fz_parse(fz_req_t *r, const uint8_t *data, size_t size)
{
        char *p, *end, *line, *sp1, *sp2, *q;

        memset(r, 0, sizeof(*r));
        r->region = "us-east-1";
        r->service = "service";
        r->date = "20150830T123600Z";
        r->akid = "AKIDEXAMPLE";
        r->secret = DEFAULT_SECRET;
        r->buf = malloc(size + 1);
        if (!r->buf)
                abort();
        memcpy(r->buf, data, size);
        r->buf[size] = '\0';
        p = r->buf;
        end = r->buf + size;
        line = next_line(&p, end);
        if (line && line[0] == '#') {
                parse_options(r, line);
                line = next_line(&p, end);
        }
        if (!line)
                line = "";
        sp1 = strchr(line, ' ');
        sp2 = strrchr(line, ' ');
        r->method = line;
        r->path = "";
        if (sp1) {
                *sp1 = '\0';
                if (sp2 != sp1)
                        *sp2 = '\0';
                r->path = sp1 + 1;
                q = strchr(sp1 + 1, '?');
                if (q) {
                        *q = '\0';
                        r->query = q + 1;
                }
        }
        while ((line = next_line(&p, end)) && *line) {
                char *colon = strchr(line, ':'), *v;
                size_t len;

                if ((line[0] == ' ' || line[0] == '\t') && r->n > 0) {
                        len = strlen(r->values[r->n - 1]);
                        v = realloc(r->values[r->n - 1],
                                    len + 1 + strlen(line) + 1);
                        if (!v)
                                abort();
                        v[len] = ' ';
                        strcpy(v + len + 1, line);
                        r->values[r->n - 1] = v;
                        continue;
                }
                if (r->n == FZ_MAX_HEADERS)
                        continue;
                if (colon)
                        *colon = '\0';
                r->h[r->n].name = line;
                r->values[r->n] = strdup(colon ? colon + 1 : "");
                if (!r->values[r->n])
                        abort();
                r->n++;
        }
        for (size_t i = 0; i < r->n; i++)
                r->h[i].value = r->values[i];
        r->body = p;
        r->body_len = (size_t)(end - p);
}

static void fz_free(fz_req_t *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->values[i]);
        free(r->buf);
}

static int lower_name_cmp(const char *a, const char *b)
{
        for (;; a++, b++) {
                int x = (*a >= 'A' && *a <= 'Z') ? *a - 'A' + 'a' : *a;
                int y = (*b >= 'A' && *b <= 'Z') ? *b - 'A' + 'a' : *b;
                if (x != y || !x)
                        return x - y;
        }
}

/* Header names, case-folded, counted once each: the number of header
 * lines the canonical request must have. */
static size_t distinct_names(const tg_sigv4_request_t *rq)
{
        size_t n = 0;

        for (size_t i = 0; i < rq->n_headers; i++) {
                size_t k;
                for (k = 0; k < i; k++)
                        if (!lower_name_cmp(rq->headers[k].name,
                                            rq->headers[i].name))
                                break;
                n += k == i;
        }
        return n;
}

static int is_tchar_lower(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A canonical request is six or more lines whose shape leaves no room for
 * one request to pass as another: a line per distinct header, nothing a
 * caller's bytes could add. */
static void check_canonical(const char *creq, const tg_sigv4_request_t *rq,
                            const tg_sigv4_params_t *pa,
                            char *signed_headers_out, size_t sh_size)
{
        char *copy = strdup(creq), *lines[3 + FZ_MAX_HEADERS + 3];
        size_t nl = 0, k = distinct_names(rq), i;
        char *p, *sh;
        char want_hash[65];

        FZ_CHECK(copy != NULL);
        if (!copy)
                return;
        for (p = copy; *p; p++)
                nl += *p == '\n';
        /* method, path, query, k header lines, blank, signed, hash */
        FZ_CHECK(nl == 5 + k);
        if (nl != 5 + k) {
                free(copy);
                return;
        }
        p = copy;
        for (i = 0; i < nl + 1; i++)
                lines[i] = strsep(&p, "\n");
        FZ_CHECK(strcmp(lines[0], rq->method) == 0);

        /* path */
        if (!pa->s3_path) {
                FZ_CHECK(strictly_encoded(lines[1], strlen(lines[1]), "/"));
                FZ_CHECK(lines[1][0] == '/');
        }
        if (!pa->s3_path && !pa->no_normalize) {
                char *seg = lines[1];
                FZ_CHECK(!strstr(seg, "//"));
                while (seg && *seg) {
                        char *s = strchr(seg + 1, '/');
                        size_t len =
                            s ? (size_t)(s - seg - 1) : strlen(seg + 1);
                        FZ_CHECK(!(len == 1 && seg[1] == '.') &&
                                 !(len == 2 && seg[1] == '.' && seg[2] == '.'));
                        seg = s;
                }
        }

        /* query: strictly encoded key=value pairs in sorted order */
        FZ_CHECK(strictly_encoded(lines[2], strlen(lines[2]), "=&"));
        if (lines[2][0]) {
                char *q = lines[2], *prev = NULL, *pair;
                while ((pair = strsep(&q, "&"))) {
                        char *eq = strchr(pair, '=');
                        FZ_CHECK(eq && !strchr(eq + 1, '='));
                        if (!eq)
                                break;
                        *eq = '\0';
                        if (prev) {
                                int c = strcmp(prev, pair);
                                FZ_CHECK(
                                    c < 0 ||
                                    (c == 0 && strcmp(prev + strlen(prev) + 1,
                                                      eq + 1) <= 0));
                        }
                        prev = pair;
                }
        }

        /* headers: lower-case names in strictly ascending order, values
         * trimmed with inner blanks collapsed, no control characters */
        sh = signed_headers_out;
        sh[0] = '\0';
        for (i = 0; i < k; i++) {
                char *h = lines[3 + i], *colon = strchr(h, ':');
                size_t vlen;

                FZ_CHECK(colon && colon > h);
                if (!colon)
                        continue;
                *colon = '\0';
                for (char *c = h; *c; c++)
                        FZ_CHECK(is_tchar_lower((unsigned char)*c));
                if (i)
                        FZ_CHECK(strcmp(lines[3 + i - 1], h) < 0);
                vlen = strlen(colon + 1);
                FZ_CHECK(!vlen || (colon[1] != ' ' && colon[vlen] != ' '));
                FZ_CHECK(!strstr(colon + 1, "  "));
                for (char *c = colon + 1; *c; c++)
                        FZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
                if (strlen(sh) + strlen(h) + 2 < sh_size) {
                        if (i)
                                strcat(sh, ";");
                        strcat(sh, h);
                }
        }
        FZ_CHECK(lines[3 + k][0] == '\0');
        FZ_CHECK(strcmp(lines[4 + k], sh) == 0);
        if (rq->payload_hash) {
                FZ_CHECK(strcmp(lines[5 + k], rq->payload_hash) == 0);
        } else {
                sha256_hex(rq->body, rq->body_len, want_hash);
                FZ_CHECK(strcmp(lines[5 + k], want_hash) == 0);
        }
        free(copy);
}

static void hmac(const void *key, size_t klen, const char *data,
                 unsigned char out[32])
{
        unsigned int olen = 32;

        if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)data,
                  strlen(data), out, &olen))
                abort();
}

/* The signature, recomputed from the canonical request with OpenSSL and
 * nothing of the signer's. */
static void expected_signature(const char *creq, const tg_sigv4_params_t *pa,
                               char out[65])
{
        char hash[65], date[9], sts[512], k0[4 + TG_SIGV4_MAX_KEY + 1];
        unsigned char a[32], b[32];

        sha256_hex(creq, strlen(creq), hash);
        snprintf(date, sizeof(date), "%.8s", pa->amz_date);
        snprintf(sts, sizeof(sts),
                 "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                 pa->amz_date, date, pa->region, pa->service, hash);
        snprintf(k0, sizeof(k0), "AWS4%s", pa->secret_access_key);
        hmac(k0, strlen(k0), date, a);
        hmac(a, 32, pa->region, b);
        hmac(b, 32, pa->service, a);
        hmac(a, 32, "aws4_request", b);
        hmac(b, 32, sts, a);
        for (int i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", a[i]);
        out[64] = '\0';
}

/* The first line of the input (up to LF or NUL) as a model id. One line,
 * not the whole input: a long request would otherwise spend most of its
 * run encoding its body as an id, and LF is a byte like any other to the
 * encoder. */
static void fuzz_model_path(const uint8_t *data, size_t size)
{
        const uint8_t *lf = memchr(data, '\n', size);
        size_t n = strnlen((const char *)data, lf ? (size_t)(lf - data) : size);
        char *id = malloc(n + 1), path[TG_BEDROCK_PATH_MAX];
        long r;

        if (!id)
                abort();
        memcpy(id, data, n);
        id[n] = '\0';
        r = tg_bedrock_model_path(id, "converse", path, sizeof(path));
        if (n > 0 && n <= TG_MODEL_MAX && !dot_segment(id))
                FZ_CHECK(r > 0);
        if (r > 0)
                check_model_path(id, path, r, "converse");
        r = tg_bedrock_model_path(id, "invoke", path, sizeof(path));
        if (r > 0)
                check_model_path(id, path, r, "invoke");
        free(id);
}

int tg_fuzz_sigv4(const uint8_t *data, size_t size)
{
        fz_req_t r;
        tg_sigv4_result_t res, res2;
        char err[512] = "", err2[512] = "", sh[1024], sig[65];
        char *creq;
        int rc;

        fuzz_model_path(data, size);

        fz_parse(&r, data, size);
        if (r.token && r.n < FZ_MAX_HEADERS) {
                r.values[r.n] = strdup("IQoJb3JpZ2luX2VjEMb//////////wEaCXVz");
                if (!r.values[r.n])
                        abort();
                r.h[r.n].name = "X-Amz-Security-Token";
                r.h[r.n].value = r.values[r.n];
                r.n++;
        }
        tg_sigv4_request_t rq = {
            .method = r.method,
            .path = r.path,
            .query = r.query,
            .headers = r.h,
            .n_headers = r.n,
            .body = r.body,
            .body_len = r.body_len,
            .payload_hash = r.unsigned_payload ? "UNSIGNED-PAYLOAD" : NULL,
        };
        tg_sigv4_params_t pa = {
            .access_key_id = r.akid,
            .secret_access_key = r.secret,
            .region = r.region,
            .service = r.service,
            .amz_date = r.date,
            .s3_path = r.s3_path,
            .no_normalize = r.no_normalize,
        };

        creq = tg_sigv4_canonical_request(&rq, &pa, err, sizeof(err));
        rc = tg_sigv4_sign(&rq, &pa, &res, err2, sizeof(err2));
        if (!creq) {
                FZ_CHECK(err[0] != '\0');
                FZ_CHECK(rc != 0);
        } else {
                check_canonical(creq, &rq, &pa, sh, sizeof(sh));
        }
        if (rc) {
                FZ_CHECK(err2[0] != '\0');
                /* A request the canonicalizer took fails to sign only for
                 * bad parameters: with good ones it must sign. */
                if (creq) {
                        tg_sigv4_params_t good = {
                            .access_key_id = "AKIDEXAMPLE",
                            .secret_access_key = "secret",
                            .region = "us-east-1",
                            .service = "service",
                            .amz_date = "20150830T123600Z",
                            .s3_path = pa.s3_path,
                            .no_normalize = pa.no_normalize,
                        };
                        FZ_CHECK(tg_sigv4_sign(&rq, &good, &res2, err2,
                                               sizeof(err2)) == 0);
                }
        } else {
                char want[2048];

                FZ_CHECK(creq != NULL);
                FZ_CHECK(is_lower_hex64(res.signature));
                if (creq) {
                        FZ_CHECK(strcmp(res.signed_headers, sh) == 0);
                        expected_signature(creq, &pa, sig);
                        FZ_CHECK(strcmp(res.signature, sig) == 0);
                }
                snprintf(want, sizeof(want),
                         "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/"
                         "aws4_request, SignedHeaders=%s, Signature=%s",
                         pa.access_key_id, pa.amz_date, pa.region, pa.service,
                         res.signed_headers, res.signature);
                FZ_CHECK(strcmp(res.authorization, want) == 0);
                FZ_CHECK(tg_sigv4_sign(&rq, &pa, &res2, err2, sizeof(err2)) ==
                             0 &&
                         memcmp(&res, &res2, sizeof(res)) == 0);
        }
        /* Secrets never reach an error message. (Only the default one is
         * looked for: a short fuzzed secret may well be a word of one.) */
        FZ_CHECK(!strstr(err, DEFAULT_SECRET) && !strstr(err2, DEFAULT_SECRET));
        free(creq);
        fz_free(&r);
        return 0;
}

/* ---- Converse responses and errors ------------------------------------- */

static void check_error(const tg_bedrock_error_t *e, long status)
{
        static const size_t sizes[] = {1, 2, 7, 64, 768};
        char reason[768];

        FZ_CHECK(e->http_status == status);
        FZ_CHECK(memchr(e->type, '\0', sizeof(e->type)) != NULL);
        FZ_CHECK(memchr(e->message, '\0', sizeof(e->message)) != NULL);
        FZ_CHECK(e->type[0] != '\0');
        for (const char *c = e->type; *c; c++)
                FZ_CHECK(is_unreserved((unsigned char)*c) && *c != '~');
        FZ_CHECK(e->message[0] != '\0');
        FZ_CHECK(utf8_valid_str(e->message));
        for (const char *c = e->message; *c; c++)
                FZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        FZ_CHECK(!e->throttled || e->retryable);
        FZ_CHECK(!e->billing_unknown || !e->retryable);
        FZ_CHECK(tg_bedrock_reason(e, reason, 0) == -1);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
                int n = tg_bedrock_reason(e, reason, sizes[i]);
                FZ_CHECK(n >= 0 && (size_t)n < sizes[i]);
                FZ_CHECK(strlen(reason) == (size_t)n);
                FZ_CHECK(utf8_valid(reason, strlen(reason)));
        }
}

static void fuzz_classify(const uint8_t *data, size_t size)
{
        static const long statuses[] = {400, 403, 404, 408, 424, 429, 500,
                                        502, 503, 504, 418, 200, 0};
        long status = statuses[size % (sizeof(statuses) / sizeof(*statuses))];
        const char *nl = memchr(data, '\n', size);
        size_t hlen = nl ? (size_t)(nl - (const char *)data) : 0;
        char header[512];
        tg_bedrock_error_t e;

        tg_bedrock_classify(status, NULL, (const char *)data, size, 0, &e);
        FZ_CHECK(e.curl_code == 0 && !e.billing_unknown);
        check_error(&e, status);

        /* First line as x-amzn-ErrorType, the rest as the body. */
        if (nl && hlen < sizeof(header)) {
                memcpy(header, data, hlen);
                header[hlen] = '\0';
                tg_bedrock_classify(status, header, nl + 1, size - hlen - 1, 0,
                                    &e);
                check_error(&e, status);
        }

        if (size) {
                int code = 1 + data[0] % 99;
                tg_bedrock_classify(status, NULL, (const char *)data, size,
                                    code, &e);
                FZ_CHECK(e.curl_code == code);
                check_error(&e, status);
        }
}

int tg_fuzz_converse(const uint8_t *data, size_t size)
{
        tg_converse_result_t out;
        char err[512] = "";
        const tg_catalog_t *cat = default_catalog();
        int r =
            tg_converse_parse((const char *)data, size, &out, err, sizeof(err));

        if (r) {
                FZ_CHECK(r == -1);
                FZ_CHECK(err[0] != '\0');
                FZ_CHECK(out.text == NULL && out.text_len == 0 &&
                         out.usage.input_tokens == 0 &&
                         out.usage.output_tokens == 0 &&
                         out.stop_reason[0] == '\0');
        } else {
                const tg_usage_t *u = &out.usage;

                FZ_CHECK(out.text != NULL);
                FZ_CHECK(out.text && out.text[out.text_len] == '\0');
                FZ_CHECK(out.text && utf8_valid(out.text, out.text_len));
                FZ_CHECK(memchr(out.stop_reason, '\0',
                                sizeof(out.stop_reason)) != NULL);
                for (const char *c = out.stop_reason; *c; c++)
                        FZ_CHECK(*c >= 0x20 && *c < 0x7f);
                FZ_CHECK(u->input_tokens >= 0 &&
                         u->input_tokens <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(u->output_tokens >= 0 &&
                         u->output_tokens <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(u->cache_read_tokens >= 0 &&
                         u->cache_read_tokens <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(u->cache_write_tokens >= 0 &&
                         u->cache_write_tokens <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(out.latency_ms >= 0 &&
                         out.latency_ms <= TG_CONVERSE_COUNT_MAX);
                /* Whatever the counts, settlement can price them. */
                for (size_t i = 0; i < tg_catalog_model_count(cat); i++)
                        FZ_CHECK(
                            tg_cost_usage(&tg_catalog_model_at(cat, i)->price,
                                          u) >= 0);
        }
        tg_converse_result_free(&out);
        FZ_CHECK(out.text == NULL);

        fuzz_classify(data, size);
        return 0;
}
