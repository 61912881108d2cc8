/* Catalog loading, model resolution and cost arithmetic (nano-USD). */
#include <stdlib.h>

#include "catalog.h"
#include "tg_test.h"

static const char *CAT =
    "{\"priceVersion\":\"t1\",\"models\":["
    "{\"alias\":\"nova-lite\",\"modelId\":\"amazon.nova-lite-v1:0\","
    "\"family\":\"nova\",\"maxOutputTokens\":5000,"
    "\"price\":{\"input\":\"0.06\",\"output\":\"0.24\","
    "\"cacheRead\":\"0.015\"}},"
    "{\"alias\":\"sonnet\",\"modelId\":\"anthropic.claude-3-5-sonnet-"
    "20240620-v1:0\",\"family\":\"anthropic\",\"maxOutputTokens\":8192,"
    "\"messageOverheadTokens\":10,\"requestOverheadTokens\":20,"
    "\"price\":{\"input\":\"3\",\"output\":\"15\",\"cacheRead\":\"0.30\","
    "\"cacheWrite\":\"3.75\"}}],"
    "\"routes\":[{\"match\":{\"costCenter\":\"sales\"},\"model\":"
    "\"nova-lite\",\"target\":\"arn:aws:bedrock:us-east-1:123456789012:"
    "application-inference-profile/sales1\"}]}";

static void test_usd(void)
{
        int64_t v;

        CHECK_INT(tg_usd_parse_nano("12.50", &v), 0);
        CHECK_INT(v, 12500000000LL);
        CHECK_INT(tg_usd_parse_nano("0.000000001", &v), 0);
        CHECK_INT(v, 1);
        CHECK_INT(tg_usd_parse_nano("15", &v), 0);
        CHECK_INT(v, 15000000000LL);
        CHECK_INT(tg_usd_parse_nano(".5", &v), 0);
        CHECK_INT(v, 500000000);
        CHECK_INT(tg_usd_parse_nano("0.0000000001", &v), -1);
        CHECK_INT(tg_usd_parse_nano("-1", &v), -1);
        CHECK_INT(tg_usd_parse_nano("1e3", &v), -1);
        CHECK_INT(tg_usd_parse_nano("", &v), -1);
        CHECK_INT(tg_usd_parse_nano("1.", &v), -1);
        CHECK_INT(tg_usd_parse_nano("99999999999999999999", &v), -1);
}

static void test_cost(void)
{
        tg_price_t p = {60000000, 240000000, 15000000, 0, 0};
        tg_usage_t u = {12, 40, 0, 0, 0};

        /* 12 * 0.06 / 1e6 USD = 720 nano; 40 * 0.24/1e6 = 9600 nano */
        CHECK_INT(tg_cost_tokens(12, 60000000), 720);
        CHECK_INT(tg_cost_usage(&p, &u), 10320);
        /* rounding up once per class: 1 token at 0.035 = 35 nano exactly;
         * at 0.00875 = 8.75 -> 9 */
        CHECK_INT(tg_cost_tokens(1, 8750000), 9);
        u = (tg_usage_t){1, 1, 1, 1, 0};
        p = (tg_price_t){8750000, 8750000, 8750000, 8750000, 0};
        CHECK_INT(tg_cost_usage(&p, &u), 36);
        CHECK_INT(tg_cost_tokens(0, 5), 0);
        CHECK_INT(tg_cost_tokens(-1, 5), -1);
        CHECK_INT(tg_cost_tokens(INT64_MAX, INT64_MAX), -1);
        /* no overflow in the middle: 1e9 tokens at $1000/M = $1e6 */
        CHECK_INT(tg_cost_tokens(1000000000LL, 1000000000000LL),
                  1000000000000000LL);
}

static void test_load_errors(void)
{
        char err[256];

        CHECK(tg_catalog_load_string("{", 1, err, sizeof(err)) == NULL);
        CHECK(strncmp(err, "catalog: line 1", 15) == 0);
        const char *nopv = "{\"models\":[]}";
        CHECK(tg_catalog_load_string(nopv, strlen(nopv), err, sizeof(err)) ==
              NULL);
        CHECK_STR(err, "catalog: priceVersion required (1-64 chars)");
        const char *badprice =
            "{\"priceVersion\":\"x\",\"models\":[{\"alias\":\"a\","
            "\"modelId\":\"b\",\"price\":{\"input\":0.5,\"output\":\"1\"}}]}";
        CHECK(tg_catalog_load_string(badprice, strlen(badprice), err,
                                     sizeof(err)) == NULL);
        CHECK(strstr(err, "decimal USD strings") != NULL);
        CHECK(tg_catalog_load_file("/nonexistent", err, sizeof(err)) == NULL);
}

static void resolve(tg_catalog_t *cat, const char *name, tg_request_t *req,
                    const char *want_alias, const char *want_target)
{
        tg_resolved_t r;
        char err[256];

        if (tg_catalog_resolve(cat, name, req, &r, err, sizeof(err)) != 0) {
                fprintf(stderr, "resolve %s: %s\n", name, err);
                CHECK(0);
                return;
        }
        CHECK_STR(r.model->alias, want_alias);
        CHECK_STR(r.target, want_target);
}

static void test_resolve(void)
{
        char err[256];
        tg_catalog_t *cat =
            tg_catalog_load_string(CAT, strlen(CAT), err, sizeof(err));
        tg_request_t req;
        const char *j = "{\"model\":\"nova-lite\",\"prompt\":{\"messages\":[{"
                        "\"role\":\"user\",\"content\":\"hi\"}]},\"tags\":{"
                        "\"applicationId\":\"a\",\"costCenter\":\"sales\"}}";
        tg_resolved_t r;

        CHECK(cat != NULL);
        CHECK_STR(tg_catalog_price_version(cat), "t1");
        CHECK_INT(tg_catalog_model_count(cat), 2);
        resolve(cat, "nova-lite", NULL, "nova-lite", "amazon.nova-lite-v1:0");
        resolve(cat, "amazon.nova-lite-v1:0", NULL, "nova-lite",
                "amazon.nova-lite-v1:0");
        resolve(cat, "us.amazon.nova-lite-v1:0", NULL, "nova-lite",
                "us.amazon.nova-lite-v1:0");
        resolve(cat, "global.anthropic.claude-3-5-sonnet-20240620-v1:0", NULL,
                "sonnet", "global.anthropic.claude-3-5-sonnet-20240620-v1:0");
        resolve(cat,
                "arn:aws:bedrock:eu-west-1:1:inference-profile/"
                "eu.amazon.nova-lite-v1:0",
                NULL, "nova-lite",
                "arn:aws:bedrock:eu-west-1:1:inference-profile/"
                "eu.amazon.nova-lite-v1:0");
        CHECK_INT(tg_request_parse(&req, j, strlen(j), 0, err, sizeof(err)),
                  TG_PARSE_OK);
        /* tag routing to an application inference profile */
        resolve(cat, "nova-lite", &req, "nova-lite",
                "arn:aws:bedrock:us-east-1:123456789012:"
                "application-inference-profile/sales1");
        /* the routed ARN itself resolves back to its model */
        resolve(cat,
                "arn:aws:bedrock:us-east-1:123456789012:"
                "application-inference-profile/sales1",
                NULL, "nova-lite",
                "arn:aws:bedrock:us-east-1:123456789012:"
                "application-inference-profile/sales1");
        CHECK_INT(tg_catalog_resolve(cat, "gpt-4", NULL, &r, err, sizeof(err)),
                  -1);
        CHECK(strncmp(err, "model: unknown model \"gpt-4\"", 28) == 0);
        req.params.max_tokens = 6000;
        CHECK_INT(
            tg_catalog_resolve(cat, "nova-lite", &req, &r, err, sizeof(err)),
            -1);
        CHECK_STR(err, "prompt.parameters.max_tokens: 6000 exceeds "
                       "nova-lite's maximum of 5000");
        tg_request_destroy(&req);
        tg_catalog_destroy(cat);
}

static void test_bound(void)
{
        char err[256];
        tg_catalog_t *cat =
            tg_catalog_load_string(CAT, strlen(CAT), err, sizeof(err));
        const tg_model_t *sonnet = tg_catalog_model_at(cat, 1);
        tg_request_t req;
        tg_bound_t b;
        const char *j = "{\"model\":\"sonnet\",\"prompt\":{\"messages\":[{"
                        "\"role\":\"user\",\"content\":\"hello\"}],"
                        "\"parameters\":{\"max_tokens\":100}},\"tags\":{"
                        "\"applicationId\":\"a\"}}";

        CHECK_INT(tg_request_parse(&req, j, strlen(j), 0, err, sizeof(err)),
                  TG_PARSE_OK);
        CHECK_INT(tg_cost_bound(sonnet, &req, &b), 0);
        /* 5 bytes + 1 message * 10 + 20 = 35 tokens, priced at the dearer
         * cache-write rate 3.75 (+2 for per-class rounding), 100 out at 15 */
        CHECK_INT(b.input_tokens, 35);
        CHECK_INT(b.output_tokens, 100);
        CHECK_INT(b.cost_nano, 35 * 3750 + 2 + 100 * 15000);
        /* any real usage within the token bound costs no more */
        tg_usage_t u = {10, 100, 12, 13, 0};
        CHECK(tg_cost_usage(&sonnet->price, &u) <= b.cost_nano);
        req.params.max_tokens = 0;
        CHECK_INT(tg_cost_bound(sonnet, &req, &b), 0);
        CHECK_INT(b.output_tokens, 8192);
        tg_request_destroy(&req);
        tg_catalog_destroy(cat);
}

static void test_default_catalog(void)
{
        char err[256];
        tg_catalog_t *cat =
            tg_catalog_load_file("worker/catalog.json", err, sizeof(err));

        CHECK(cat != NULL);
        if (!cat) {
                fprintf(stderr, "%s\n", err);
                return;
        }
        CHECK(tg_catalog_model_count(cat) >= 5);
        tg_catalog_destroy(cat);
}

int main(void)
{
        test_usd();
        test_cost();
        test_load_errors();
        test_resolve();
        test_bound();
        test_default_catalog();
        return tg_test_done("test_catalog");
}
