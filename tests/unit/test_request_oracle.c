/*
 * tg_request_parse (common/jsonr.c underneath) against the jansson parser
 * it replaced (request_parse_jansson.c, oq_same): on generated requests,
 * valid, invalid and broken, both must agree on the verdict, the error's
 * words (but for errors about the text itself), the envelope and tags, and
 * on success every field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request_parse_jansson.c"
#define TG_GEN_SEED 0x853C49E6748FEA9BULL
#include "tg_gen.h"
#include "tg_test.h"

#define PICK(a) (a)[tg_gen_next() % (sizeof(a) / sizeof(*(a)))]
#define OFTEN   (tg_gen_next() % 5 != 0)

static const char *const ids[] = {
    "\"r-1\"", "\"r\\u002d2\"", "\"\"", "\"bad id\"", "7", "\"r:3.a_b\"",
};
static const char *const stamps[] = {
    "\"2026-11-27T10:00:00Z\"",
    "\"2026-11-27T10:00:00.123Z\"",
    "\"yesterday\"",
    "\"2026-13-01T00:00:00Z\"",
    "1",
    "\"2026-11-27T10:00:00\\u005a\"",
};
static const char *const models[] = {
    "\"nova-lite\"",        "\"\"", "\"us.anthropic.claude-3-5-haiku\"", "5",
    "\"n\\u006fva-micro\"", "null",
};
static const char *const roles[] = {
    "\"user\"", "\"assistant\"", "\"system\"", "\"User\"", "\"us\\u0065r\"",
    "1",        "\"\"",
};
static const char *const contents[] = {
    "\"hello\"",
    "\"\"",
    "\"caf\\u00e9 \\uD83D\\uDE00\\n\"",
    "\"\xc3\xa9t\xc3\xa9\"",
    "3",
    "\"\\\"q\\\"\"",
};
static const char *const params[] = {
    "\"max_tokens\":100",
    "\"max_tokens\":0",
    "\"max_tokens\":1.0",
    "\"temperature\":0.5",
    "\"temperature\":1",
    "\"temperature\":1.5",
    "\"temperature\":-0",
    "\"top_p\":1e-3",
    "\"top_p\":\"0.1\"",
    "\"top_k\":500",
    "\"top_k\":501",
    "\"seed\":1",
    "\"t\\u006fp_k\":5",
    "\"temperature\":0.30000000000000004",
    "\"service_tier\":\"flex\"",
    "\"service_tier\":\"priority\"",
    "\"service_tier\":\"turbo\"",
    "\"service_tier\":1",
    "\"service_tier\":\"fl\\u0065x\"",
};
static const char *const caches[] = {
    ",\"cachePoint\":{}",
    ",\"cachePoint\":{\"ttl\":\"5m\"}",
    ",\"cachePoint\":{\"ttl\":\"1h\"}",
    ",\"cachePoint\":{\"ttl\":\"2h\"}",
    ",\"cachePoint\":true",
    ",\"cachePoint\":{\"type\":\"default\"}",
    ",\"cachePoint\":{\"ttl\":5}",
};
static const char *const tag_keys[] = {
    "applicationId",       "costCenter", "environment",
    "app\\u006cicationId", "bad!key",    "",
};
static const char *const tag_vals[] = {
    "\"eng\"",      "\"\"", "\"a b/c=d+e@f-g\"",
    "\"x\\u0021\"", "1",    "\"caf\\u00e9\"",
};

static void gen_messages(char *b, size_t *n, size_t cap)
{
        int k = (int)(tg_gen_next() % 4);

        tg_gen_put(b, n, cap, "[");
        for (int i = 0; i < k; i++) {
                tg_gen_put(b, n, cap, i ? ",{\"role\":" : "{\"role\":");
                tg_gen_put(b, n, cap,
                           OFTEN ? (i ? "\"assistant\"" : "\"user\"")
                                 : PICK(roles));
                tg_gen_put(b, n, cap, ",\"content\":");
                tg_gen_put(b, n, cap, OFTEN ? "\"hi\"" : PICK(contents));
                if (tg_gen_next() % 10 == 0)
                        tg_gen_put(b, n, cap, ",\"name\":\"x\"");
                if (tg_gen_next() % 4 == 0)
                        tg_gen_put(b, n, cap, PICK(caches));
                tg_gen_put(b, n, cap, "}");
        }
        tg_gen_put(b, n, cap, "]");
}

static void gen_tags(char *b, size_t *n, size_t cap)
{
        int k = (int)(tg_gen_next() % 4);

        tg_gen_put(b, n, cap, "{\"applicationId\":");
        tg_gen_put(b, n, cap, OFTEN ? "\"app\"" : PICK(tag_vals));
        for (int i = 0; i < k; i++) {
                tg_gen_put(b, n, cap, ",\"");
                tg_gen_put(b, n, cap, PICK(tag_keys));
                tg_gen_put(b, n, cap, "\":");
                tg_gen_put(b, n, cap, PICK(tag_vals));
        }
        tg_gen_put(b, n, cap, "}");
}

static size_t gen(char *b, size_t cap)
{
        size_t n = 0;
        int k = (int)(tg_gen_next() % 3);

        tg_gen_put(&b[0], &n, cap, "{");
        if (tg_gen_next() % 2) {
                tg_gen_put(b, &n, cap, "\"requestId\":");
                tg_gen_put(b, &n, cap, OFTEN ? "\"req-1\"" : PICK(ids));
                tg_gen_put(b, &n, cap, ",");
        }
        if (tg_gen_next() % 3 == 0) {
                tg_gen_put(b, &n, cap, "\"timestamp\":");
                tg_gen_put(b, &n, cap, PICK(stamps));
                tg_gen_put(b, &n, cap, ",");
        }
        tg_gen_put(b, &n, cap, "\"model\":");
        tg_gen_put(b, &n, cap, OFTEN ? "\"nova-lite\"" : PICK(models));
        tg_gen_put(b, &n, cap, ",\"prompt\":{\"messages\":");
        gen_messages(b, &n, cap);
        if (tg_gen_next() % 2) {
                tg_gen_put(b, &n, cap, ",\"parameters\":{");
                for (int i = 0; i < k + 1; i++) {
                        tg_gen_put(b, &n, cap, i ? "," : "");
                        tg_gen_put(b, &n, cap, PICK(params));
                }
                tg_gen_put(b, &n, cap, "}");
        }
        tg_gen_put(b, &n, cap, "},\"tags\":");
        gen_tags(b, &n, cap);
        if (tg_gen_next() % 15 == 0)
                tg_gen_put(b, &n, cap, ",\"extra\":1");
        tg_gen_put(b, &n, cap, "}");
        return n;
}

static int same(const char *b, size_t n)
{
        tg_request_t a;
        oq_request_t o;
        char ea[512] = "", eo[512] = "";
        tg_parse_result_t ra = tg_request_parse(&a, b, n, 0, ea, sizeof(ea));
        tg_parse_result_t ro =
            tg_request_parse_jansson(&o, b, n, 0, eo, sizeof(eo));
        int ok = memchr(b, '\0', n) || oq_same(&a, ra, ea, &o, ro, eo);

        if (!ok)
                fprintf(stderr,
                        "differ (%d \"%s\" / jansson %d \"%s\"): %.*s\n", ra,
                        ea, ro, eo, (int)n, b);
        tg_request_destroy(&a);
        oq_request_destroy(&o);
        return ok;
}

int main(void)
{
        char b[8192], err[512];
        int bad = 0, verdicts[3] = {0};

        for (int i = 0; i < 100000 && bad < 5; i++) {
                size_t n = gen(b, sizeof(b));
                tg_request_t r;

                if (i % 4 == 3 && n) /* one byte changed */
                        b[tg_gen_next() % n] = (char)(tg_gen_next() & 0xff);
                if (i % 8 == 2 && n > 1) /* cut short */
                        n = tg_gen_next() % n;
                if (!same(b, n))
                        bad++;
                verdicts[tg_request_parse(&r, b, n, 0, err, sizeof(err))]++;
                tg_request_destroy(&r);
        }
        CHECK(bad == 0);
        /* The generator reaches every verdict, often. */
        CHECK(verdicts[TG_PARSE_OK] > 2000 &&
              verdicts[TG_PARSE_INVALID] > 5000 &&
              verdicts[TG_PARSE_NOT_JSON] > 5000);
        printf("test_request_oracle: ok %d, invalid %d, not JSON %d\n",
               verdicts[TG_PARSE_OK], verdicts[TG_PARSE_INVALID],
               verdicts[TG_PARSE_NOT_JSON]);
        return tg_test_done("test_request_oracle");
}
