/*
 * profiles sync's pure parts (ledger/cli/profiles_name.c and
 * profiles_catalog.c, compiled in here as the CLI is not a library): the
 * documented name rule against hashes computed by hand (Python's hashlib
 * over the documented text), AWS's tag rules, the routes splice on text
 * built to confuse it, and the atomic write.
 */
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../ledger/cli/profiles_catalog.c"
#include "../../ledger/cli/profiles_name.c"
#include "tg_test.h"

static json_t *obj(const char *text)
{
        return json_loads(text, 0, NULL);
}

static void test_names(void)
{
        char why[256], name[TG_PROFILE_NAME_MAX + 1], token[33];
        json_t *m = obj("{\"costCenter\":\"sales\"}");
        json_t *tags = tg_profiles_tags(m, why, sizeof(why));

        tg_profiles_name("nova-lite", "amazon.nova-lite-v1:0", "", tags, name,
                         token);
        /* sha256("tollgate-profile-v1\namazon.nova-lite-v1:0\n\n"
         * "costCenter=sales\n") = dee5cb03dbabafc850b0276330408b8d... */
        CHECK_STR(name, "tg-nova-lite-costCenter-sales-dee5cb03db");
        CHECK_STR(token, "dee5cb03dbabafc850b0276330408b8d");
        json_decref(tags);
        json_decref(m);

        /* Keys sorted, an empty value, copyFrom in the hash, runs of
         * other characters made one '-'. */
        m = obj("{\"b\":\"\",\"a\":\"1\"}");
        tags = tg_profiles_tags(m, why, sizeof(why));
        tg_profiles_name("x..y", "m.x:0", "us.m.x:0", tags, name, token);
        CHECK_STR(name, "tg-x-y-a-1-b-00e63a3e78");
        CHECK_STR(
            json_string_value(json_object_get(json_array_get(tags, 0), "key")),
            "a");
        json_decref(tags);
        json_decref(m);
}

static void test_tag_rules(void)
{
        char why[256];
        const char *bad[] = {"{\"aws:x\":\"1\"}", "{\"k!\":\"1\"}",
                             "{\"k\":\"v#\"}",    "{\"k\":1}",
                             "{\"\":\"v\"}",      "[]"};
        json_t *have = obj("[{\"key\":\"a\",\"value\":\"1\"},"
                           "{\"key\":\"b\",\"value\":\"2\"}]");
        json_t *want = obj("[{\"key\":\"a\",\"value\":\"1\"}]");
        json_t *other = obj("[{\"key\":\"a\",\"value\":\"9\"}]");

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                json_t *m = obj(bad[i]);
                json_t *t = tg_profiles_tags(m, why, sizeof(why));
                CHECK(t == NULL);
                json_decref(t);
                json_decref(m);
        }
        CHECK(tg_profiles_tags_cover(have, want));
        CHECK(!tg_profiles_tags_cover(have, other));
        CHECK(!tg_profiles_tags_cover(want, have));
        json_decref(have);
        json_decref(want);
        json_decref(other);
}

static void test_splice(void)
{
        const char *text =
            "{\"a\\\"routes\": \"x\\\\\", \"m\": {\"routes\": [1]},\n"
            "  \"routes\" :  [ {\"t\": \"]\"} ] , \"z\": 2}\n";
        json_t *routes = obj("[{\"target\":\"arn:1\"}]");
        char *out = tg_profiles_splice(text, strlen(text), routes);

        CHECK_STR(out, "{\"a\\\"routes\": \"x\\\\\", \"m\": {\"routes\": "
                       "[1]},\n  \"routes\" :  [\n    {\n      \"target\": "
                       "\"arn:1\"\n    }\n  ] , \"z\": 2}\n");
        free(out);
        out = tg_profiles_splice("{\"m\": {\"routes\": []}}", 21, routes);
        CHECK(out == NULL); /* only a top-level routes counts */
        free(out);
        json_decref(routes);
}

static void test_write(void)
{
        char dir[] = "/tmp/tg-profiles-XXXXXX", path[64], bad[96], why[256];
        struct stat st;
        FILE *f;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/c.json", dir);
        f = fopen(path, "w");
        fputs("old", f);
        fclose(f);
        chmod(path, 0640);
        CHECK_INT(tg_profiles_write(path, "new\n", why, sizeof(why)), 0);
        f = fopen(path, "r");
        CHECK(fgets(why, sizeof(why), f) && !strcmp(why, "new\n"));
        fclose(f);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
        snprintf(bad, sizeof(bad), "%s/no/such/dir/c.json", dir);
        CHECK_INT(tg_profiles_write(bad, "x", why, sizeof(why)), -1);
        CHECK(strstr(why, "cannot create") != NULL);
        unlink(path);
        CHECK(rmdir(dir) == 0); /* no temporary left behind */
}

int main(void)
{
        test_names();
        test_tag_rules();
        test_splice();
        test_write();
        return tg_test_done("test_profiles");
}
