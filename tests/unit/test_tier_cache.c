/* Service tiers, cache points and request metadata (docs/operations.md,
 * "Service tiers, prompt caching and request metadata"): the request
 * fields, their checks against the model, the Converse body, the
 * response's serviceTier and cacheDetails, and the tier and TTL
 * arithmetic of reservation and settlement, against hand-computed figures
 * (a price of $P per 1M tokens is P * 1000 nano-USD per token). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bedrock/converse.h"
#include "budget.h"
#include "catalog.h"
#include "tg_test.h"

static const char *CAT =
    "{\"priceVersion\":\"t\",\"models\":["
    "{\"alias\":\"np\",\"modelId\":\"amazon.nova-pro-v1:0\","
    "\"maxOutputTokens\":5000,\"promptCaching\":true,"
    "\"price\":{\"input\":\"0.8\",\"output\":\"3.2\",\"cacheRead\":\"0.2\","
    "\"cacheWrite\":\"0\"},\"tiers\":{\"priority\":{\"price\":{\"input\":"
    "\"1.4\",\"output\":\"5.6\",\"cacheRead\":\"0.35\"}},\"flex\":{\"price\":"
    "{\"input\":\"0.4\",\"output\":\"1.6\",\"cacheRead\":\"0.1\"}}}},"
    "{\"alias\":\"s\",\"modelId\":\"anthropic.claude-sonnet-4-5-v1:0\","
    "\"maxOutputTokens\":64000,\"promptCaching\":true,"
    "\"price\":{\"input\":\"3.3\",\"output\":\"16.5\",\"cacheRead\":\"0.33\","
    "\"cacheWrite\":\"4.125\",\"cacheWrite1h\":\"6.6\"}},"
    "{\"alias\":\"ll\",\"modelId\":\"meta.llama3-8b-instruct-v1:0\","
    "\"maxOutputTokens\":2048,\"promptCaching\":false,"
    "\"price\":{\"input\":\"0.3\",\"output\":\"0.6\"}}]}";

static const tg_model_t *model(const tg_catalog_t *c, const char *alias)
{
        for (size_t i = 0; i < tg_catalog_model_count(c); i++)
                if (strcmp(tg_catalog_model_at(c, i)->alias, alias) == 0)
                        return tg_catalog_model_at(c, i);
        return NULL;
}

static int parse(tg_request_t *r, const char *json, char *err)
{
        return tg_request_parse(r, json, strlen(json), 0, err, 256);
}

#define REQ(msgs, params, tags)                                                \
        "{\"model\":\"np\",\"prompt\":{\"messages\":[" msgs                    \
        "],\"parameters\":{" params                                            \
        "}},\"tags\":{\"applicationId\":\"a\"" tags "}}"

static void test_parse(void)
{
        tg_request_t r;
        char err[256];

        CHECK_INT(parse(&r,
                        REQ("{\"role\":\"system\",\"content\":\"sys\","
                            "\"cachePoint\":{\"ttl\":\"1h\"}},"
                            "{\"role\":\"user\",\"content\":\"hi\","
                            "\"cachePoint\":{}}",
                            "\"max_tokens\":10,\"service_tier\":\"flex\"", ""),
                        err),
                  TG_PARSE_OK);
        CHECK(r.params.has_service_tier &&
              r.params.service_tier == TG_TIER_FLEX);
        CHECK_INT(r.messages[0].cache, TG_CACHE_1H);
        CHECK_INT(r.messages[1].cache, TG_CACHE_DEFAULT);
        CHECK_INT(r.n_cache_points, 2);
        tg_request_destroy(&r);
        CHECK_INT(parse(&r,
                        REQ("{\"role\":\"user\",\"content\":\"hi\"}",
                            "\"service_tier\":\"turbo\"", ""),
                        err),
                  TG_PARSE_INVALID);
        CHECK_STR(err, "prompt.parameters.service_tier: must be one of "
                       "priority, default, flex");
        tg_request_destroy(&r);
        CHECK_INT(parse(&r,
                        REQ("{\"role\":\"user\",\"content\":\"hi\","
                            "\"cachePoint\":{\"ttl\":\"2h\"}}",
                            "", ""),
                        err),
                  TG_PARSE_INVALID);
        CHECK_STR(err, "prompt.messages[0].cachePoint: must be an object with "
                       "an optional ttl of \"5m\" or \"1h\"");
        tg_request_destroy(&r);
#define CP "{\"role\":\"user\",\"content\":\"x\",\"cachePoint\":{}}"
        CHECK_INT(parse(&r, REQ(CP "," CP "," CP "," CP "," CP, "", ""), err),
                  TG_PARSE_INVALID);
        CHECK_STR(err, "prompt.messages[4].cachePoint: at most 4 cache points "
                       "a request");
        tg_request_destroy(&r);
}

static void test_check_model(const tg_catalog_t *c)
{
        tg_request_t r;
        char err[256];

        parse(&r,
              REQ("{\"role\":\"system\",\"content\":\"sys\","
                  "\"cachePoint\":{\"ttl\":\"1h\"}},"
                  "{\"role\":\"user\",\"content\":\"hi\"}",
                  "\"service_tier\":\"flex\"", ""),
              err);
        CHECK_INT(tg_request_check_model(&r, model(c, "np"), err, sizeof(err)),
                  -1);
        CHECK_STR(err, "prompt.messages[0].cachePoint.ttl: model np has no "
                       "1-hour cache at the flex tier (5m only)");
        CHECK_INT(tg_request_check_model(&r, model(c, "s"), err, sizeof(err)),
                  -1);
        CHECK_STR(err, "prompt.parameters.service_tier: model s does not "
                       "offer the flex tier (the catalog has no price for "
                       "it)");
        r.params.has_service_tier = 0;
        CHECK_INT(tg_request_check_model(&r, model(c, "s"), err, sizeof(err)),
                  0);
        CHECK_INT(tg_request_check_model(&r, model(c, "ll"), err, sizeof(err)),
                  -1);
        CHECK_STR(err, "prompt.messages[0].cachePoint: model ll has no "
                       "prompt caching");
        tg_request_destroy(&r);
}

static void test_body(const tg_catalog_t *c)
{
        tg_request_t r;
        char err[256];
        tg_converse_opts_t o = {.request_id = "rid"};
        char *body;

        parse(&r,
              REQ("{\"role\":\"system\",\"content\":\"sys\","
                  "\"cachePoint\":{\"ttl\":\"1h\"}},"
                  "{\"role\":\"user\",\"content\":\"hi\",\"cachePoint\":{}}",
                  "\"max_tokens\":10",
                  ",\"requestId\":\"tag-loses\",\"costCenter\":\"c\""),
              err);
        body = tg_converse_build_opts(&r, model(c, "s"), &o, NULL, err,
                                      sizeof(err));
        CHECK_STR(body,
                  "{\"system\":[{\"text\":\"sys\"},{\"cachePoint\":{\"type\":"
                  "\"default\",\"ttl\":\"1h\"}}],\"messages\":[{\"role\":"
                  "\"user\",\"content\":[{\"text\":\"hi\"},{\"cachePoint\":{"
                  "\"type\":\"default\"}}]}],\"inferenceConfig\":{"
                  "\"maxTokens\":10},\"requestMetadata\":{\"requestId\":"
                  "\"rid\",\"applicationId\":\"a\",\"costCenter\":\"c\"}}");
        free(body);
        /* a 5-minute-only model gets no ttl; a degraded call its tier */
        r.messages[0].cache = TG_CACHE_5M;
        o.tier = TG_TIER_FLEX;
        o.send_tier = 1;
        o.request_id = NULL;
        body = tg_converse_build_opts(&r, model(c, "np"), &o, NULL, err,
                                      sizeof(err));
        CHECK_STR(body,
                  "{\"system\":[{\"text\":\"sys\"},{\"cachePoint\":{\"type\":"
                  "\"default\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
                  "[{\"text\":\"hi\"},{\"cachePoint\":{\"type\":\"default\"}}]}"
                  "],\"inferenceConfig\":{\"maxTokens\":10},\"serviceTier\":{"
                  "\"type\":\"flex\"}}");
        free(body);
        tg_request_destroy(&r);
}

/* 32 tags: requestId, applicationId and the first 14 others fit in 16. */
static void test_metadata_cap(const tg_catalog_t *c)
{
        char json[4096], tags[2048] = "", err[256], *body;
        tg_converse_opts_t o = {.request_id = "r"};
        tg_request_t r;
        size_t n = 0;

        for (int i = 0; i < 31; i++)
                n += (size_t)snprintf(tags + n, sizeof(tags) - n,
                                      ",\"t%d\":\"v\"", i);
        snprintf(json, sizeof(json),
                 "{\"model\":\"np\",\"prompt\":{\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"hi\"}]},\"tags\":{\"applicationId\":"
                 "\"a\"%s}}",
                 tags);
        CHECK_INT(parse(&r, json, err), TG_PARSE_OK);
        body = tg_converse_build_opts(&r, model(c, "np"), &o, NULL, err,
                                      sizeof(err));
        CHECK(body && strstr(body, "\"t13\":\"v\"}}") != NULL);
        CHECK(body && strstr(body, "\"t14\"") == NULL);
        free(body);
        tg_request_destroy(&r);
}

#define RESP(usage, extra)                                                     \
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{"      \
        "\"text\":\"ok\"}]}},\"stopReason\":\"end_turn\",\"usage\":{"          \
        "\"inputTokens\":10,\"outputTokens\":5,\"totalTokens\":15" usage       \
        "},\"metrics\":{\"latencyMs\":1}" extra "}"

static void test_response(const tg_catalog_t *c)
{
        static const char ok[] = RESP(
            ",\"cacheReadInputTokens\":100,\"cacheWriteInputTokens\":300,"
            "\"cacheDetails\":[{\"ttl\":\"1h\",\"inputTokens\":200},{\"ttl\":"
            "\"5m\",\"inputTokens\":100}]",
            ",\"serviceTier\":{\"type\":\"flex\"}");
        static const char over[] = RESP(
            ",\"cacheWriteInputTokens\":300,\"cacheDetails\":[{\"ttl\":\"1h\","
            "\"inputTokens\":400}]",
            "");
        static const char ttl[] = RESP(
            ",\"cacheWriteInputTokens\":3,\"cacheDetails\":[{\"ttl\":\"2h\","
            "\"inputTokens\":3}]",
            ",\"serviceTier\":{\"type\":\"reserved\"}");
        tg_converse_result_t r;
        char err[256];

        CHECK_INT(tg_converse_parse(ok, strlen(ok), &r, err, sizeof(err)), 0);
        CHECK(r.has_tier && r.tier == TG_TIER_FLEX);
        CHECK_STR(r.tier_name, "flex");
        CHECK_INT(r.usage.cache_write_tokens, 300);
        CHECK_INT(r.usage.cache_write_1h_tokens, 200);
        CHECK_INT(r.usage.cache_read_tokens, 100);
        /* s, default, regional: 10 x 3300 + 5 x 16500 + 100 x 330
         * + 100 x 4125 (5 min) + 200 x 6600 (1 h)
         * = 33000 + 82500 + 33000 + 412500 + 1320000 = 1881000 */
        CHECK_INT(tg_cost_settle(model(c, "s"), TG_TIER_DEFAULT,
                                 "anthropic.claude-sonnet-4-5-v1:0", &r.usage),
                  1881000);
        tg_converse_result_free(&r);
        CHECK_INT(tg_converse_parse(over, strlen(over), &r, err, sizeof(err)),
                  -1);
        CHECK_STR(err, "usage.cacheDetails: more tokens than "
                       "cacheWriteInputTokens");
        CHECK_INT(tg_converse_parse(ttl, strlen(ttl), &r, err, sizeof(err)),
                  -1);
        CHECK_STR(err, "usage.cacheDetails[0].ttl: must be 5m or 1h");
}

static void test_tier_costs(const tg_catalog_t *c)
{
        const tg_model_t *np = model(c, "np"), *s = model(c, "s");
        tg_usage_t u = {.input_tokens = 1000, .output_tokens = 100};
        tg_request_t r;
        tg_bound_t d, f, g;
        tg_tier_pick_t p;
        char err[256];

        /* np flex: 1000 x 400 + 100 x 1600 = 560000; default:
         * 1000 x 800 + 100 x 3200 = 1120000; priority 1000 x 1400
         * + 100 x 5600 = 1960000 */
        CHECK_INT(tg_cost_settle(np, TG_TIER_FLEX, "amazon.nova-pro-v1:0", &u),
                  560000);
        CHECK_INT(
            tg_cost_settle(np, TG_TIER_DEFAULT, "us.amazon.nova-pro-v1:0", &u),
            1120000);
        CHECK_INT(
            tg_cost_settle(np, TG_TIER_PRIORITY, "amazon.nova-pro-v1:0", &u),
            1960000);
        /* billed at what Bedrock reports, when it has a price */
        CHECK_INT(tg_tier_billed(np, TG_TIER_DEFAULT, 1, TG_TIER_FLEX),
                  TG_TIER_FLEX);
        CHECK_INT(tg_tier_billed(s, TG_TIER_DEFAULT, 1, TG_TIER_FLEX),
                  TG_TIER_DEFAULT);
        CHECK_INT(tg_tier_billed(np, TG_TIER_FLEX, 0, TG_TIER_DEFAULT),
                  TG_TIER_FLEX);
        parse(&r,
              REQ("{\"role\":\"user\",\"content\":\"hi\"}", "\"max_tokens\":10",
                  ""),
              err);
        CHECK_INT(tg_cost_bound_tier(np, TG_TIER_DEFAULT, &r, &d), 0);
        CHECK_INT(tg_cost_bound(np, &r, &g), 0);
        CHECK_INT(d.cost_nano, g.cost_nano);
        CHECK_INT(tg_cost_bound_tier(np, TG_TIER_FLEX, &r, &f), 0);
        /* dearest flex input class 400/token, 2 classes priced (+2 for
         * their roundings), output 10 x 1600 */
        CHECK_INT(f.cost_nano, f.input_tokens * 400 + 2 + 10 * 1600);
        CHECK_INT(d.cost_nano, d.input_tokens * 800 + 2 + 10 * 3200);
        CHECK_INT(tg_cost_bound_tier(s, TG_TIER_FLEX, &r, &g), -1);
        /* what admit.lua may move to */
        CHECK_INT(tg_degrade_bound(np, &r, 80, TG_TIER_FLEX, d.cost_nano),
                  f.cost_nano);
        CHECK_INT(tg_degrade_bound(np, &r, 0, TG_TIER_FLEX, d.cost_nano), -1);
        CHECK_INT(tg_degrade_bound(np, &r, 80, TG_TIER_PRIORITY, d.cost_nano),
                  -1);
        CHECK_INT(tg_degrade_bound(s, &r, 80, TG_TIER_FLEX, d.cost_nano), -1);
        tg_tier_pick_init(&p, &r);
        CHECK_INT(tg_tier_pick_take(&p, "", ""), 0);
        CHECK(p.tier == TG_TIER_DEFAULT && !p.send);
        CHECK_INT(tg_tier_pick_take(&p, "flex", "deg"), 0);
        CHECK(p.tier == TG_TIER_FLEX && p.send && strcmp(p.by, "deg") == 0);
        CHECK_INT(tg_tier_pick_take(&p, "bogus", ""), -1);
        tg_request_destroy(&r);
}

int main(void)
{
        char err[256];
        tg_catalog_t *c =
            tg_catalog_load_string(CAT, strlen(CAT), err, sizeof(err));

        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "catalog: %s\n", err);
                return 1;
        }
        test_parse();
        test_check_model(c);
        test_body(c);
        test_metadata_cap(c);
        test_response(c);
        test_tier_costs(c);
        tg_catalog_destroy(c);
        return tg_test_done("test_tier_cache");
}
