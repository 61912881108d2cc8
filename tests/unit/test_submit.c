/* libtollgate without Kafka: preparing requests (id and timestamp filling,
 * validation with the worker's rules) and the capped JSONL reader. */
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "tg_test.h"
#include "tgtime.h"
#include "tollgate.h"

/* Numbers and spacing a jansson re-dump would change. */
static const char *BARE =
    "{\"model\": \"nova-lite\", \"prompt\": {\"messages\": [{\"role\": "
    "\"user\", \"content\": \"caf\\u00e9 \\/ \\\"hi\\\"\"}], "
    "\"parameters\": {\"max_tokens\": 64, \"temperature\": 0.9, "
    "\"top_p\": 1e-1}}, \"tags\": {\"applicationId\": \"app\"}}";

static json_t *load(const char *s, size_t len)
{
        return json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
}

static void test_fills_id_and_timestamp(void)
{
        tg_prepared_t p;
        char err[256];
        int64_t us;
        size_t n = strlen(BARE);

        CHECK_INT(
            tg_submit_prepare(BARE, n, NULL, 0, NULL, &p, err, sizeof(err)),
            TG_PARSE_OK);
        CHECK(p.filled_id && p.filled_timestamp);
        CHECK_INT(strlen(p.request_id), 36);
        CHECK(tg_request_id_valid(p.request_id, strlen(p.request_id)));
        json_t *out = load(p.json, p.len), *in = load(BARE, n);
        CHECK(out != NULL);
        CHECK_STR(json_string_value(json_object_get(out, "requestId")),
                  p.request_id);
        CHECK(tg_time_parse_rfc3339(
                  json_string_value(json_object_get(out, "timestamp")), &us) ==
              0);
        CHECK(llabs(us - tg_time_now_us()) < 60 * 1000000LL);
        json_object_del(out, "requestId");
        json_object_del(out, "timestamp");
        CHECK(json_equal(out, in));
        /* Everything but the two spliced fields is the input, byte for
         * byte: "{" + fields + the rest. */
        CHECK_INT(p.json[0], '{');
        CHECK(p.len > n &&
              memcmp(p.json + (p.len - n) + 1, BARE + 1, n - 1) == 0);
        json_decref(out);
        json_decref(in);
        tg_prepared_release(&p);
}

static void test_keeps_existing(void)
{
        const char *full = "{\"requestId\":\"mine-1\",\"timestamp\":"
                           "\"2026-11-27T10:00:00Z\",\"model\":\"nova-lite\","
                           "\"prompt\":{\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]},\"tags\":{\"applicationId\":"
                           "\"a\"}}";
        const char *id_only = "{\"requestId\":\"mine-2\",\"model\":\"m\","
                              "\"prompt\":{\"messages\":[{\"role\":\"user\","
                              "\"content\":\"x\"}]},\"tags\":{"
                              "\"applicationId\":\"a\"}}";
        tg_prepared_t p;
        char err[256];

        CHECK_INT(tg_submit_prepare(full, strlen(full), "other", 0, NULL, &p,
                                    err, sizeof(err)),
                  TG_PARSE_OK);
        CHECK_STR(p.request_id, "mine-1");
        CHECK(p.json == full && p.buf == NULL); /* produced as it came */
        tg_prepared_release(&p);

        CHECK_INT(tg_submit_prepare(id_only, strlen(id_only), NULL, 0, NULL, &p,
                                    err, sizeof(err)),
                  TG_PARSE_OK);
        CHECK_STR(p.request_id, "mine-2");
        CHECK(!p.filled_id && p.filled_timestamp);
        json_t *out = load(p.json, p.len);
        CHECK_STR(json_string_value(json_object_get(out, "requestId")),
                  "mine-2");
        CHECK(json_object_get(out, "timestamp") != NULL);
        json_decref(out);
        tg_prepared_release(&p);
}

static void test_default_id(void)
{
        tg_prepared_t p;
        char err[256];

        CHECK_INT(tg_submit_prepare(BARE, strlen(BARE), "resumed-7", 0, NULL,
                                    &p, err, sizeof(err)),
                  TG_PARSE_OK);
        CHECK_STR(p.request_id, "resumed-7");
        CHECK(strstr(p.json, "\"requestId\":\"resumed-7\"") != NULL);
        tg_prepared_release(&p);
        /* A damaged id is not used: a fresh UUID is. */
        CHECK_INT(tg_submit_prepare(BARE, strlen(BARE), "bad id", 0, NULL, &p,
                                    err, sizeof(err)),
                  TG_PARSE_OK);
        CHECK_INT(strlen(p.request_id), 36);
        tg_prepared_release(&p);
}

static void expect(const char *json, tg_parse_result_t want,
                   const tg_catalog_t *cat, const char *err_prefix)
{
        tg_prepared_t p;
        char err[512] = "";

        CHECK_INT(tg_submit_prepare(json, strlen(json), NULL, 0, cat, &p, err,
                                    sizeof(err)),
                  want);
        if (strncmp(err, err_prefix, strlen(err_prefix)) != 0) {
                fprintf(stderr, "error \"%s\" does not start with \"%s\"\n",
                        err, err_prefix);
                CHECK(0);
        }
        if (want != TG_PARSE_OK)
                CHECK(p.json == NULL && p.buf == NULL);
        tg_prepared_release(&p);
}

static void test_invalid(void)
{
        char err[256];
        tg_catalog_t *cat =
            tg_catalog_load_file("worker/catalog.json", err, sizeof(err));
        const char *unknown = "{\"model\":\"gpt-9\",\"prompt\":{\"messages\":"
                              "[{\"role\":\"user\",\"content\":\"x\"}]},"
                              "\"tags\":{\"applicationId\":\"a\"}}";

        expect("{\"model\":\"nova-lite\",\"prompt\":{\"messages\":[{\"role\":"
               "\"bot\",\"content\":\"x\"}]},\"tags\":{\"applicationId\":"
               "\"a\"}}",
               TG_PARSE_INVALID, NULL,
               "prompt.messages[0].role: must be one of system, user, "
               "assistant");
        expect("{\"model\":\"nova-lite\",\"prompt\":{\"messages\":[{\"role\":"
               "\"user\",\"content\":\"x\"}]},\"tags\":{}}",
               TG_PARSE_INVALID, NULL, "tags.applicationId: required");
        expect("{\"requestId\":\"has space\",\"model\":\"m\"}",
               TG_PARSE_INVALID, NULL, "requestId: must be 1-128");
        expect("[1,2]", TG_PARSE_NOT_JSON, NULL, "not a JSON object");
        expect("{\"model\":", TG_PARSE_NOT_JSON, NULL, "not a JSON object");
        /* Unknown models: only with a catalog. */
        CHECK(cat != NULL);
        expect(unknown, TG_PARSE_INVALID, cat,
               "model: unknown model \"gpt-9\"");
        expect(unknown, TG_PARSE_OK, NULL, "");
        tg_catalog_destroy(cat);
}

/* A request padded with spaces to exactly `size` bytes. */
static char *padded(const char *json, size_t size)
{
        size_t n = strlen(json);
        char *out = malloc(size + 1);

        memcpy(out, json, n - 1);
        memset(out + n - 1, ' ', size - n);
        out[size - 1] = '}';
        out[size] = '\0';
        return out;
}

static void test_size_cap(void)
{
        const char *full = "{\"requestId\":\"r\",\"timestamp\":"
                           "\"2026-11-27T10:00:00Z\",\"model\":\"m\","
                           "\"prompt\":{\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]},\"tags\":{"
                           "\"applicationId\":\"a\"}}";
        char *at = padded(full, 1000), *over = padded(full, 1001);
        char *bare = padded(BARE, 1000);
        tg_prepared_t p;
        char err[256] = "";

        CHECK_INT(
            tg_submit_prepare(at, 1000, NULL, 1000, NULL, &p, err, sizeof(err)),
            TG_PARSE_OK);
        tg_prepared_release(&p);
        CHECK_INT(tg_submit_prepare(over, 1001, NULL, 1000, NULL, &p, err,
                                    sizeof(err)),
                  TG_PARSE_INVALID);
        CHECK_STR(err, "request is 1001 bytes, over the 1000-byte limit");
        /* Within the limit as given, over it once the fields are filled:
         * the worker would call it invalid, so it is rejected now. */
        CHECK_INT(tg_submit_prepare(bare, 1000, NULL, 1000, NULL, &p, err,
                                    sizeof(err)),
                  TG_PARSE_INVALID);
        CHECK(strstr(err, "with requestId and timestamp filled in") != NULL);
        free(at);
        free(over);
        free(bare);
}

static int temp_input(const char *data, size_t len)
{
        FILE *f = tmpfile();
        int fd;

        fwrite(data, 1, len, f);
        fflush(f);
        fd = dup(fileno(f));
        fclose(f);
        lseek(fd, 0, SEEK_SET);
        return fd;
}

static void next_is(tg_lines_t *r, int64_t lineno, const char *text, int over,
                    size_t len)
{
        tg_line_t l;

        CHECK_INT(tg_lines_next(r, &l), 1);
        CHECK_INT(l.lineno, lineno);
        CHECK_INT(l.over, over);
        CHECK_INT(l.len, len);
        if (text)
                CHECK(l.data && l.len == strlen(text) &&
                      memcmp(l.data, text, l.len) == 0);
        else
                CHECK(l.data == NULL);
}

static void test_lines(void)
{
        /* max 10: a 10-byte line is fine, 11 is over; a 300,000-byte line
         * is skipped through several reads of the 64 KiB chunk. */
        size_t big = 300000, n = 0;
        char *in = malloc(big + 200);
        tg_line_t l;

        n += (size_t)sprintf(in + n, "0123456789\nshort\r\n\n");
        n += (size_t)sprintf(in + n, "0123456789A\n");
        memset(in + n, 'x', big);
        n += big;
        n += (size_t)sprintf(in + n, "\r\nafter\nno-newline");

        int fd = temp_input(in, n);
        tg_lines_t *r = tg_lines_new(fd, 10);
        next_is(r, 1, "0123456789", 0, 10);
        next_is(r, 2, "short", 0, 5);
        next_is(r, 3, "", 0, 0);
        next_is(r, 4, NULL, 1, 11);
        next_is(r, 5, NULL, 1, big);
        next_is(r, 6, "after", 0, 5);
        next_is(r, 7, "no-newline", 0, 10);
        CHECK_INT(tg_lines_next(r, &l), 0);
        CHECK_INT(tg_lines_offset(r), n);
        tg_lines_destroy(r);
        close(fd);
        free(in);
}

/* An over-long last line without a newline is still one (over) line. */
static void test_lines_long_tail(void)
{
        size_t big = 200000;
        char *in = malloc(big);
        tg_line_t l;

        memset(in, 'y', big);
        int fd = temp_input(in, big);
        tg_lines_t *r = tg_lines_new(fd, 1024);
        next_is(r, 1, NULL, 1, big);
        CHECK_INT(tg_lines_next(r, &l), 0);
        tg_lines_destroy(r);
        close(fd);
        free(in);
}

int main(void)
{
        test_fills_id_and_timestamp();
        test_keeps_existing();
        test_default_id();
        test_invalid();
        test_size_cap();
        test_lines();
        test_lines_long_tail();
        return tg_test_done("test_submit");
}
