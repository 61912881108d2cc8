/*
 * common/jsonw.c against jansson: for many generated strings, integers,
 * reals and whole documents, the writer's bytes must equal
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER), and it must refuse what
 * jansson refuses (invalid UTF-8). Deterministic: a fixed-seed xorshift.
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "tg_test.h"
#include "tgjson.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
        uint64_t x = rng_state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return rng_state = x;
}

static size_t rnd_below(size_t n)
{
        return (size_t)(rnd() % n);
}

/* Checks the writer's document against jansson's dump of v (stolen).
 * Reports the first few differences in full. */
static void check_same(tg_jsonw_t *w, json_t *v, size_t flags, const char *what)
{
        char *want = json_dumps(v, flags);
        size_t len = 0;
        char *got = tg_jsonw_finish(w, &len);
        static int shown;

        tg_test_checks++;
        if (!want || !got || strcmp(want, got) != 0 || len != strlen(want)) {
                tg_test_failures++;
                if (shown++ < 5)
                        fprintf(stderr, "%s: jansson %s\n   jsonw   %s\n", what,
                                want ? want : "(null)", got ? got : "(null)");
        }
        free(want);
        free(got);
        json_decref(v);
}

static size_t utf8_put(char *p, uint32_t cp)
{
        if (cp < 0x80) {
                p[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                p[0] = (char)(0xc0 | cp >> 6);
                p[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                p[0] = (char)(0xe0 | cp >> 12);
                p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                p[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        p[0] = (char)(0xf0 | cp >> 18);
        p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

/* A code point, biased to the ones that need care. */
static uint32_t rnd_codepoint(void)
{
        static const uint32_t special[] = {
            '"',    '\\',   '/',     0,        '\b',   '\f',   '\n',
            '\r',   '\t',   0x1f,    0x7f,     0x80,   0x7ff,  0x800,
            0xfffd, 0xffff, 0x10000, 0x10ffff, 0x2028, 0xd7ff, 0xe000};
        uint32_t cp;

        switch (rnd_below(6)) {
        case 0:
                return special[rnd_below(sizeof(special) / sizeof(*special))];
        case 1:
                return (uint32_t)rnd_below(0x20);
        case 2:
        case 3:
                return 0x20 + (uint32_t)rnd_below(0x60);
        default:
                do
                        cp = (uint32_t)rnd_below(0x110000);
                while (cp >= 0xd800 && cp <= 0xdfff);
                return cp;
        }
}

/* Valid UTF-8 (NUL bytes included): equal to jansson. */
static void test_valid_strings(void)
{
        static char buf[1 << 16];

        for (int n = 0; n < 20000; n++) {
                size_t cap = n % 100 == 0 ? sizeof(buf) - 4 : 200, len = 0;
                size_t want = rnd_below(cap);
                tg_jsonw_t w;

                while (len < want)
                        len += utf8_put(buf + len, rnd_codepoint());
                tg_jsonw_init(&w, 16, 1 << 20, 0);
                tg_jsonw_strn(&w, buf, len);
                check_same(&w, json_stringn(buf, len), DUMP_FLAGS, "string");
        }
}

/* Random bytes: where jansson refuses the string the strict writer fails
 * with EUTF8, else the bytes are equal; the lossy writer equals jansson's
 * dump of tg_utf8_sanitize's copy. */
static void test_random_bytes(void)
{
        char buf[130], copy[130];

        for (int n = 0; n < 50000; n++) {
                size_t len = rnd_below(128);
                json_t *ref;
                tg_jsonw_t w;

                for (size_t i = 0; i < len; i++) {
                        /* mostly high bytes: near-valid sequences */
                        buf[i] = (char)(rnd_below(4) ? 0x80 | rnd_below(0x80)
                                                     : 1 + rnd_below(0xff));
                }
                buf[len] = '\0';
                ref = json_stringn(buf, len);
                tg_jsonw_init(&w, 16, 1 << 20, 0);
                tg_jsonw_strn(&w, buf, len);
                CHECK(!ref == (w.err == TG_JSONW_EUTF8));
                CHECK(!!ref == tg_jsonw_utf8_valid(buf, len));
                if (ref)
                        check_same(&w, ref, DUMP_FLAGS, "bytes");
                else
                        CHECK(tg_jsonw_finish(&w, NULL) == NULL);

                memcpy(copy, buf, len + 1);
                tg_utf8_sanitize(copy);
                tg_jsonw_init(&w, 16, 1 << 20, 1);
                tg_jsonw_strn(&w, buf, len);
                check_same(&w, json_string(copy), DUMP_FLAGS, "lossy");
        }
}

static void test_integers(void)
{
        int64_t fixed[] = {0,
                           1,
                           -1,
                           9,
                           10,
                           -10,
                           99,
                           100,
                           INT64_MAX,
                           INT64_MIN,
                           INT64_MAX - 1,
                           INT64_MIN + 1,
                           1000000000000000000LL,
                           -999999999999999999LL};
        tg_jsonw_t w;

        for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++) {
                tg_jsonw_init(&w, 0, 64, 0);
                tg_jsonw_int(&w, fixed[i]);
                check_same(&w, json_integer(fixed[i]), DUMP_FLAGS, "int");
        }
        for (int n = 0; n < 20000; n++) {
                /* every magnitude, both signs */
                int64_t v = (int64_t)(rnd() >> rnd_below(64));

                if (rnd_below(2))
                        v = -v;
                tg_jsonw_init(&w, 0, 64, 0);
                tg_jsonw_int(&w, v);
                check_same(&w, json_integer(v), DUMP_FLAGS, "int");
        }
}

static double rnd_double(void)
{
        static const double fixed[] = {0.0,
                                       -0.0,
                                       1.0,
                                       -1.0,
                                       0.1,
                                       0.95,
                                       0.7,
                                       0.123456789,
                                       1e21,
                                       1e-7,
                                       123456789012345678.0,
                                       5e-324,
                                       1.7976931348623157e308,
                                       100.0};
        uint64_t bits;
        double d;

        switch (rnd_below(4)) {
        case 0:
                return fixed[rnd_below(sizeof(fixed) / sizeof(*fixed))];
        case 1: /* a short decimal, as people write parameters */
                return (double)rnd_below(100000) / pow(10, rnd_below(8));
        case 2:
                return (double)(int64_t)(rnd() >> rnd_below(64));
        default:
                do {
                        bits = rnd();
                        memcpy(&d, &bits, sizeof(d));
                } while (!isfinite(d));
                return d;
        }
}

static void test_reals(void)
{
        int precisions[] = {0, 15, 17, 1, 6};
        tg_jsonw_t w;

        for (int n = 0; n < 20000; n++) {
                double d = rnd_double();
                int p = precisions[n % 5];
                size_t flags = DUMP_FLAGS | JSON_REAL_PRECISION(p);
                char *want = NULL;
                json_t *v = json_real(d);

                /* jansson fails on its 24-byte buffer for the longest
                 * 17-digit numbers; nothing to compare there */
                want = json_dumps(v, flags);
                if (!want) {
                        json_decref(v);
                        continue;
                }
                free(want);
                tg_jsonw_init(&w, 0, 64, 0);
                tg_jsonw_real(&w, d, p);
                check_same(&w, v, flags, "real");
        }
        tg_jsonw_init(&w, 0, 64, 0);
        tg_jsonw_real(&w, NAN, 15);
        CHECK_INT(w.err, TG_JSONW_EREAL);
        CHECK(tg_jsonw_finish(&w, NULL) == NULL);
        tg_jsonw_init(&w, 0, 64, 0);
        tg_jsonw_real(&w, -INFINITY, 15);
        CHECK(tg_jsonw_finish(&w, NULL) == NULL);
}

static json_t *rnd_string_value(void)
{
        char buf[64];
        size_t len = 0, want = rnd_below(40);

        while (len < want)
                len += utf8_put(buf + len, rnd_codepoint());
        return json_stringn(buf, len);
}

/* A random document; object keys unique (the writer does not dedupe). */
static json_t *rnd_doc(int depth)
{
        size_t kind = depth > 4 ? 2 + rnd_below(5) : rnd_below(7);
        json_t *v;

        switch (kind) {
        case 0:
                v = json_object();
                for (size_t i = 0, n = rnd_below(6); i < n; i++) {
                        char key[80];
                        json_t *k = rnd_string_value();
                        /* keys are C strings: no NUL inside */
                        snprintf(key, sizeof(key), "%zu%s", i,
                                 json_string_value(k));
                        json_decref(k);
                        json_object_set_new(v, key, rnd_doc(depth + 1));
                }
                return v;
        case 1:
                v = json_array();
                for (size_t i = 0, n = rnd_below(6); i < n; i++)
                        json_array_append_new(v, rnd_doc(depth + 1));
                return v;
        case 2:
                return rnd_string_value();
        case 3:
                return json_integer((int64_t)rnd());
        case 4:
                return json_null();
        case 5:
                return json_boolean(rnd_below(2));
        default:
                return json_real((double)rnd_below(1000) / 8);
        }
}

/* The same document through the writer, in jansson's (insertion) order. */
static void write_doc(tg_jsonw_t *w, json_t *v)
{
        const char *key;
        json_t *e;
        size_t i;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                tg_jsonw_obj_open(w);
                json_object_foreach(v, key, e)
                {
                        tg_jsonw_key(w, key);
                        write_doc(w, e);
                }
                tg_jsonw_obj_close(w);
                break;
        case JSON_ARRAY:
                tg_jsonw_arr_open(w);
                json_array_foreach(v, i, e) write_doc(w, e);
                tg_jsonw_arr_close(w);
                break;
        case JSON_STRING:
                tg_jsonw_strn(w, json_string_value(v), json_string_length(v));
                break;
        case JSON_INTEGER:
                tg_jsonw_int(w, json_integer_value(v));
                break;
        case JSON_REAL:
                tg_jsonw_real(w, json_real_value(v), 0);
                break;
        case JSON_TRUE:
        case JSON_FALSE:
                tg_jsonw_bool(w, json_is_true(v));
                break;
        case JSON_NULL:
                tg_jsonw_null(w);
                break;
        }
}

static void test_documents(void)
{
        for (int n = 0; n < 5000; n++) {
                json_t *doc = rnd_doc(0);
                tg_jsonw_t w;

                tg_jsonw_init(&w, rnd_below(64), 1 << 20, 0);
                write_doc(&w, doc);
                check_same(&w, doc, DUMP_FLAGS, "document");
        }
}

static void test_cap(void)
{
        tg_jsonw_t w;
        size_t len = 0;
        char *s;

        /* exactly at the cap: fits */
        tg_jsonw_init(&w, 4, 9, 0);
        tg_jsonw_arr_open(&w);
        tg_jsonw_str(&w, "abc");
        tg_jsonw_int(&w, 7);
        tg_jsonw_arr_close(&w);
        s = tg_jsonw_finish(&w, &len);
        CHECK_STR(s, "[\"abc\",7]");
        CHECK_INT(len, 9);
        free(s);
        /* one byte over: nothing, and every later call a no-op */
        tg_jsonw_init(&w, 4, 8, 0);
        tg_jsonw_arr_open(&w);
        tg_jsonw_str(&w, "abc");
        tg_jsonw_int(&w, 7);
        tg_jsonw_arr_close(&w);
        CHECK_INT(w.err, TG_JSONW_ETOOBIG);
        CHECK(w.len <= 8);
        CHECK(tg_jsonw_finish(&w, &len) == NULL);
        /* escapes count against the cap */
        tg_jsonw_init(&w, 0, 7, 0);
        tg_jsonw_strn(&w, "\x01", 1); /* "\u0001" is 8 bytes */
        CHECK_INT(w.err, TG_JSONW_ETOOBIG);
        tg_jsonw_free(&w);
        /* growth from nothing to a long string, then a NULL string */
        tg_jsonw_init(&w, 0, 1 << 20, 0);
        tg_jsonw_arr_open(&w);
        for (int i = 0; i < 1000; i++)
                tg_jsonw_str(&w, "0123456789");
        tg_jsonw_str(&w, NULL);
        tg_jsonw_arr_close(&w);
        s = tg_jsonw_finish(&w, &len);
        CHECK(s && len == 2 + 1000 * 13 + 4 &&
              strcmp(s + len - 6, ",null]") == 0);
        free(s);
}

int main(void)
{
        test_valid_strings();
        test_random_bytes();
        test_integers();
        test_reals();
        test_documents();
        test_cap();
        return tg_test_done("test_jsonw");
}
