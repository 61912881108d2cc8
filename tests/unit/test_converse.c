/*
 * Converse request bodies, response parsing and call paths.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bedrock/converse.h"
#include "request.h"
#include "aws/bedrock_auth.h"
#include "tg_test.h"

/* Builds the body for a request whose `prompt` is given as JSON text. */
static char *build(const char *prompt, tg_family_t family, int64_t max_out,
                   char *err, size_t err_size)
{
        char json[4096];
        tg_request_t req;
        tg_model_t model = {.alias = "m",
                            .model_id = "x",
                            .family = family,
                            .max_output_tokens = max_out};
        size_t len = 0;
        char *body;

        snprintf(json, sizeof(json),
                 "{\"model\":\"m\",\"prompt\":%s,"
                 "\"tags\":{\"applicationId\":\"t\"}}",
                 prompt);
        if (tg_request_parse(&req, json, strlen(json), 0, err, err_size) !=
            TG_PARSE_OK) {
                fprintf(stderr, "request rejected: %s\n", err);
                tg_request_destroy(&req);
                return NULL;
        }
        body = tg_converse_build(&req, &model, &len, err, err_size);
        CHECK(!body || len == strlen(body));
        tg_request_destroy(&req);
        return body;
}

static void check_build(const char *prompt, tg_family_t family, int64_t max_out,
                        const char *want)
{
        char err[256] = "";
        char *body = build(prompt, family, max_out, err, sizeof(err));

        CHECK_STR(body, want);
        free(body);
}

static void test_build_nova(void)
{
        /* System lifted out, maxTokens defaulted to the model's maximum,
         * doubles printed as written, topK in Nova's nested form. */
        check_build("{\"messages\":[{\"role\":\"system\",\"content\":\"Be "
                    "brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}],"
                    "\"parameters\":{\"temperature\":0.1,\"top_p\":0.9,"
                    "\"top_k\":50}}",
                    TG_FAMILY_NOVA, 5000,
                    "{\"system\":[{\"text\":\"Be brief.\"}],"
                    "\"messages\":[{\"role\":\"user\",\"content\":[{"
                    "\"text\":\"Hi\"}]}],"
                    "\"inferenceConfig\":{\"maxTokens\":5000,"
                    "\"temperature\":0.1,\"topP\":0.9},"
                    "\"additionalModelRequestFields\":{\"inferenceConfig\":{"
                    "\"topK\":50}}}");
}

static void test_build_anthropic_merge(void)
{
        /* Runs of one role become one turn with several text blocks;
         * system messages keep their order wherever they appear. */
        check_build("{\"messages\":["
                    "{\"role\":\"system\",\"content\":\"s1\"},"
                    "{\"role\":\"user\",\"content\":\"a\"},"
                    "{\"role\":\"user\",\"content\":\"b\"},"
                    "{\"role\":\"assistant\",\"content\":\"c\"},"
                    "{\"role\":\"system\",\"content\":\"s2\"},"
                    "{\"role\":\"assistant\",\"content\":\"d\"},"
                    "{\"role\":\"user\",\"content\":\"e\"}],"
                    "\"parameters\":{\"max_tokens\":100,\"top_k\":5}}",
                    TG_FAMILY_ANTHROPIC, 4096,
                    "{\"system\":[{\"text\":\"s1\"},{\"text\":\"s2\"}],"
                    "\"messages\":["
                    "{\"role\":\"user\",\"content\":[{\"text\":\"a\"},{"
                    "\"text\":\"b\"}]},"
                    "{\"role\":\"assistant\",\"content\":[{\"text\":\"c\"},"
                    "{\"text\":\"d\"}]},"
                    "{\"role\":\"user\",\"content\":[{\"text\":\"e\"}]}],"
                    "\"inferenceConfig\":{\"maxTokens\":100},"
                    "\"additionalModelRequestFields\":{\"top_k\":5}}");
}

static void test_build_no_top_k_families(void)
{
        const char *prompt =
            "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
            "\"parameters\":{\"temperature\":1,\"top_k\":40}}";
        const char *want =
            "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":"
            "\"q\"}]}],\"inferenceConfig\":{\"maxTokens\":2048,"
            "\"temperature\":1.0}}";

        check_build(prompt, TG_FAMILY_META, 2048, want);
        check_build(prompt, TG_FAMILY_MISTRAL, 2048, want);
        check_build(prompt, TG_FAMILY_OTHER, 2048, want);
}

static void test_build_text_escaping(void)
{
        /* Quotes, newlines and non-ASCII survive as JSON escapes / UTF-8. */
        check_build("{\"messages\":[{\"role\":\"user\",\"content\":"
                    "\"say \\\"h\\u00e9\\\"\\n\"}],"
                    "\"parameters\":{\"max_tokens\":7}}",
                    TG_FAMILY_NOVA, 100,
                    "{\"messages\":[{\"role\":\"user\",\"content\":[{"
                    "\"text\":\"say \\\"h\xc3\xa9\\\"\\n\"}]}],"
                    "\"inferenceConfig\":{\"maxTokens\":7}}");
}

static void test_build_reals_roundtrip(void)
{
        char err[256];
        char *body = build("{\"messages\":[{\"role\":\"user\",\"content\":"
                           "\"q\"}],\"parameters\":{\"temperature\":0.7,"
                           "\"top_p\":0.123456789}}",
                           TG_FAMILY_NOVA, 10, err, sizeof(err));
        json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
        json_t *cfg = json_object_get(doc, "inferenceConfig");

        CHECK(json_is_real(json_object_get(cfg, "temperature")));
        CHECK(json_real_value(json_object_get(cfg, "temperature")) == 0.7);
        CHECK(json_real_value(json_object_get(cfg, "topP")) == 0.123456789);
        json_decref(doc);
        free(body);
}

/* Requests the schema check would refuse, built by hand to prove the
 * builder refuses them too. */
static void test_build_rejects(void)
{
        tg_message_t msgs[2] = {{TG_ROLE_SYSTEM, "s", 1, TG_CACHE_NONE},
                                {TG_ROLE_ASSISTANT, "a", 1, TG_CACHE_NONE}};
        tg_request_t req = {.messages = msgs, .n_messages = 2};
        tg_model_t model = {.family = TG_FAMILY_NOVA, .max_output_tokens = 1};
        char err[256] = "";
        size_t len = 99;

        CHECK(tg_converse_build(&req, &model, &len, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "messages[1].role") != NULL);
        req.n_messages = 1; /* system only */
        CHECK(tg_converse_build(&req, &model, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "at least one user") != NULL);
        msgs[1] = (tg_message_t){TG_ROLE_USER, "", 0, TG_CACHE_NONE};
        req.n_messages = 2;
        CHECK(tg_converse_build(&req, &model, NULL, err, sizeof(err)) == NULL);
        CHECK_STR(err, "prompt.messages[1].content: empty");
        msgs[1] = (tg_message_t){TG_ROLE_USER, "\xff", 1, TG_CACHE_NONE};
        CHECK(tg_converse_build(&req, &model, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "UTF-8") != NULL);
}

/* The shape of the Converse API reference's example response, with a
 * reasoning block and a tool-use block around the text. */
static const char real_response[] =
    "{\"metrics\":{\"latencyMs\":1275},"
    "\"output\":{\"message\":{\"content\":["
    "{\"reasoningContent\":{\"reasoningText\":{\"text\":\"hmm\","
    "\"signature\":\"c2ln\"}}},"
    "{\"text\":\"Hello\"},"
    "{\"toolUse\":{\"toolUseId\":\"t1\",\"name\":\"f\",\"input\":{"
    "\"a\":[1,{\"b\":2}]}}},"
    "{\"text\":\", w\\u00f6rld\"}],"
    "\"role\":\"assistant\"}},"
    "\"stopReason\":\"end_turn\","
    "\"usage\":{\"inputTokens\":30,\"outputTokens\":628,"
    "\"totalTokens\":658,\"cacheReadInputTokens\":1200,"
    "\"cacheWriteInputTokens\":64}}";

static void test_parse_real(void)
{
        tg_converse_result_t r;
        char err[256] = "";

        CHECK_INT(tg_converse_parse(real_response, strlen(real_response), &r,
                                    err, sizeof(err)),
                  0);
        CHECK_STR(r.text, "Hello, w\xc3\xb6rld");
        CHECK_INT(r.text_len, strlen("Hello, w\xc3\xb6rld"));
        CHECK_STR(r.stop_reason, "end_turn");
        CHECK_INT(r.usage.input_tokens, 30);
        CHECK_INT(r.usage.output_tokens, 628);
        CHECK_INT(r.usage.cache_read_tokens, 1200);
        CHECK_INT(r.usage.cache_write_tokens, 64);
        CHECK_INT(r.latency_ms, 1275);
        tg_converse_result_free(&r);
        CHECK(r.text == NULL);
        tg_converse_result_free(&r); /* twice is harmless */
}

static void test_parse_minimal(void)
{
        /* No cache counts, no metrics, no text block, and bytes past len
         * that must not be read. */
        const char body[] = "{\"output\":{\"message\":{\"role\":\"assistant\","
                            "\"content\":[]}},\"stopReason\":\"max_tokens\","
                            "\"usage\":{\"inputTokens\":0,\"outputTokens\":0,"
                            "\"totalTokens\":0}}GARBAGE";
        tg_converse_result_t r;
        char err[256] = "";

        CHECK_INT(
            tg_converse_parse(body, strlen(body) - 7, &r, err, sizeof(err)), 0);
        CHECK_STR(r.text, "");
        CHECK_INT(r.text_len, 0);
        CHECK_STR(r.stop_reason, "max_tokens");
        CHECK_INT(r.usage.cache_read_tokens, 0);
        CHECK_INT(r.latency_ms, 0);
        tg_converse_result_free(&r);
}

static void test_parse_stop_reason_sanitized(void)
{
        const char body[] =
            "{\"output\":{\"message\":{\"content\":[{\"text\":\"x\"}]}},"
            "\"stopReason\":\"a_very_long_stop_reason_from_the_future\\n"
            "\","
            "\"usage\":{\"inputTokens\":1,\"outputTokens\":1,"
            "\"totalTokens\":2}}";
        const char body2[] = "{\"output\":{\"message\":{\"content\":[]}},"
                             "\"stopReason\":\"\\u00e9nd\\t\","
                             "\"usage\":{\"inputTokens\":1,\"outputTokens\":1,"
                             "\"totalTokens\":2}}";
        tg_converse_result_t r;
        char err[256] = "";

        CHECK_INT(tg_converse_parse(body, strlen(body), &r, err, sizeof(err)),
                  0);
        CHECK_STR(r.stop_reason, "a_very_long_stop_reason_from_th");
        tg_converse_result_free(&r);
        CHECK_INT(tg_converse_parse(body2, strlen(body2), &r, err, sizeof(err)),
                  0);
        CHECK_STR(r.stop_reason, "??nd?");
        tg_converse_result_free(&r);
}

/* A response with `usage` (and anything else) replaced by `tail`. */
static int parse_with(const char *tail, char *err, size_t err_size)
{
        char body[1024];
        tg_converse_result_t r;
        int rc;

        snprintf(body, sizeof(body),
                 "{\"output\":{\"message\":{\"content\":[{\"text\":\"x\"}]}},"
                 "\"stopReason\":\"end_turn\"%s}",
                 tail);
        rc = tg_converse_parse(body, strlen(body), &r, err, err_size);
        CHECK(rc == 0 || (r.text == NULL && r.usage.input_tokens == 0));
        tg_converse_result_free(&r);
        return rc;
}

#define USAGE(in)                                                              \
        ",\"usage\":{\"inputTokens\":" in ",\"outputTokens\":1,"               \
        "\"totalTokens\":2}"

static void test_parse_bad_usage(void)
{
        char err[256];

        CHECK_INT(parse_with(USAGE("1"), err, sizeof(err)), 0);
        CHECK_INT(parse_with("", err, sizeof(err)), -1);
        CHECK_STR(err, "usage: missing or not an object");
        CHECK_INT(parse_with(",\"usage\":[]", err, sizeof(err)), -1);
        CHECK_INT(parse_with(USAGE("-1"), err, sizeof(err)), -1);
        CHECK_STR(err, "usage.inputTokens: must be an integer from 0 to "
                       "1000000000");
        CHECK_INT(parse_with(USAGE("1.0"), err, sizeof(err)), -1);
        CHECK_INT(parse_with(USAGE("\"1\""), err, sizeof(err)), -1);
        CHECK_INT(parse_with(USAGE("null"), err, sizeof(err)), -1);
        CHECK_INT(parse_with(USAGE("1000000001"), err, sizeof(err)), -1);
        CHECK_INT(parse_with(USAGE("1e3"), err, sizeof(err)), -1);
        CHECK_INT(
            parse_with(USAGE("99999999999999999999999"), err, sizeof(err)), -1);
        CHECK_INT(parse_with(",\"usage\":{\"inputTokens\":1,"
                             "\"totalTokens\":2}",
                             err, sizeof(err)),
                  -1);
        CHECK_STR(err, "usage.outputTokens: missing");
        CHECK_INT(parse_with(",\"usage\":{\"inputTokens\":1,"
                             "\"outputTokens\":1}",
                             err, sizeof(err)),
                  -1);
        CHECK_INT(parse_with(USAGE("1") ",\"usage\":{}", err, sizeof(err)),
                  -1); /* duplicate key */
        CHECK_INT(parse_with(",\"usage\":{\"inputTokens\":1,\"inputTokens\":"
                             "9,\"outputTokens\":1,\"totalTokens\":2}",
                             err, sizeof(err)),
                  -1);
        CHECK_INT(parse_with(",\"usage\":{\"inputTokens\":1,\"outputTokens\":"
                             "1,\"totalTokens\":2,\"cacheReadInputTokens\":"
                             "-5}",
                             err, sizeof(err)),
                  -1);
        CHECK_INT(parse_with(USAGE("1") ",\"metrics\":{\"latencyMs\":-1}", err,
                             sizeof(err)),
                  -1);
        CHECK_INT(parse_with(USAGE("1") ",\"metrics\":7", err, sizeof(err)),
                  -1);
}

static void check_rejected(const char *body, const char *why)
{
        tg_converse_result_t r;
        char err[256] = "";

        if (tg_converse_parse(body, strlen(body), &r, err, sizeof(err)) != -1) {
                fprintf(stderr, "accepted (%s): %s\n", why, body);
                CHECK(0);
        }
        CHECK(r.text == NULL);
        CHECK(err[0] != '\0');
}

static void test_parse_bad_shape(void)
{
        const char *u = "\"usage\":{\"inputTokens\":1,\"outputTokens\":1,"
                        "\"totalTokens\":2}";
        char body[512];

        check_rejected("", "empty");
        check_rejected("not json", "not JSON");
        check_rejected("[1,2]", "array");
        check_rejected("\"x\"", "string");
        check_rejected("{\"output\":", "truncated");
        snprintf(body, sizeof(body), "{\"stopReason\":\"end_turn\",%s}", u);
        check_rejected(body, "no output");
        snprintf(body, sizeof(body),
                 "{\"output\":{\"message\":{\"content\":{}}},"
                 "\"stopReason\":\"end_turn\",%s}",
                 u);
        check_rejected(body, "content not an array");
        snprintf(body, sizeof(body),
                 "{\"output\":{\"message\":{\"content\":[\"x\"]}},"
                 "\"stopReason\":\"end_turn\",%s}",
                 u);
        check_rejected(body, "block not an object");
        snprintf(body, sizeof(body),
                 "{\"output\":{\"message\":{\"content\":[{\"text\":1}]}},"
                 "\"stopReason\":\"end_turn\",%s}",
                 u);
        check_rejected(body, "text not a string");
        snprintf(body, sizeof(body),
                 "{\"output\":{\"message\":{\"content\":[]}},%s}", u);
        check_rejected(body, "no stopReason");
        snprintf(body, sizeof(body),
                 "{\"output\":{\"message\":{\"content\":[]}},"
                 "\"stopReason\":3,%s}",
                 u);
        check_rejected(body, "stopReason not a string");
}

static void test_parse_limits(void)
{
        char deep[1024] = "{\"x\":";
        char err[256];
        tg_converse_result_t r;
        char *big;
        size_t n = strlen(deep);

        /* 100 levels inside an ignored field: refused before parsing. */
        for (int i = 0; i < 100; i++)
                deep[n++] = '[';
        for (int i = 0; i < 100; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = '\0';
        CHECK_INT(tg_converse_parse(deep, n, &r, err, sizeof(err)), -1);
        CHECK(strstr(err, "nested") != NULL);
        /* Over the size cap: refused without reading a byte of it. */
        big = malloc((size_t)TG_CONVERSE_BODY_MAX + 1);
        if (big) {
                memset(big, ' ', (size_t)TG_CONVERSE_BODY_MAX + 1);
                big[0] = '{';
                CHECK_INT(tg_converse_parse(big, TG_CONVERSE_BODY_MAX + 1, &r,
                                            err, sizeof(err)),
                          -1);
                free(big);
        }
        CHECK_INT(tg_converse_parse(NULL, 0, &r, err, sizeof(err)), -1);
}

static void check_path(const char *target, const char *op, const char *want)
{
        char out[TG_BEDROCK_PATH_MAX];

        CHECK_INT(tg_bedrock_model_path(target, op, out, sizeof(out)),
                  (long)strlen(want));
        CHECK_STR(out, want);
}

static void test_path(void)
{
        char small[32], huge[TG_MODEL_MAX + 1];
        char out[TG_BEDROCK_PATH_MAX];

        check_path("amazon.nova-lite-v1:0", "converse",
                   "/model/amazon.nova-lite-v1%3A0/converse");
        check_path("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "invoke",
                   "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/"
                   "invoke");
        check_path("arn:aws:bedrock:us-east-1:123456789012:application-"
                   "inference-profile/a1b2c3",
                   "converse",
                   "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
                   "application-inference-profile%2Fa1b2c3/converse");
        /* Hostile ids stay one path segment on the Bedrock host. */
        check_path("../../x", "converse", "/model/..%2F..%2Fx/converse");
        check_path("a@evil.com", "converse", "/model/a%40evil.com/converse");
        check_path("x?y#z", "converse", "/model/x%3Fy%23z/converse");
        check_path("%2F", "converse", "/model/%252F/converse");
        check_path("a b\xc3\xa9", "converse", "/model/a%20b%C3%A9/converse");
        check_path("http://evil.com/", "converse",
                   "/model/http%3A%2F%2Fevil.com%2F/converse");
        /* Refusals. */
        CHECK_INT(tg_bedrock_model_path("", "converse", out, sizeof(out)), -1);
        CHECK_INT(tg_bedrock_model_path(NULL, "converse", out, sizeof(out)),
                  -1);
        CHECK_INT(tg_bedrock_model_path("m", "Delete", out, sizeof(out)), -1);
        CHECK_INT(tg_bedrock_model_path("m", NULL, out, sizeof(out)), -1);
        CHECK_INT(tg_bedrock_model_path("..", "converse", out, sizeof(out)),
                  -1);
        CHECK_INT(tg_bedrock_model_path(".", "converse", out, sizeof(out)), -1);
        /* Exact fit: "/model/m:/converse" is 20 bytes plus NUL. */
        CHECK_INT(tg_bedrock_model_path("m:", "converse", small, 21), 20);
        CHECK_STR(small, "/model/m%3A/converse");
        CHECK_INT(tg_bedrock_model_path("m:", "converse", small, 20), -1);
        CHECK_INT(tg_bedrock_model_path("m:", "converse", small, 9), -1);
        CHECK_INT(tg_bedrock_model_path("m:", "converse", small, 3), -1);
        /* The worst case fits TG_BEDROCK_PATH_MAX. */
        memset(huge, ':', TG_MODEL_MAX);
        huge[TG_MODEL_MAX] = '\0';
        CHECK_INT(tg_bedrock_model_path(huge, "converse", out, sizeof(out)),
                  7 + 3 * TG_MODEL_MAX + 9);
        CHECK_INT(strlen(out), 7 + 3 * TG_MODEL_MAX + 9);
}

int main(void)
{
        test_build_nova();
        test_build_anthropic_merge();
        test_build_no_top_k_families();
        test_build_text_escaping();
        test_build_reals_roundtrip();
        test_build_rejects();
        test_parse_real();
        test_parse_minimal();
        test_parse_stop_reason_sanitized();
        test_parse_bad_usage();
        test_parse_bad_shape();
        test_parse_limits();
        test_path();
        return tg_test_done("test_converse");
}
