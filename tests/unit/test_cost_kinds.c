/* Cost arithmetic for every price kind beyond one price per token class:
 * regional vs global, cache TTL 5 min / 1 h, long context, service tiers,
 * and the reservation bound at each. Every figure is worked out by hand in
 * the comment above its check (nano-USD; a price of $P per 1M tokens is
 * P * 1000 nano-USD per token). */
#include <stdlib.h>

#include "catalog.h"
#include "tg_test.h"

static const char *CAT =
    "{\"priceVersion\":\"t2\",\"models\":["
    /* Claude Sonnet 4.5 as in worker/catalog.json */
    "{\"alias\":\"s45\",\"modelId\":\"anthropic.claude-sonnet-4-5-v1:0\","
    "\"maxOutputTokens\":64000,\"promptCaching\":true,"
    "\"profiles\":[\"us\",\"global\"],"
    "\"price\":{\"input\":\"3.3\",\"output\":\"16.5\",\"cacheRead\":\"0.33\","
    "\"cacheWrite\":\"4.125\",\"cacheWrite1h\":\"6.6\"},"
    "\"longContextAboveInputTokens\":200000,"
    "\"longContextPrice\":{\"input\":\"6.6\",\"output\":\"24.75\","
    "\"cacheRead\":\"0.66\",\"cacheWrite\":\"8.25\",\"cacheWrite1h\":\"13.2\"},"
    "\"global\":{\"price\":{\"input\":\"3\",\"output\":\"15\",\"cacheRead\":"
    "\"0.3\",\"cacheWrite\":\"3.75\",\"cacheWrite1h\":\"6\"},"
    "\"longContextPrice\":{\"input\":\"6\",\"output\":\"22.5\",\"cacheRead\":"
    "\"0.6\",\"cacheWrite\":\"7.5\",\"cacheWrite1h\":\"12\"}}},"
    /* a Nova Micro-like model with priority and flex tiers */
    "{\"alias\":\"nm\",\"modelId\":\"amazon.nm-v1:0\",\"maxOutputTokens\":5000,"
    "\"price\":{\"input\":\"0.035\",\"output\":\"0.14\",\"cacheRead\":"
    "\"0.00875\",\"cacheWrite\":\"0\"},"
    "\"tiers\":{\"priority\":{\"price\":{\"input\":\"0.06125\",\"output\":"
    "\"0.245\",\"cacheRead\":\"0.0153125\"}},\"flex\":{\"price\":{\"input\":"
    "\"0.0175\",\"output\":\"0.07\",\"cacheRead\":\"0.004375\"}}}}]}";

static tg_catalog_t *load(void)
{
        char err[256];
        tg_catalog_t *cat =
            tg_catalog_load_string(CAT, strlen(CAT), err, sizeof(err));

        if (!cat)
                fprintf(stderr, "load: %s\n", err);
        return cat;
}

static void test_regional_global(const tg_model_t *s45)
{
        tg_usage_t u = {1000, 500, 0, 0, 0};

        /* regional: 1000 * 3300 + 500 * 16500 = 3,300,000 + 8,250,000 */
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  11550000);
        /* global: 1000 * 3000 + 500 * 15000 = 10,500,000 (10 % less) */
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_GLOBAL, &u),
                  10500000);
        /* the old single price is the regional default one */
        CHECK_INT(tg_cost_usage(&s45->price, &u), 11550000);
        CHECK_INT(tg_scope_of_target("global.anthropic.claude-x"),
                  TG_SCOPE_GLOBAL);
        CHECK_INT(tg_scope_of_target("arn:aws:bedrock:us-east-1:1:inference-"
                                     "profile/global.anthropic.claude-x"),
                  TG_SCOPE_GLOBAL);
        CHECK_INT(tg_scope_of_target("us.anthropic.claude-x"),
                  TG_SCOPE_REGIONAL);
        CHECK_INT(tg_scope_of_target("arn:aws:bedrock:us-east-1:1:"
                                     "application-inference-profile/x"),
                  TG_SCOPE_REGIONAL);
        CHECK_INT(tg_scope_of_target("anthropic.claude-x"), TG_SCOPE_REGIONAL);
        CHECK(s45->profiles & TG_PROFILE_GLOBAL);
        CHECK(!(s45->profiles & TG_PROFILE_EU));
}

static void test_cache_ttl(const tg_model_t *s45)
{
        /* 300 written, 120 of them with the 1 h TTL */
        tg_usage_t u = {10, 7, 100, 300, 120};

        /* 10*3300 + 7*16500 + 100*330 + 180*4125 + 120*6600
         * = 33,000 + 115,500 + 33,000 + 742,500 + 792,000 = 1,716,000 */
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  1716000);
        /* global: 10*3000 + 7*15000 + 100*300 + 180*3750 + 120*6000
         * = 30,000 + 105,000 + 30,000 + 675,000 + 720,000 = 1,560,000 */
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_GLOBAL, &u),
                  1560000);
        /* all 300 at the 5-minute rate would be 1,237,500 for the writes
         * instead of 1,534,500: the split matters */
        u.cache_write_1h_tokens = 0;
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  33000 + 115500 + 33000 + 1237500);
        /* a 1 h part larger than the total is refused */
        u.cache_write_1h_tokens = 301;
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  -1);
        /* a price without a 1-hour rate cannot price 1-hour writes */
        tg_price_t old = {3000000000LL, 15000000000LL, 300000000, 3750000000LL,
                          0};
        u.cache_write_1h_tokens = 1;
        CHECK_INT(tg_cost_usage(&old, &u), -1);
}

static void test_long_context(const tg_model_t *s45)
{
        /* 150,000 + 60,000 read = 210,000 input tokens > 200,000 */
        tg_usage_t u = {150000, 1000, 60000, 0, 0};

        CHECK(tg_cost_is_long_context(s45, &u));
        /* 150000*6600 + 1000*24750 + 60000*660
         * = 990,000,000 + 24,750,000 + 39,600,000 */
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  1054350000);
        /* global: 150000*6000 + 1000*22500 + 60000*600 = 958,500,000 */
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_GLOBAL, &u),
                  958500000);
        /* exactly 200,000 is not above: 140000*3300 + 1000*16500 +
         * 60000*330 = 462,000,000 + 16,500,000 + 19,800,000 */
        u.input_tokens = 140000;
        CHECK(!tg_cost_is_long_context(s45, &u));
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  498300000);
        /* cache writes count toward the threshold too */
        u = (tg_usage_t){1, 0, 0, 200000, 0};
        CHECK(tg_cost_is_long_context(s45, &u));
        /* 1*6600 + 200000*8250 = 1,650,006,600 */
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  1650006600);
}

static void test_tiers(const tg_model_t *s45, const tg_model_t *nm)
{
        tg_usage_t u = {3, 5, 1, 0, 0};
        tg_tier_t t;

        /* default: 3*35 + 5*140 + ceil(8.75) = 105 + 700 + 9 */
        CHECK_INT(tg_cost_usage_at(nm, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  814);
        /* priority: ceil(3*61.25) + 5*245 + ceil(15.3125)
         * = 184 + 1225 + 16 (rounded up once per class) */
        CHECK_INT(tg_cost_usage_at(nm, TG_TIER_PRIORITY, TG_SCOPE_REGIONAL, &u),
                  1425);
        /* flex: ceil(52.5) + 5*70 + ceil(4.375) = 53 + 350 + 5 */
        CHECK_INT(tg_cost_usage_at(nm, TG_TIER_FLEX, TG_SCOPE_REGIONAL, &u),
                  408);
        /* no separate global price: global profiles bill the regional one */
        CHECK_INT(tg_cost_usage_at(nm, TG_TIER_FLEX, TG_SCOPE_GLOBAL, &u), 408);
        /* a tier the model does not offer */
        CHECK_INT(
            tg_cost_usage_at(s45, TG_TIER_PRIORITY, TG_SCOPE_REGIONAL, &u), -1);
        CHECK(tg_model_rate(s45, TG_TIER_FLEX, TG_SCOPE_GLOBAL) == NULL);
        CHECK_INT(tg_tier_parse("flex", &t), 0);
        CHECK_INT(t, TG_TIER_FLEX);
        CHECK_INT(tg_tier_parse("standard", &t), 0);
        CHECK_INT(t, TG_TIER_DEFAULT);
        CHECK_INT(tg_tier_parse("reserved", &t), -1);
        CHECK_STR(tg_tier_name(TG_TIER_PRIORITY), "priority");
}

static int parse(tg_request_t *req, const char *model, size_t text_len,
                 int max_tokens)
{
        char err[256];
        size_t n = text_len + 256;
        char *j = malloc(n), *text = malloc(text_len + 1);
        int rc;

        memset(text, 'a', text_len);
        text[text_len] = '\0';
        snprintf(j, n,
                 "{\"model\":\"%s\",\"prompt\":{\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"%s\"}],\"parameters\":{"
                 "\"max_tokens\":%d}},\"tags\":{\"applicationId\":\"a\"}}",
                 model, text, max_tokens);
        rc = tg_request_parse(req, j, strlen(j), 0, err, sizeof(err));
        free(j);
        free(text);
        return rc;
}

static void test_bounds(const tg_model_t *s45, const tg_model_t *nm)
{
        tg_request_t req;
        tg_bound_t b;

        /* 5 bytes + 8 per message + 16 per request = 29 input tokens */
        CHECK_INT(parse(&req, "s45", 5, 100), TG_PARSE_OK);
        CHECK_INT(tg_cost_bound(s45, &req, &b), 0);
        CHECK_INT(b.input_tokens, 29);
        /* the dearest input class is the 1 h write (6.6): 29*6600 =
         * 191,400, +3 for four input classes rounded apart; 100*16500 */
        CHECK_INT(b.cost_nano, 191400 + 3 + 1650000);
        CHECK_INT(
            tg_cost_bound_at(s45, TG_TIER_DEFAULT, TG_SCOPE_GLOBAL, &req, &b),
            0);
        /* global: 29*6000 + 3 + 100*15000 */
        CHECK_INT(b.cost_nano, 174000 + 3 + 1500000);
        CHECK_INT(
            tg_cost_bound_at(s45, TG_TIER_FLEX, TG_SCOPE_REGIONAL, &req, &b),
            -1);
        tg_request_destroy(&req);

        /* priority on nm: ceil(29*61.25) = 1777, +2 (as before 1 h
         * writes), 100*245 = 24,500 */
        CHECK_INT(parse(&req, "nm", 5, 100), TG_PARSE_OK);
        CHECK_INT(
            tg_cost_bound_at(nm, TG_TIER_PRIORITY, TG_SCOPE_REGIONAL, &req, &b),
            0);
        CHECK_INT(b.cost_nano, 1777 + 2 + 24500);
        CHECK_INT(
            tg_cost_bound_at(nm, TG_TIER_FLEX, TG_SCOPE_REGIONAL, &req, &b), 0);
        /* flex: ceil(29*17.5) = 508, +2, 100*70 */
        CHECK_INT(b.cost_nano, 508 + 2 + 7000);
        tg_request_destroy(&req);

        /* 250,000 bytes: the bound (250,024) passes 200,000, so the
         * long-context prices apply: 250024*13200 = 3,300,316,800, +3,
         * 10 out at 24.75 = 247,500 */
        CHECK_INT(parse(&req, "s45", 250000, 10), TG_PARSE_OK);
        CHECK_INT(tg_cost_bound(s45, &req, &b), 0);
        CHECK_INT(b.input_tokens, 250024);
        CHECK_INT(b.cost_nano, 3300316800LL + 3 + 247500);
        /* the dearest real bill within the bound: every input token a 1 h
         * long-context write, 3,300,564,300, is covered */
        tg_usage_t u = {0, 10, 0, 250024, 250024};
        CHECK_INT(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u),
                  3300564300LL);
        CHECK(tg_cost_usage_at(s45, TG_TIER_DEFAULT, TG_SCOPE_REGIONAL, &u) <=
              b.cost_nano);
        tg_request_destroy(&req);
}

static void expect_error(const char *json, const char *want)
{
        char err[256] = "";
        tg_catalog_t *cat =
            tg_catalog_load_string(json, strlen(json), err, sizeof(err));

        CHECK(cat == NULL);
        if (!strstr(err, want)) {
                fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
                CHECK(0);
        }
        tg_catalog_destroy(cat);
}

#define M1                                                                     \
        "{\"priceVersion\":\"x\",\"models\":[{\"alias\":\"a\",\"modelId\":"    \
        "\"b\","

static void test_load_errors(void)
{
        expect_error(M1 "\"price\":{\"input\":\"1\",\"output\":\"2\"},"
                        "\"tiers\":{\"flex\":{}}}]}",
                     "model a: tiers.flex: tier without a price");
        expect_error(M1 "\"price\":{\"input\":\"1\",\"output\":\"-2\"}}]}",
                     "model a: model.price.output: negative price");
        expect_error(M1 "\"price\":{\"input\":\"1\"}}]}",
                     "model a: model.price.output: missing price");
        expect_error(M1 "\"price\":{\"input\":\"1\",\"output\":\"2\"},"
                        "\"longContextAboveInputTokens\":10}]}",
                     "model a: model.longContextPrice: missing price");
        expect_error(M1 "\"price\":{\"input\":\"1\",\"output\":\"2\"},"
                        "\"tiers\":{\"turbo\":{\"price\":{}}}}]}",
                     "tiers.turbo: unknown tier");
        expect_error(M1 "\"price\":{\"input\":\"1\",\"output\":\"2\"}},"
                        "{\"alias\":\"a\",\"modelId\":\"c\",\"price\":{"
                        "\"input\":\"1\",\"output\":\"2\"}}]}",
                     "model a: duplicate alias or modelId \"a\"");
        expect_error(M1 "\"price\":{\"input\":\"1\",\"output\":\"2\"},"
                        "\"profiles\":[\"mars\"]}]}",
                     "profiles: must be an array");
}

/* Every model of the shipped catalog: the default-tier bound covers the
 * dearest bill at either scope, and every offered tier's bound its own. */
static void test_shipped_catalog(void)
{
        char err[256];
        tg_catalog_t *cat =
            tg_catalog_load_file("worker/catalog.json", err, sizeof(err));
        tg_request_t req;
        tg_bound_t b;

        CHECK(cat != NULL);
        if (!cat) {
                fprintf(stderr, "%s\n", err);
                return;
        }
        CHECK(tg_catalog_model_count(cat) >= 20);
        for (size_t i = 0; i < tg_catalog_model_count(cat); i++) {
                const tg_model_t *m = tg_catalog_model_at(cat, i);
                CHECK_INT(parse(&req, m->alias, 300000, 50), TG_PARSE_OK);
                CHECK_INT(tg_cost_bound(m, &req, &b), 0);
                tg_usage_t u = {0, 50, 0, b.input_tokens,
                                m->price.cache_write_1h ? b.input_tokens : 0};
                for (int s = 0; s < TG_SCOPE_N; s++)
                        CHECK(tg_cost_usage_at(m, TG_TIER_DEFAULT,
                                               (tg_scope_t)s,
                                               &u) <= b.cost_nano);
                for (int t = 1; t < TG_TIER_N; t++) {
                        if (!tg_model_rate(m, (tg_tier_t)t, TG_SCOPE_REGIONAL))
                                continue;
                        CHECK_INT(tg_cost_bound_at(m, (tg_tier_t)t,
                                                   TG_SCOPE_REGIONAL, &req, &b),
                                  0);
                        u.cache_write_1h_tokens = 0;
                        CHECK(tg_cost_usage_at(m, (tg_tier_t)t,
                                               TG_SCOPE_REGIONAL,
                                               &u) <= b.cost_nano);
                }
                tg_request_destroy(&req);
        }
        tg_catalog_destroy(cat);
}

int main(void)
{
        tg_catalog_t *cat = load();

        CHECK(cat != NULL);
        if (cat) {
                const tg_model_t *s45 = tg_catalog_model_at(cat, 0);
                const tg_model_t *nm = tg_catalog_model_at(cat, 1);
                test_regional_global(s45);
                test_cache_ttl(s45);
                test_long_context(s45);
                test_tiers(s45, nm);
                test_bounds(s45, nm);
        }
        tg_catalog_destroy(cat);
        test_load_errors();
        test_shipped_catalog();
        return tg_test_done("test_cost_kinds");
}
