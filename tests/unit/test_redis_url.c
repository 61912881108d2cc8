/* Redis URL parsing: the forms the worker and the CLIs accept, and the
 * errors for those they do not, which must never quote the password. */
#include <stdlib.h>

#include "redis_url.h"
#include "tg_test.h"

static tg_redis_url_t u;
static char err[256];

static int parse(const char *url)
{
        err[0] = '\0';
        return tg_redis_url_parse(url, &u, err, sizeof(err));
}

static void test_tcp(void)
{
        CHECK_INT(parse("redis://127.0.0.1:6379"), 0);
        CHECK_STR(u.host, "127.0.0.1");
        CHECK_INT(u.port, 6379);
        CHECK_INT(u.db, 0);
        CHECK_INT(u.is_unix, 0);
        CHECK_STR(u.password, "");

        CHECK_INT(parse("redis://localhost"), 0);
        CHECK_STR(u.host, "localhost");
        CHECK_INT(u.port, 6379);

        CHECK_INT(parse("redis://redis.internal:16399/5"), 0);
        CHECK_STR(u.host, "redis.internal");
        CHECK_INT(u.port, 16399);
        CHECK_INT(u.db, 5);

        CHECK_INT(parse("redis://host/"), 0);
        CHECK_INT(u.db, 0);

        CHECK_INT(parse("redis://[::1]:7000/2"), 0);
        CHECK_STR(u.host, "::1");
        CHECK_INT(u.port, 7000);
        CHECK_INT(u.db, 2);

        CHECK_INT(parse("redis://h?db=3"), 0);
        CHECK_INT(u.db, 3);
}

static void test_credentials(void)
{
        CHECK_INT(parse("redis://:s3cret@h:1/1"), 0);
        CHECK_STR(u.user, "");
        CHECK_STR(u.password, "s3cret");
        CHECK_STR(u.host, "h");

        CHECK_INT(parse("redis://alice:pw@h"), 0);
        CHECK_STR(u.user, "alice");
        CHECK_STR(u.password, "pw");

        /* '@' and ':' in a password: percent-encoded, or a raw '@' (the
         * last '@' ends the credentials). */
        CHECK_INT(parse("redis://bob:p%40ss%3Aw@h"), 0);
        CHECK_STR(u.password, "p@ss:w");
        CHECK_INT(parse("redis://bob:p@ss@h:2"), 0);
        CHECK_STR(u.password, "p@ss");
        CHECK_STR(u.host, "h");
        CHECK_INT(u.port, 2);

        CHECK_INT(parse("redis://:bad%zzescape@h"), -1);
        CHECK(strstr(err, "password") != NULL);
        CHECK(strstr(err, "bad%zz") == NULL);
        CHECK_INT(parse("redis://:nul%00byte@h"), -1);
        CHECK_INT(parse("redis://justaword@h"), -1);
        CHECK(strstr(err, "justaword") == NULL);
}

static void test_unix(void)
{
        CHECK_INT(parse("unix:///run/redis/redis.sock"), 0);
        CHECK_INT(u.is_unix, 1);
        CHECK_STR(u.path, "/run/redis/redis.sock");
        CHECK_INT(u.db, 0);

        CHECK_INT(parse("unix:///tmp/r.sock?db=4&password=top%26secret"), 0);
        CHECK_STR(u.path, "/tmp/r.sock");
        CHECK_INT(u.db, 4);
        CHECK_STR(u.password, "top&secret");

        CHECK_INT(parse("unix:///tmp/r.sock?user=app&password=x"), 0);
        CHECK_STR(u.user, "app");

        CHECK_INT(parse("unix://relative.sock"), -1);
        CHECK(strstr(err, "absolute") != NULL);
        CHECK_INT(parse("unix:///tmp/r.sock?color=blue"), -1);
        CHECK(strstr(err, "color") != NULL);
        CHECK_INT(parse("unix:///tmp/r.sock?db=1&db=2"), -1);

        char longpath[200];
        memset(longpath, 'a', sizeof(longpath));
        memcpy(longpath, "unix:///", 8);
        longpath[sizeof(longpath) - 1] = '\0';
        CHECK_INT(parse(longpath), -1);
        CHECK(strstr(err, "longer") != NULL);
}

static void test_errors(void)
{
        CHECK_INT(parse(""), -1);
        CHECK_INT(parse(NULL), -1);
        CHECK_INT(parse("http://h"), -1);
        CHECK_INT(parse("h:6379"), -1);
        CHECK_INT(parse("redis://"), -1);
        CHECK(strstr(err, "missing host") != NULL);
        CHECK_INT(parse("redis://h:0"), -1);
        CHECK_INT(parse("redis://h:65536"), -1);
        CHECK(strstr(err, "port") != NULL);
        CHECK_INT(parse("redis://h:12ab"), -1);
        CHECK_INT(parse("redis://h/x"), -1);
        CHECK(strstr(err, "database") != NULL);
        CHECK_INT(parse("redis://h/1?db=2"), -1);
        CHECK_INT(parse("redis://::1:6379"), -1);
        CHECK(strstr(err, "brackets") != NULL);
        CHECK_INT(parse("redis://[::1"), -1);
        CHECK_INT(parse("redis://h o/"), -1);

        char big[TG_REDIS_PASSWORD_MAX + 64];
        snprintf(big, sizeof(big), "redis://:%0*d@h", TG_REDIS_PASSWORD_MAX + 1,
                 7);
        CHECK_INT(parse(big), -1);
        CHECK(strstr(err, "0000") == NULL);
}

static void test_describe(void)
{
        char out[512];

        CHECK_INT(parse("redis://alice:pw@h:7/3"), 0);
        tg_redis_url_describe(&u, out, sizeof(out));
        CHECK_STR(out, "redis://alice:***@h:7/3");
        CHECK_INT(parse("redis://[::1]"), 0);
        tg_redis_url_describe(&u, out, sizeof(out));
        CHECK_STR(out, "redis://[::1]:6379/0");
        CHECK_INT(parse("unix:///s.sock?password=zz"), 0);
        tg_redis_url_describe(&u, out, sizeof(out));
        CHECK_STR(out, "unix:///s.sock?db=0&password=***");
}

/* Connecting to a closed port fails with the address, not the password. */
static void test_connect_fails(void)
{
        CHECK_INT(parse("redis://:hunter2@127.0.0.1:1/0"), 0);
        CHECK(tg_redis_connect_sync(&u, 500, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "127.0.0.1:1") != NULL);
        CHECK(strstr(err, "hunter2") == NULL);
}

/* rediss:// and its tls-* parameters: parsed on a TLS build, refused with
 * the build's reason (never the password) on one without. */
static void test_tls_missing(void)
{
        tg_redis_tls_args_t a = {.cert = "/c.pem"};
        char *full;

        CHECK(strstr(tg_redis_tls_missing(),
                     "this build has no Redis TLS: hiredis") != NULL);
        CHECK_INT(parse("rediss://:pw@h:6380"), -1);
        CHECK(strstr(err, "this build has no Redis TLS") != NULL);
        CHECK(strstr(err, "pw") == NULL);
        CHECK_INT(parse("redis://h?tls-ca-file=/ca.pem"), -1);
        CHECK(strstr(err, "tls-ca-file: this build has no Redis TLS") != NULL);
        full = tg_redis_url_with_tls("redis://:pw@h", &a, err, sizeof(err));
        CHECK(full == NULL);
        CHECK(strstr(err, "--redis-tls-cert: this build has no Redis TLS") !=
              NULL);
        CHECK(strstr(err, "pw") == NULL);
}

static void test_tls(void)
{
        CHECK_INT(parse("rediss://alice:p%40w@cache.example.com:6380/2"), 0);
        CHECK_INT(u.tls.enabled, 1);
        CHECK_STR(u.host, "cache.example.com");
        CHECK_INT(u.port, 6380);
        CHECK_INT(u.db, 2);
        CHECK_STR(u.user, "alice");
        CHECK_STR(u.password, "p@w");
        CHECK_STR(u.tls.ca_file, "");
        CHECK_INT(u.tls.insecure, 0);

        CHECK_INT(parse("rediss://h?tls-ca-file=/etc/a%26b.pem&tls-ca-dir=/d"
                        "&tls-cert=/c.pem&tls-key=/k.pem&tls-server-name=r.test"
                        "&tls-insecure=1&db=4"),
                  0);
        CHECK_STR(u.tls.ca_file, "/etc/a&b.pem");
        CHECK_STR(u.tls.ca_dir, "/d");
        CHECK_STR(u.tls.cert, "/c.pem");
        CHECK_STR(u.tls.key, "/k.pem");
        CHECK_STR(u.tls.server_name, "r.test");
        CHECK_INT(u.tls.insecure, 1);
        CHECK_INT(u.db, 4);

        CHECK_INT(parse("rediss://h?tls-cert=/c.pem"), -1);
        CHECK(strstr(err, "both tls-cert and tls-key") != NULL);
        CHECK_INT(parse("rediss://h?tls-key=/k.pem"), -1);
        CHECK_INT(parse("redis://h?tls-ca-file=/ca.pem"), -1);
        CHECK(strstr(err, "needs a rediss:// URL") != NULL);
        CHECK_INT(parse("unix:///s.sock?tls-ca-file=/ca.pem"), -1);
        CHECK_INT(parse("rediss://h?tls-insecure=maybe"), -1);
        CHECK_INT(parse("rediss://h?tls-ca-file=/a&tls-ca-file=/b"), -1);
        CHECK(strstr(err, "given twice") != NULL);
        CHECK_INT(parse("rediss://h?tls-ca-file="), -1);
        CHECK_INT(parse("rediss://h?tls-server-name=a%20b"), -1);
        CHECK_INT(parse("rediss://h?tls-nope=1"), -1);
        CHECK(strstr(err, "unknown query parameter") != NULL);
}

/* The config options folded into the URL come back out of it intact. */
static void test_tls_fold(void)
{
        tg_redis_tls_args_t a = {.ca_file = "/x/ca & co=1%.pem",
                                 .cert = "/c.pem",
                                 .key = "/k.pem",
                                 .server_name = "redis.test",
                                 .insecure = 1};
        tg_redis_tls_args_t none = {0};
        char *full;

        full =
            tg_redis_url_with_tls("rediss://:pw@h:1/3", &a, err, sizeof(err));
        CHECK(full != NULL);
        CHECK_INT(parse(full), 0);
        CHECK_STR(u.tls.ca_file, "/x/ca & co=1%.pem");
        CHECK_STR(u.tls.cert, "/c.pem");
        CHECK_STR(u.tls.key, "/k.pem");
        CHECK_STR(u.tls.server_name, "redis.test");
        CHECK_INT(u.tls.insecure, 1);
        CHECK_INT(u.db, 3);
        CHECK_STR(u.password, "pw");
        free(full);
        full = tg_redis_url_with_tls("rediss://h?db=2", &a, err, sizeof(err));
        CHECK(full != NULL);
        CHECK_INT(parse(full), 0);
        CHECK_INT(u.db, 2);
        free(full);
        full = tg_redis_url_with_tls("redis://h", &none, err, sizeof(err));
        CHECK_STR(full, "redis://h");
        free(full);
        /* options on a plain URL are an error, not silently plain text */
        full = tg_redis_url_with_tls("redis://h", &a, err, sizeof(err));
        CHECK_INT(parse(full), -1);
        CHECK(strstr(err, "needs a rediss:// URL") != NULL);
        free(full);
}

static void test_tls_describe(void)
{
        char out[512];

        CHECK_INT(parse("rediss://alice:pw@h:7/3?tls-insecure=0"), 0);
        tg_redis_url_describe(&u, out, sizeof(out));
        CHECK_STR(out, "rediss://alice:***@h:7/3");
}

int main(void)
{
        if (tg_redis_tls_available()) {
                CHECK_STR(tg_redis_tls_missing(), "");
                test_tls();
                test_tls_fold();
                test_tls_describe();
        } else {
                test_tls_missing();
        }
        test_tcp();
        test_credentials();
        test_unix();
        test_errors();
        test_describe();
        test_connect_fails();
        return tg_test_done("test_redis_url");
}
