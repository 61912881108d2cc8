/*
 * Container credentials (ECS, EKS Pod Identity) served by a small HTTP
 * server on 127.0.0.1 that this test runs in a thread (creds_fixture.h):
 * full and relative URIs, the authorization token, refused hosts, bad
 * answers, a refresh before expiry and a failed one.
 */
#include "creds_fixture.h"

#include <curl/curl.h>

/* ---- container credentials --------------------------------------------- */

static void test_container_full_uri(srv_t *s)
{
        fenv_t e = {0};
        tg_creds_snapshot_t snap;
        tg_creds_t *c;
        char url[128], err[512], auth[512], path[512];
        int before = srv_hits(s, NULL, NULL);

        snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/credentials",
                 s->port);
        fset(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
        fset(&e, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-auth-token");
        c = creds_new(&e, NULL, err, sizeof(err));
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "  error: %s\n", err);
                return;
        }
        CHECK_STR(tg_creds_source(c), "container-role");
        CHECK_INT(tg_creds_get(c, &snap), 0);
        CHECK_STR(snap.access_key_id, "ASIAONE");
        CHECK_STR(snap.secret_access_key, "sk-ASIAONE");
        CHECK_STR(snap.session_token, "tok-ASIAONE");
        CHECK(snap.expires_at > time(NULL) + 3000);
        CHECK_INT(srv_hits(s, auth, path), before + 1);
        CHECK_STR(auth, "env-auth-token");
        CHECK_STR(path, "/v1/credentials");
        tg_creds_destroy(c);

        /* The token file (EKS Pod Identity) wins over the variable. */
        write_file("token", "file-auth-token\n");
        fset(&e, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tpath("token"));
        c = creds_new(&e, NULL, err, sizeof(err));
        CHECK(c != NULL);
        srv_hits(s, auth, NULL);
        CHECK_STR(auth, "file-auth-token");
        tg_creds_destroy(c);
}

static void test_container_relative(srv_t *s)
{
        fenv_t e = {0};
        tg_creds_conf_t conf = {0};
        tg_creds_t *c;
        char base[64], err[512], path[512];

        snprintf(base, sizeof(base), "http://127.0.0.1:%d", s->port);
        conf.container_base_url = base;
        fset(&e, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds?id=1");
        fset(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/");
        c = creds_new(&e, &conf, err, sizeof(err));
        CHECK(c != NULL);
        srv_hits(s, NULL, path);
        CHECK_STR(path, "/v2/creds?id=1");
        tg_creds_destroy(c);
}

/* Refused before any traffic: plain http off the node. */
static void test_container_refused(void)
{
        fenv_t e = {0};
        char err[512];

        fset(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI",
             "http://example.com/creds");
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "must be https") != NULL);
        e.n = 0;
        fset(&e, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/creds");
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "must start with /") != NULL);
        CHECK_INT(tg_creds_container_url_ok("https://creds.example/", err,
                                            sizeof(err)),
                  0);
        CHECK_INT(tg_creds_container_url_ok("http://169.254.170.23/v1", err,
                                            sizeof(err)),
                  0);
        CHECK_INT(tg_creds_container_url_ok("http://[fd00:ec2::23]/v1", err,
                                            sizeof(err)),
                  0);
        CHECK_INT(
            tg_creds_container_url_ok("http://[::1]:80/", err, sizeof(err)), 0);
        CHECK_INT(
            tg_creds_container_url_ok("http://127.9.9.9/", err, sizeof(err)),
            0);
        CHECK_INT(
            tg_creds_container_url_ok("http://10.0.0.1/", err, sizeof(err)),
            -1);
        CHECK_INT(
            tg_creds_container_url_ok("file:///etc/passwd", err, sizeof(err)),
            -1);
}

/* Starts a server with the given answers and returns a provider on it. */
static tg_creds_t *container_on(srv_t *s, tg_creds_conf_t *conf, char *err,
                                size_t err_size)
{
        fenv_t e = {0};
        char url[128];

        if (srv_start(s) < 0)
                return NULL;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/creds", s->port);
        fset(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
        return creds_new(&e, conf, err, err_size);
}

static void test_container_bad_answers(void)
{
        static char big[TG_CREDS_HTTP_BODY_MAX + 4096];
        const char *bodies[] = {"not json", "{\"AccessKeyId\":\"A\"}", big,
                                "{}"};
        const char *want[] = {"not a JSON object", "lacks AccessKeyId",
                              "response over", "HTTP status 403"};
        int i;

        memset(big, ' ', sizeof(big) - 1);
        for (i = 0; i < 4; i++) {
                srv_t s = {.n = 1, .status = {i == 3 ? 403 : 200}};
                char err[512] = "";
                tg_creds_t *c;

                s.body[0] = bodies[i];
                c = container_on(&s, NULL, err, sizeof(err));
                CHECK(c == NULL);
                CHECK(strstr(err, want[i]) != NULL);
                if (!strstr(err, want[i]))
                        fprintf(stderr, "  got: %s\n", err);
                tg_creds_destroy(c);
                srv_stop(&s);
        }
}

/* Polls tg_creds_get() for up to 10 s until it returns `want_rc` with
 * `want_key` (or any key when NULL). */
static int wait_for(tg_creds_t *c, int want_rc, const char *want_key)
{
        tg_creds_snapshot_t snap;
        int i, rc;

        for (i = 0; i < 100; i++) {
                rc = tg_creds_get(c, &snap);
                if (rc == want_rc &&
                    (!want_key || !strcmp(snap.access_key_id, want_key)))
                        return 1;
                usleep(100 * 1000);
        }
        return 0;
}

static void test_container_refresh(void)
{
        char first[512], second[512], err[512] = "";
        srv_t s = {.n = 2, .status = {200, 200}};
        tg_creds_conf_t conf = {.refresh_margin_s = 2};
        tg_creds_snapshot_t snap;
        tg_creds_t *c;

        creds_json(first, sizeof(first), "ASIAFIRST", time(NULL) + 3);
        creds_json(second, sizeof(second), "ASIASECOND", time(NULL) + 3600);
        s.body[0] = first;
        s.body[1] = second;
        c = container_on(&s, &conf, err, sizeof(err));
        CHECK(c != NULL);
        if (c) {
                CHECK_INT(tg_creds_get(c, &snap), 0);
                CHECK_STR(snap.access_key_id, "ASIAFIRST");
                CHECK(wait_for(c, 0, "ASIASECOND"));
                CHECK_INT(tg_creds_last_error(c, err, sizeof(err)), 2);
                CHECK_STR(err, "");
                CHECK_INT(srv_hits(&s, NULL, NULL), 2);
        }
        tg_creds_destroy(c);
        srv_stop(&s);
}

/* Refreshing fails until the credentials expire: get() then refuses. */
static void test_container_expiry(void)
{
        char first[512], err[512] = "";
        srv_t s = {.n = 2, .status = {200, 500}, .body = {first, "{}"}};
        tg_creds_conf_t conf = {.refresh_margin_s = 2, .retry_s = 1};
        tg_creds_t *c;

        creds_json(first, sizeof(first), "ASIAONCE", time(NULL) + 3);
        c = container_on(&s, &conf, err, sizeof(err));
        CHECK(c != NULL);
        if (c) {
                CHECK(wait_for(c, -1, NULL));
                CHECK_INT(tg_creds_last_error(c, err, sizeof(err)), 1);
                CHECK(strstr(err, "HTTP status 500") != NULL);
                CHECK(srv_hits(&s, NULL, NULL) >= 2);
        }
        tg_creds_destroy(c);
        srv_stop(&s);
}

int main(void)
{
        char one[512];
        srv_t s = {.n = 1, .status = {200}, .body = {one}};

        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (tmp_init("tg_creds_container") < 0)
                return 1;
        creds_json(one, sizeof(one), "ASIAONE", time(NULL) + 3600);
        CHECK_INT(srv_start(&s), 0);
        test_container_full_uri(&s);
        test_container_relative(&s);
        srv_stop(&s);
        test_container_refused();
        test_container_bad_answers();
        test_container_refresh();
        test_container_expiry();
        cleanup_tmp();
        curl_global_cleanup();
        return tg_test_done("test_creds_container");
}
