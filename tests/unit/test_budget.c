/* Budget definitions: JSON round trip, selector matching, and the errors
 * for definitions the ledger must refuse. */
#include <stdlib.h>

#include "budget.h"
#include "tg_test.h"

static char err[256];

static int from(const char *json, tg_budget_t *b)
{
        err[0] = '\0';
        return tg_budget_from_json(json, strlen(json), b, err, sizeof(err));
}

static void test_round_trip(void)
{
        const char *doc = "{\"id\":\"eng\",\"selector\":{\"costCenter\":"
                          "\"eng\"},\"period\":\"month\",\"limitNanoUsd\":"
                          "12500000000,\"limitTokens\":1000000,"
                          "\"thresholds\":[50,80,100],\"rpm\":0,\"tpm\":0,"
                          "\"onExceed\":\"reject\"}";
        tg_budget_t b, c;
        char *json;

        CHECK_INT(from(doc, &b), 0);
        CHECK_STR(b.id, "eng");
        CHECK_INT(b.n_selector, 1);
        CHECK_STR(b.selector[0].key, "costCenter");
        CHECK_STR(b.selector[0].value, "eng");
        CHECK_INT(b.period, TG_PERIOD_MONTH);
        CHECK_INT(b.limit_nano, 12500000000LL);
        CHECK_INT(b.limit_tokens, 1000000);
        CHECK_INT(b.n_thresholds, 3);
        CHECK_INT(b.thresholds[2], 100);
        CHECK_INT(b.on_exceed_defer, 0);
        json = tg_budget_to_json(&b);
        CHECK_STR(json, doc); /* the exact documented form, in order */
        free(json);
        tg_budget_clear(&b);

        /* Everything optional set to something other than the default. */
        tg_budget_init(&b);
        snprintf(b.id, sizeof(b.id), "team-a.ml_2");
        b.period = TG_PERIOD_DAY;
        b.limit_tokens = 5;
        b.n_thresholds = 1;
        b.thresholds[0] = 90;
        b.rpm = 60;
        b.tpm = 100000;
        b.on_exceed_defer = 1;
        CHECK_INT(tg_budget_selector_add(&b, "app Id", "a:b/c=d+e@f-g_h.i", err,
                                         sizeof(err)),
                  0);
        CHECK_INT(tg_budget_selector_add(&b, "env", "", err, sizeof(err)), 0);
        json = tg_budget_to_json(&b);
        CHECK_INT(from(json, &c), 0);
        CHECK_STR(c.id, "team-a.ml_2");
        CHECK_INT(c.period, TG_PERIOD_DAY);
        CHECK_INT(c.limit_nano, -1);
        CHECK_INT(c.limit_tokens, 5);
        CHECK_INT(c.n_thresholds, 1);
        CHECK_INT(c.thresholds[0], 90);
        CHECK_INT(c.rpm, 60);
        CHECK_INT(c.tpm, 100000);
        CHECK_INT(c.on_exceed_defer, 1);
        CHECK_INT(c.n_selector, 2);
        CHECK_STR(c.selector[0].value, "a:b/c=d+e@f-g_h.i");
        CHECK_STR(c.selector[1].key, "env");
        CHECK_STR(c.selector[1].value, "");
        char *again = tg_budget_to_json(&c);
        CHECK_STR(again, json);
        free(again);
        free(json);
        tg_budget_clear(&b);
        tg_budget_clear(&c);
}

static void test_defaults(void)
{
        tg_budget_t b;
        char *json;

        /* Global (no selector), default thresholds, no rate limits. */
        CHECK_INT(from("{\"id\":\"all\",\"period\":\"total\","
                       "\"limitNanoUsd\":0}",
                       &b),
                  0);
        CHECK_INT(b.n_selector, 0);
        CHECK_INT(b.period, TG_PERIOD_TOTAL);
        CHECK_INT(b.limit_nano, 0);
        CHECK_INT(b.limit_tokens, -1);
        CHECK_INT(b.n_thresholds, 3);
        CHECK_INT(b.thresholds[0], 50);
        json = tg_budget_to_json(&b);
        CHECK_STR(json, "{\"id\":\"all\",\"selector\":{},\"period\":\"total\","
                        "\"limitNanoUsd\":0,\"thresholds\":[50,80,100],"
                        "\"rpm\":0,\"tpm\":0,\"onExceed\":\"reject\"}");
        free(json);
        tg_budget_clear(&b);

        /* Unknown fields are ignored (forward compatibility). */
        CHECK_INT(from("{\"id\":\"x\",\"period\":\"day\",\"limitTokens\":1,"
                       "\"future\":{\"a\":[1]}}",
                       &b),
                  0);
        tg_budget_clear(&b);
}

static void test_matching(void)
{
        tg_budget_t b;
        tg_tag_t tags[] = {{"applicationId", "etl"},
                           {"costCenter", "eng"},
                           {"environment", "prod"}};

        tg_budget_init(&b);
        CHECK_INT(tg_budget_matches(&b, tags, 3), 1); /* global */
        CHECK_INT(tg_budget_matches(&b, NULL, 0), 1);

        tg_budget_selector_add(&b, "costCenter", "eng", err, sizeof(err));
        CHECK_INT(tg_budget_matches(&b, tags, 3), 1);
        CHECK_INT(tg_budget_matches(&b, tags, 1), 0); /* tag absent */
        CHECK_INT(tg_budget_matches(&b, NULL, 0), 0);

        tg_budget_selector_add(&b, "environment", "prod", err, sizeof(err));
        CHECK_INT(tg_budget_matches(&b, tags, 3), 1);
        tags[2].value = "dev";
        CHECK_INT(tg_budget_matches(&b, tags, 3), 0); /* all must match */
        tags[2].value = "Prod";
        CHECK_INT(tg_budget_matches(&b, tags, 3), 0); /* case matters */
        tags[2].value = "prod ";
        CHECK_INT(tg_budget_matches(&b, tags, 3), 0);
        tg_budget_clear(&b);

        /* An empty selector value matches only an empty tag value. */
        tg_budget_selector_add(&b, "team", "", err, sizeof(err));
        tg_tag_t t2[] = {{"team", ""}};
        tg_tag_t t3[] = {{"team", "x"}};
        CHECK_INT(tg_budget_matches(&b, t2, 1), 1);
        CHECK_INT(tg_budget_matches(&b, t3, 1), 0);
        tg_budget_clear(&b);
}

static void test_bad_selectors(void)
{
        tg_budget_t b;
        char key[TG_TAG_KEY_MAX + 2], val[TG_TAG_VALUE_MAX + 2];

        tg_budget_init(&b);
        CHECK_INT(tg_budget_selector_add(&b, "", "v", err, sizeof(err)), -1);
        CHECK(strstr(err, "key") != NULL);
        CHECK_INT(tg_budget_selector_add(&b, "k!", "v", err, sizeof(err)), -1);
        CHECK(strstr(err, "k!") != NULL);
        CHECK_INT(tg_budget_selector_add(&b, "k", "a,b", err, sizeof(err)), -1);
        CHECK(strstr(err, "value") != NULL);
        CHECK_INT(tg_budget_selector_add(&b, "k", "\xc3\xa9", err, sizeof(err)),
                  -1);
        memset(key, 'k', sizeof(key));
        key[TG_TAG_KEY_MAX + 1] = '\0';
        CHECK_INT(tg_budget_selector_add(&b, key, "v", err, sizeof(err)), -1);
        key[TG_TAG_KEY_MAX] = '\0';
        CHECK_INT(tg_budget_selector_add(&b, key, "v", err, sizeof(err)), 0);
        memset(val, 'v', sizeof(val));
        val[TG_TAG_VALUE_MAX + 1] = '\0';
        CHECK_INT(tg_budget_selector_add(&b, "k2", val, err, sizeof(err)), -1);
        CHECK(strstr(err, "256") != NULL);
        val[TG_TAG_VALUE_MAX] = '\0';
        CHECK_INT(tg_budget_selector_add(&b, "k2", val, err, sizeof(err)), 0);
        CHECK_INT(tg_budget_selector_add(&b, "k2", "x", err, sizeof(err)), -1);
        CHECK(strstr(err, "twice") != NULL);
        tg_budget_clear(&b);

        /* At most 32 pairs. */
        for (int i = 0; i < TG_BUDGET_SELECTOR_MAX; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                CHECK_INT(
                    tg_budget_selector_add(&b, key, "v", err, sizeof(err)), 0);
        }
        CHECK_INT(tg_budget_selector_add(&b, "one-more", "v", err, sizeof(err)),
                  -1);
        CHECK(strstr(err, "at most 32") != NULL);
        tg_budget_clear(&b);
}

static void expect_bad(const char *json, const char *words)
{
        tg_budget_t b;

        CHECK_INT(from(json, &b), -1);
        if (!strstr(err, words))
                fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, words);
        CHECK(strstr(err, words) != NULL);
        CHECK_INT(b.n_selector, 0); /* cleared on error */
}

static void test_bad_json(void)
{
        expect_bad("", "budget JSON");
        expect_bad("[1]", "must be an object");
        expect_bad("{\"id\":\"a b\",\"period\":\"day\",\"limitTokens\":1}",
                   "id");
        expect_bad("{\"period\":\"day\",\"limitTokens\":1}", "id");
        expect_bad("{\"id\":\"a\",\"period\":\"week\",\"limitTokens\":1}",
                   "period");
        expect_bad("{\"id\":\"a\",\"period\":\"day\"}", "needs a limit");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitNanoUsd\":1.5}",
                   "limitNanoUsd");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitNanoUsd\":-5}",
                   "limitNanoUsd");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitNanoUsd\":"
                   "\"12.50\"}",
                   "limitNanoUsd");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitTokens\":1,"
                   "\"selector\":{\"a\":\"x\",\"b\":3}}",
                   "selector.b");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitTokens\":1,"
                   "\"selector\":{\"a\":\"x;y\"}}",
                   "value");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitTokens\":1,"
                   "\"selector\":[\"a\"]}",
                   "selector");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitTokens\":1,"
                   "\"thresholds\":[80,50]}",
                   "ascending");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitTokens\":1,"
                   "\"thresholds\":[0]}",
                   "thresholds[0]");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitTokens\":1,"
                   "\"thresholds\":[1,2,3,4,5,6,7,8,9]}",
                   "at most 8");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitTokens\":1,"
                   "\"onExceed\":\"queue\"}",
                   "onExceed");
        expect_bad("{\"id\":\"a\",\"id\":\"b\",\"period\":\"day\","
                   "\"limitTokens\":1}",
                   "duplicate");
        expect_bad("{\"id\":\"a\",\"period\":\"day\",\"limitTokens\":1,"
                   "\"rpm\":-1}",
                   "rpm");

        /* Over the size cap: refused before parsing. */
        size_t n = TG_BUDGET_JSON_MAX + 10;
        char *big = malloc(n + 1);
        memset(big, ' ', n);
        big[n] = '\0';
        big[0] = '{';
        big[n - 1] = '}';
        expect_bad(big, "allowed");
        free(big);
}

int main(void)
{
        test_round_trip();
        test_defaults();
        test_matching();
        test_bad_selectors();
        test_bad_json();
        return tg_test_done("test_budget");
}
