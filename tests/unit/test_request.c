/* Request validation: each rule, with the error text a user sees. */
#include <stdlib.h>

#include "request.h"
#include "tg_test.h"

static const char *GOOD =
    "{\"requestId\":\"r-1\",\"timestamp\":\"2026-11-27T10:00:00Z\","
    "\"model\":\"nova-lite\",\"prompt\":{\"messages\":["
    "{\"role\":\"system\",\"content\":\"be brief\"},"
    "{\"role\":\"user\",\"content\":\"hello\"}],"
    "\"parameters\":{\"max_tokens\":64,\"temperature\":0.5,"
    "\"top_p\":0.9,\"top_k\":50}},"
    "\"tags\":{\"applicationId\":\"app\",\"costCenter\":\"eng\"}}";

static tg_parse_result_t parse(const char *json, char *err, size_t n)
{
        tg_request_t req;
        tg_parse_result_t r =
            tg_request_parse(&req, json, strlen(json), 0, err, n);
        tg_request_destroy(&req);
        return r;
}

/* Expects `json` to be invalid with an error that starts with `prefix`. */
static void expect_invalid(const char *json, const char *prefix)
{
        char err[512] = "";
        CHECK_INT(parse(json, err, sizeof(err)), TG_PARSE_INVALID);
        if (strncmp(err, prefix, strlen(prefix)) != 0) {
                fprintf(stderr, "error \"%s\" does not start with \"%s\"\n",
                        err, prefix);
                CHECK(0);
        }
}

static char *with(const char *from, const char *to)
{
        const char *p = strstr(GOOD, from);
        size_t n = strlen(GOOD) - strlen(from) + strlen(to) + 1;
        char *out = malloc(n);

        if (!p)
                abort();
        snprintf(out, n, "%.*s%s%s", (int)(p - GOOD), GOOD, to,
                 p + strlen(from));
        return out;
}

static void invalid_with(const char *from, const char *to, const char *prefix)
{
        char *json = with(from, to);
        expect_invalid(json, prefix);
        free(json);
}

static void test_good(void)
{
        tg_request_t req;
        char err[256];

        CHECK_INT(
            tg_request_parse(&req, GOOD, strlen(GOOD), 0, err, sizeof(err)),
            TG_PARSE_OK);
        CHECK_STR(req.request_id, "r-1");
        CHECK_STR(req.model, "nova-lite");
        CHECK_INT(req.n_messages, 2);
        CHECK_INT(req.messages[0].role, TG_ROLE_SYSTEM);
        CHECK_INT(req.text_bytes, 13);
        CHECK_INT(req.params.max_tokens, 64);
        CHECK_INT(req.params.top_k, 50);
        CHECK(req.params.has_temperature && req.params.temperature == 0.5);
        CHECK_STR(tg_request_tag(&req, "costCenter"), "eng");
        CHECK(tg_request_tag(&req, "nope") == NULL);
        tg_request_destroy(&req);
}

static void test_not_json(void)
{
        char err[256];

        CHECK_INT(parse("not json", err, sizeof(err)), TG_PARSE_NOT_JSON);
        CHECK(strncmp(err, "not a JSON object", 17) == 0);
        CHECK_INT(parse("[1,2]", err, sizeof(err)), TG_PARSE_NOT_JSON);
        CHECK_INT(parse("{\"a\":1,\"a\":2}", err, sizeof(err)),
                  TG_PARSE_NOT_JSON);
        CHECK_INT(parse("{\"a\":NaN}", err, sizeof(err)), TG_PARSE_NOT_JSON);
        CHECK_INT(parse("{\"a\":\"\\u0000\"}", err, sizeof(err)),
                  TG_PARSE_NOT_JSON);
        CHECK_INT(parse("{\"a\":\"\xff\"}", err, sizeof(err)),
                  TG_PARSE_NOT_JSON);
        char deep[200];
        memset(deep, '[', 100);
        memset(deep + 100, ']', 99);
        deep[199] = 0;
        CHECK_INT(parse(deep, err, sizeof(err)), TG_PARSE_NOT_JSON);
        CHECK_STR(err, "JSON nested deeper than 32");
}

static void test_rules(void)
{
        invalid_with("\"r-1\"", "\"bad id!\"", "requestId: must be 1-128");
        invalid_with("\"2026-11-27T10:00:00Z\"", "\"yesterday\"",
                     "timestamp: must be RFC 3339");
        invalid_with("\"model\":\"nova-lite\",", "", "model: required");
        invalid_with("\"role\":\"system\"", "\"role\":\"robot\"",
                     "prompt.messages[0].role: must be one of");
        invalid_with("\"content\":\"hello\"", "\"content\":\"\"",
                     "prompt.messages[1].content: required");
        invalid_with("{\"role\":\"system\",\"content\":\"be brief\"},"
                     "{\"role\":\"user\",\"content\":\"hello\"}",
                     "", "prompt.messages: required, a non-empty array");
        invalid_with("{\"role\":\"user\",\"content\":\"hello\"}",
                     "{\"role\":\"assistant\",\"content\":\"hello\"}",
                     "prompt.messages[1].role: the first non-system");
        invalid_with("\"max_tokens\":64", "\"max_tokens\":0",
                     "prompt.parameters.max_tokens: must be an integer");
        invalid_with("\"temperature\":0.5", "\"temperature\":1.5",
                     "prompt.parameters.temperature: must be a number");
        invalid_with("\"top_k\":50", "\"top_k\":50,\"topk\":1",
                     "prompt.parameters.topk: unknown parameter");
        invalid_with("\"applicationId\":\"app\",", "",
                     "tags.applicationId: required");
        invalid_with("\"costCenter\":\"eng\"", "\"costCenter\":\"e{n}g\"",
                     "tags.costCenter: value has a character outside");
        invalid_with("\"costCenter\":\"eng\"", "\"cost$\":\"eng\"",
                     "tags: key \"cost$\" has a character outside");
        invalid_with("\"costCenter\":\"eng\"", "\"costCenter\":7",
                     "tags.costCenter: value must be a string");
        invalid_with("\"tags\":", "\"tag\":{},\"tags\":", "tag: unknown field");
}

static void test_many_tags(void)
{
        char json[4096], *p = json;

        p += sprintf(p, "{\"model\":\"m\",\"prompt\":{\"messages\":[{\"role\":"
                        "\"user\",\"content\":\"x\"}]},\"tags\":{");
        for (int i = 0; i < 33; i++)
                p += sprintf(p, "%s\"k%d\":\"v\"", i ? "," : "", i);
        sprintf(p, "}}");
        expect_invalid(json, "tags: at most 32 tags, got 33");
}

static void test_size(void)
{
        tg_request_t req;
        char err[256];

        CHECK_INT(
            tg_request_parse(&req, GOOD, strlen(GOOD), 100, err, sizeof(err)),
            TG_PARSE_INVALID);
        CHECK(strstr(err, "over the 100-byte limit") != NULL);
        CHECK_STR(req.request_id, "r-1");
        tg_request_destroy(&req);
}

/* A bad envelope is what the user reads, but the tags still reach the
 * events, and an error quoting input cut mid-character stays UTF-8. */
static void test_bad_envelope_keeps_tags(void)
{
        tg_request_t req;
        char err[256];
        char *json = with("\"r-1\"", "\"bad id\"");
        char key[80];

        CHECK_INT(
            tg_request_parse(&req, json, strlen(json), 0, err, sizeof(err)),
            TG_PARSE_INVALID);
        CHECK(strncmp(err, "requestId:", 10) == 0);
        CHECK_STR(tg_request_tag(&req, "costCenter"), "eng");
        tg_request_destroy(&req);
        free(json);
        memset(key, 'k', 63);
        memcpy(key + 63, "\xc3\xa9", 3); /* "é" across the 64-byte cut */
        char buf[256];
        snprintf(buf, sizeof(buf),
                 "{\"model\":\"m\",\"tags\":{\"applicationId\":\"a\","
                 "\"%s\":7}}",
                 key);
        CHECK_INT(parse(buf, err, sizeof(err)), TG_PARSE_INVALID);
        CHECK(strstr(err, "?: value must be a string") != NULL);
}

int main(void)
{
        test_bad_envelope_keeps_tags();
        test_good();
        test_not_json();
        test_rules();
        test_many_tags();
        test_size();
        return tg_test_done("test_request");
}
