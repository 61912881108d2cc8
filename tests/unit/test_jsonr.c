/*
 * common/jsonr.c against jansson, its oracle: the same verdict on every
 * text (with and without duplicate keys refused), and the same values
 * through the lookups. Texts come from a table of edge cases and from a
 * fixed-seed generator that glues JSON fragments, valid or nearly so.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonr.h"
#define TG_GEN_SEED 0x9E3779B97F4A7C15ULL
#include "tg_gen.h"
#include "tg_test.h"

static int agrees(const char *s, size_t n);

/* jansson's one quirk: its stream swallows a NUL byte read right after a
 * number (the byte it ungets), so it takes "[0\0]". RFC 8259 does not, nor
 * does jsonr; excused when the text without its NULs is accepted. */
static int nul_quirk(const char *s, size_t n)
{
        char *t = malloc(n + 1);
        size_t m = 0;
        int ok;

        for (size_t i = 0; i < n; i++)
                if (s[i])
                        t[m++] = s[i];
        ok = m < n && tg_jsonr_check(t, m, 0, 0, NULL, 0) == 0;
        free(t);
        return ok;
}

static int agrees(const char *s, size_t n)
{
        int ok = 1;

        for (int dups = 0; dups < 2; dups++) {
                json_error_t e;
                json_t *j =
                    json_loadb(s, n, dups ? JSON_REJECT_DUPLICATES : 0, &e);
                char err[128] = "";
                int mine = tg_jsonr_check(s, n, 0, dups, err, sizeof(err)) == 0;

                if (mine != (j != NULL) && !(j && nul_quirk(s, n))) {
                        fprintf(stderr, "dups=%d jansson %s, jsonr %s: %.*s\n",
                                dups, j ? "accepts" : e.text,
                                mine ? "accepts" : err, (int)n, s);
                        ok = 0;
                }
                if (!mine && !err[0])
                        ok = 0;
                json_decref(j);
        }
        return ok;
}

static void test_edges(void)
{
        static const char *const texts[] = {
            "{}",
            "[]",
            " \t\r\n{ } \n",
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "{,}",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":}",
            "[1 2]",
            "1",
            "\"s\"",
            "null",
            "{}x",
            "{}{}",
            "{} ",
            "[01]",
            "[-0]",
            "[-]",
            "[0.]",
            "[.5]",
            "[1.5e]",
            "[1e+5]",
            "[1E-5]",
            "[-1.25e+300]",
            "[1e309]",
            "[-1e309]",
            "[1e-400]",
            "[9223372036854775807]",
            "[9223372036854775808]",
            "[-9223372036854775808]",
            "[-9223372036854775809]",
            "[00]",
            "[12345678901234567890]",
            "[true]",
            "[tru]",
            "[truex]",
            "[false]",
            "[null]",
            "[nul]",
            "[\"\\u0000\"]",
            "[\"\\u0001\"]",
            "[\"\\uD83D\\uDE00\"]",
            "[\"\\uD83D\"]",
            "[\"\\uDE00\"]",
            "[\"\\uD83D\\u0041\"]",
            "[\"\\uD83Dx\"]",
            "[\"\\x\"]",
            "[\"\\u12\"]",
            "[\"\\u12G4\"]",
            "[\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]",
            "[\"\x01\"]",
            "[\"\x1f\"]",
            "[\"\x7f\"]",
            "[\"\xc3\xa9\"]",
            "[\"\xc3\"]",
            "[\"\xff\"]",
            "[\"\xed\xa0\x80\"]",
            "[\"\xf4\x90\x80\x80\"]",
            "[\"\xc0\xaf\"]",
            "{\"a\":1,\"a\":2}",
            "{\"a\":1,\"\\u0061\":2}",
            "{\"a\":{\"a\":1},\"b\":{\"a\":1}}",
            "{\"\\u0000\":1}",
            ("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
             "\"h\":8,\"i\":9,\"j\":10,\"a\":11}"),
            "[\"unterminated]",
            "[1]\xc3\xa9",
            "{\"a\":[{\"b\":[]}]}",
        };

        for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++)
                CHECK(agrees(texts[i], strlen(texts[i])));
        CHECK(agrees("[\"a\0b\"]", 6));
        CHECK(agrees("{}\0", 3));
}

static const char *const frags[] = {
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "\"a\"",
    "\"b\"",
    "\"\\u0061\"",
    "\"\\u00e9\"",
    "\"\\uD83D\\uDE00\"",
    "\"\\uD83D\"",
    "\"\\u0000\"",
    "\"\\n\"",
    "\"\\q\"",
    "\"\x01\"",
    "\"\xc3\xa9\"",
    "\"\xe9\"",
    "0",
    "-0",
    "01",
    "1.5",
    "-2e3",
    "1e400",
    "9223372036854775808",
    "-9223372036854775808",
    "true",
    "false",
    "null",
    "nul",
    "x",
    "\"",
};

/* A valid value, sometimes nested; keys repeat on purpose. */
static void gen_value(char *b, size_t *n, size_t cap, int depth)
{
        uint32_t r = tg_gen_next() % (depth > 4 ? 4 : 7);
        const char *f;

        if (r >= 5 && *n + 2 < cap) {
                int obj = r == 5, k = (int)(tg_gen_next() % 4);
                b[(*n)++] = obj ? '{' : '[';
                for (int i = 0; i < k && *n + 64 < cap; i++) {
                        if (i)
                                b[(*n)++] = ',';
                        if (obj) {
                                f = frags[8 + tg_gen_next() % 4];
                                memcpy(b + *n, f, strlen(f));
                                *n += strlen(f);
                                b[(*n)++] = ':';
                        }
                        gen_value(b, n, cap, depth + 1);
                }
                b[(*n)++] = obj ? '}' : ']';
                return;
        }
        f = frags[8 + tg_gen_next() % 23];
        if (*n + strlen(f) < cap) {
                memcpy(b + *n, f, strlen(f));
                *n += strlen(f);
        }
}

static void test_generated(void)
{
        char b[4096];
        int bad = 0;

        for (int i = 0; i < 200000 && bad < 5; i++) {
                size_t n = 0;

                if (i % 3 == 0) {
                        int k = 1 + (int)(tg_gen_next() % 12);
                        for (int t = 0; t < k; t++) {
                                const char *f =
                                    frags[tg_gen_next() %
                                          (sizeof(frags) / sizeof(*frags))];
                                memcpy(b + n, f, strlen(f));
                                n += strlen(f);
                        }
                } else {
                        b[n++] = '{';
                        b[n++] = '"';
                        b[n++] = 'k';
                        b[n++] = '"';
                        b[n++] = ':';
                        gen_value(b, &n, sizeof(b) - 8, 0);
                        b[n++] = '}';
                        if (i % 3 == 2 && n > 1) /* one byte changed */
                                b[tg_gen_next() % n] =
                                    (char)(tg_gen_next() & 0xff);
                }
                if (!agrees(b, n))
                        bad++;
        }
        CHECK(bad == 0);
}

/* Every member of a jansson object found by tg_jsonr_get, same value. */
static void test_lookups(void)
{
        const char *s = "{\"n\":-42,\"big\":9223372036854775807,\"r\":1.5,"
                        "\"s\":\"a\\u00e9\\uD83D\\uDE00\\n\\/\",\"o\":{\"x\":"
                        "[1,{\"y\":\"}\"},\"]\"]},\"e\":\"\",\"t\":true,"
                        "\"k\\u0065y\":7,\"l\":[10,20,30]}";
        const char *end = s + strlen(s), *v, *e;
        json_t *j = json_loads(s, 0, NULL);
        char out[64];
        int64_t i;
        int count = 0;

        CHECK(tg_jsonr_check(s, strlen(s), 0, 1, NULL, 0) == 0);
        CHECK(tg_jsonr_int(tg_jsonr_get(s, end, "n"), end, &i) && i == -42);
        CHECK(tg_jsonr_int(tg_jsonr_get(s, end, "big"), end, &i) &&
              i == INT64_MAX);
        CHECK(!tg_jsonr_int(tg_jsonr_get(s, end, "r"), end, &i));
        v = tg_jsonr_get(s, end, "s");
        CHECK(v && tg_jsonr_str(v, end, out) ==
                       json_string_length(json_object_get(j, "s")));
        CHECK(memcmp(out, json_string_value(json_object_get(j, "s")),
                     json_string_length(json_object_get(j, "s"))) == 0);
        CHECK(tg_jsonr_int(tg_jsonr_get(s, end, "key"), end, &i) && i == 7);
        CHECK(tg_jsonr_get(s, end, "x") == NULL);
        CHECK(tg_jsonr_get(tg_jsonr_get(s, end, "t"), end, "x") == NULL);
        v = tg_jsonr_get(s, end, "o");
        e = tg_jsonr_first(tg_jsonr_get(v, end, "x"), end);
        CHECK(e && *e == '1');
        e = tg_jsonr_next(e, end);
        CHECK(e && *e == '{' && *tg_jsonr_get(e, end, "y") == '"');
        e = tg_jsonr_next(e, end);
        CHECK(e && tg_jsonr_str(e, end, out) == 1 && out[0] == ']');
        CHECK(tg_jsonr_next(e, end) == NULL);
        v = tg_jsonr_get(s, end, "e");
        CHECK(v && tg_jsonr_raw_len(v, end) == 0);
        for (e = tg_jsonr_first(tg_jsonr_get(s, end, "l"), end); e;
             e = tg_jsonr_next(e, end))
                CHECK(tg_jsonr_int(e, end, &i) && i == 10 * ++count);
        CHECK(count == 3);
        CHECK(tg_jsonr_first(tg_jsonr_get(s, end, "n"), end) == NULL);
        json_decref(j);
}

static void test_depth(void)
{
        char deep[200];
        int n = 0;

        for (int i = 0; i < 65; i++)
                deep[n++] = '[';
        for (int i = 0; i < 65; i++)
                deep[n++] = ']';
        CHECK(tg_jsonr_check(deep, (size_t)n, 65, 0, NULL, 0) == 0);
        CHECK(tg_jsonr_check(deep, (size_t)n, 64, 0, NULL, 0) == -2);
        CHECK(tg_jsonr_check(deep, (size_t)n - 1, 0, 0, NULL, 0) == -1);
        /* A fault before the depth is a fault, not depth. */
        deep[0] = '{';
        CHECK(tg_jsonr_check(deep, (size_t)n, 64, 0, NULL, 0) == -1);
}

int main(void)
{
        test_depth();
        test_edges();
        test_generated();
        test_lookups();
        return tg_test_done("test_jsonr");
}
