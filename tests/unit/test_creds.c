/*
 * The credentials chain's static sources and their precedence: environment,
 * the shared files (profiles, role_arn with source_profile, caps), web
 * identity from the environment, credential_process, and the parsing of
 * STS answers and timestamps. Container credentials (an HTTP source) are
 * in test_creds_container.c. The process environment is never read: a
 * fake getenv is passed in (creds_fixture.h).
 */
#include "creds_fixture.h"

#include <curl/curl.h>

/* ---- static sources and precedence ------------------------------------- */

static void test_none(void)
{
        fenv_t e = {0};
        char err[512];

        fset(&e, "HOME", tmpdir); /* no .aws/credentials there */
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "no AWS credentials") != NULL);
}

static void test_env(void)
{
        fenv_t e = {0};
        tg_creds_snapshot_t s;
        tg_creds_t *c;
        char err[512];

        fset(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
        fset(&e, "AWS_SECRET_ACCESS_KEY", "envsecret");
        fset(&e, "AWS_SESSION_TOKEN", "envtoken");
        c = creds_new(&e, NULL, err, sizeof(err));
        CHECK(c != NULL);
        if (!c)
                return;
        CHECK_STR(tg_creds_source(c), "env");
        CHECK_INT(tg_creds_get(c, &s), 0);
        CHECK_STR(s.access_key_id, "AKIDENV");
        CHECK_STR(s.secret_access_key, "envsecret");
        CHECK_STR(s.session_token, "envtoken");
        CHECK_STR(s.bearer_token, "");
        CHECK_STR(s.source, "env");
        CHECK_INT(s.expires_at, 0);
        tg_secret_wipe(&s, sizeof(s));
        CHECK_STR(s.secret_access_key, "");
        tg_creds_destroy(c);

        /* Half a key pair is an error that names no secret. */
        e.n = 0;
        fset(&e, "AWS_SECRET_ACCESS_KEY", "envsecret");
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "AWS_ACCESS_KEY_ID") && !strstr(err, "envsecret"));
}

static void test_bearer_first(void)
{
        fenv_t e = {0};
        tg_creds_snapshot_t s;
        tg_creds_t *c;
        char err[512];

        fset(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
        fset(&e, "AWS_SECRET_ACCESS_KEY", "envsecret");
        fset(&e, "AWS_BEARER_TOKEN_BEDROCK", "ABSKbedrockkey");
        c = creds_new(&e, NULL, err, sizeof(err));
        CHECK(c != NULL);
        if (!c)
                return;
        CHECK_STR(tg_creds_source(c), "bearer");
        CHECK_INT(tg_creds_get(c, &s), 0);
        CHECK_STR(s.bearer_token, "ABSKbedrockkey");
        CHECK_STR(s.access_key_id, "");
        tg_creds_destroy(c);

        e.n = 0;
        fset(&e, "AWS_BEARER_TOKEN_BEDROCK", "bad\nkey");
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "control") && !strstr(err, "bad"));
}

static const char ini[] = "# a comment\n"
                          "[default]\n"
                          "aws_access_key_id = AKIDDEFAULT\n"
                          "aws_secret_access_key=defsecret\n"
                          "\n"
                          "; another comment\n"
                          "[ dev ]\n"
                          "  region = us-west-2\n"
                          "AWS_Access_Key_Id =   AKIDDEV  \n"
                          "aws_secret_access_key = devsecret\r\n"
                          "aws_session_token = devtoken\n"
                          "s3 =\n"
                          "    max_concurrent_requests = 10\n"
                          "[nokeys]\n"
                          "region = eu-west-1\n";

static void check_profile(fenv_t *e, const char *source, const char *id,
                          const char *token)
{
        tg_creds_snapshot_t s;
        tg_creds_t *c;
        char err[512];

        c = creds_new(e, NULL, err, sizeof(err));
        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "  error: %s\n", err);
                return;
        }
        CHECK_STR(tg_creds_source(c), source);
        CHECK_INT(tg_creds_get(c, &s), 0);
        CHECK_STR(s.access_key_id, id);
        CHECK_STR(s.session_token, token);
        tg_creds_destroy(c);
}

static void test_profile(void)
{
        fenv_t e = {0};
        char err[512];

        write_file("credentials", ini);
        fset(&e, "AWS_SHARED_CREDENTIALS_FILE", tpath("credentials"));
        check_profile(&e, "shared-credentials-file", "AKIDDEFAULT", "");
        fset(&e, "AWS_PROFILE", "dev");
        check_profile(&e, "shared-credentials-file", "AKIDDEV", "devtoken");

        /* An explicit profile without keys falls through (as botocore:
         * here to "no credentials"); one that no file holds is an error. */
        e.v[1] = "nokeys";
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "no AWS credentials") != NULL);
        e.v[1] = "absent";
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "profile absent is in neither") != NULL);

        /* ~/.aws/credentials under HOME, and "~/" in the variable. */
        mkdir(tpath(".aws"), 0700);
        write_file(".aws/credentials", ini);
        e.n = 0;
        fset(&e, "HOME", tmpdir);
        check_profile(&e, "shared-credentials-file", "AKIDDEFAULT", "");
        fset(&e, "AWS_SHARED_CREDENTIALS_FILE", "~/credentials");
        fset(&e, "AWS_PROFILE", "dev");
        check_profile(&e, "shared-credentials-file", "AKIDDEV", "devtoken");
}

static void test_profile_caps(void)
{
        static char big[TG_CREDS_LINE_MAX + 64];
        fenv_t e = {0};
        char err[512];

        memset(big, 'x', sizeof(big) - 1);
        memcpy(big, "[default]\naws_access_key_id=", 28);
        write_file("long", big);
        fset(&e, "AWS_SHARED_CREDENTIALS_FILE", tpath("long"));
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, ":2: line or file too long") != NULL);

        write_file("bad", "[default\naws_access_key_id=A\n");
        e.v[0] = tpath("bad");
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, ":1: malformed") != NULL);
}

static void test_precedence(void)
{
        fenv_t e = {0};

        /* env beats the file, the file beats container credentials. */
        fset(&e, "AWS_SHARED_CREDENTIALS_FILE", tpath("credentials"));
        fset(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/");
        check_profile(&e, "shared-credentials-file", "AKIDDEFAULT", "");
        fset(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
        fset(&e, "AWS_SECRET_ACCESS_KEY", "envsecret");
        check_profile(&e, "env", "AKIDENV", "");
}

/* ---- config file, order, refusals -------------------------------------- */

static const char config_ini[] =
    "[default]\n"
    "region = eu-west-1\n"
    "[profile cfgkeys]\n"
    "aws_access_key_id = AKIDCONFIG\n"
    "aws_secret_access_key: cfgsecret\n"
    "[notaprofile]\n"
    "aws_access_key_id = AKIDWRONG\n"
    "aws_secret_access_key = wrong\n"
    "[profile both]\n"
    "aws_access_key_id = AKIDCONFIGBOTH\n"
    "aws_secret_access_key = x\n"
    "[profile proc]\n"
    "credential_process = /bin/sh -c 'exit 3'\n"
    "aws_access_key_id = AKIDAFTERPROC\n"
    "aws_secret_access_key = y\n"
    "[profile sso]\n"
    "sso_account_id = 123456789012\n"
    "sso_role_name = Admin\n"
    "[profile role]\n"
    "role_arn = arn:aws:iam::123456789012:role/app\n"
    "source_profile = base\n"
    "[profile base]\n"
    "web_identity_token_file = /nonexistent/token\n"
    "role_arn = arn:aws:iam::123456789012:role/base\n"
    "[profile loop1]\n"
    "role_arn = arn:aws:iam::123456789012:role/a\n"
    "source_profile = loop2\n"
    "[profile loop2]\n"
    "role_arn = arn:aws:iam::123456789012:role/b\n"
    "source_profile = loop1\n"
    "[profile twosrc]\n"
    "role_arn = arn:aws:iam::123456789012:role/a\n"
    "source_profile = base\n"
    "credential_source = Environment\n"
    "[profile badsrc]\n"
    "role_arn = arn:aws:iam::123456789012:role/a\n"
    "credential_source = Ec2Magic\n";

static const char creds_ini[] = "[both]\n"
                                "aws_access_key_id = AKIDCREDSBOTH\n"
                                "aws_secret_access_key = z\n";

static tg_creds_t *with_profile(const char *profile, char *err, size_t size)
{
        static fenv_t e;

        e.n = 0;
        fset(&e, "AWS_CONFIG_FILE", tpath("config"));
        fset(&e, "AWS_SHARED_CREDENTIALS_FILE", tpath("credentials2"));
        if (profile)
                fset(&e, "AWS_PROFILE", profile);
        return creds_new(&e, NULL, err, size);
}

static void expect_key(const char *profile, const char *source, const char *key)
{
        tg_creds_snapshot_t s;
        char err[512];
        tg_creds_t *c = with_profile(profile, err, sizeof(err));

        CHECK(c != NULL);
        if (!c) {
                fprintf(stderr, "  %s: %s\n", profile, err);
                return;
        }
        CHECK_STR(tg_creds_source(c), source);
        CHECK_INT(tg_creds_get(c, &s), 0);
        CHECK_STR(s.access_key_id, key);
        CHECK_INT(tg_creds_valid(c), 1);
        tg_creds_destroy(c);
}

static void expect_error(const char *profile, const char *want)
{
        char err[512];
        tg_creds_t *c = with_profile(profile, err, sizeof(err));

        CHECK(c == NULL);
        CHECK(strstr(err, want) != NULL);
        if (!strstr(err, want))
                fprintf(stderr, "  %s: want \"%s\", got \"%s\"\n", profile,
                        want, err);
        tg_creds_destroy(c);
}

static void test_config_file(void)
{
        write_file("config", config_ini);
        write_file("credentials2", creds_ini);
        expect_key("cfgkeys", "config-file", "AKIDCONFIG");
        /* The credentials file comes before the config file. */
        expect_key("both", "shared-credentials-file", "AKIDCREDSBOTH");
        /* "[notaprofile]" is no profile in the config file. */
        expect_error("notaprofile", "is in neither");
        /* credential_process comes before config keys; exit 3 refused. */
        expect_error("proc", "exit status 3");
        expect_error("sso", "IAM Identity Center (SSO)");
        /* assume-role -> source profile with web identity: the token file
         * is missing, a clear error before any network traffic. */
        expect_error("role", "/nonexistent/token");
        expect_error("loop1", "makes a loop");
        expect_error("twosrc", "both source_profile and credential_source");
        expect_error("badsrc", "is not Environment");
        /* default: only a region, nothing else: no credentials. */
        expect_error(NULL, "no AWS credentials");
}

static void test_web_identity_env(void)
{
        fenv_t e = {0};
        char err[512];

        fset(&e, "HOME", tmpdir);
        fset(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", tpath("missing-token"));
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "no role") != NULL);
        fset(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa");
        CHECK(creds_new(&e, NULL, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "assume-role-with-web-identity") != NULL);
        CHECK(strstr(err, "missing-token: No such file") != NULL);
        /* env keys win over web identity. */
        fset(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
        fset(&e, "AWS_SECRET_ACCESS_KEY", "envsecret");
        check_profile(&e, "env", "AKIDENV", "");
}

static void test_process(void)
{
        static const struct {
                const char *out;
                const char *want; /* NULL: accepted */
        } cases[] = {
            {"{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\","
             "\"SecretAccessKey\":\"s\",\"SessionToken\":\"t\","
             "\"Expiration\":\"2099-01-01T00:00:00Z\"}",
             NULL},
            {"{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\","
             "\"SecretAccessKey\":\"s\"}",
             NULL},
            {"{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}",
             "Version"},
            {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}", "Version"},
            {"{\"Version\":1,\"AccessKeyId\":\"A\"}", "lacks"},
            {"{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
             "\"Expiration\":\"tomorrow\"}",
             "RFC 3339"},
            {"{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
             "\"SessionToken\":5}",
             "not a string"},
            {"[1]", "not a JSON object"},
            {"AccessKeyId=A", "not a JSON object"},
        };
        tg_creds_snapshot_t s;
        char err[256];
        char *argv[8], buf[256];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int r = tg_creds_process_parse(
                    cases[i].out, strlen(cases[i].out), &s, err, sizeof(err));
                CHECK_INT(r, cases[i].want ? -1 : 0);
                if (cases[i].want)
                        CHECK(strstr(err, cases[i].want) != NULL);
        }
        CHECK_INT(tg_creds_shell_split("a 'b c' \"d\\\"e\" f\\ g", buf,
                                       sizeof(buf), argv, 8),
                  4);
        CHECK_STR(argv[1], "b c");
        CHECK_STR(argv[2], "d\"e");
        CHECK_STR(argv[3], "f g");
        CHECK_INT(tg_creds_shell_split("a 'b", buf, sizeof(buf), argv, 8), -1);

        /* Real runs: good output, a non-zero exit, the time limit, the
         * output cap. */
        CHECK_INT(tg_creds_process_run(
                      "printf '{\"Version\":1,\"AccessKeyId\":\"AKIDRUN\","
                      "\"SecretAccessKey\":\"s\"}'",
                      5000, &s, err, sizeof(err)),
                  0);
        CHECK_STR(s.access_key_id, "AKIDRUN");
        CHECK_INT(tg_creds_process_run("false", 5000, &s, err, sizeof(err)),
                  -1);
        CHECK(strstr(err, "exit status 1") != NULL);
        CHECK_INT(tg_creds_process_run("sleep 5", 300, &s, err, sizeof(err)),
                  -1);
        CHECK(strstr(err, "within 300 ms") != NULL);
        CHECK_INT(tg_creds_process_run("head -c 70000 /dev/zero", 5000, &s, err,
                                       sizeof(err)),
                  -1);
        CHECK(strstr(err, "output over") != NULL);
        CHECK_INT(tg_creds_process_run("/nonexistent/helper", 5000, &s, err,
                                       sizeof(err)),
                  -1);
}

static void test_sts_parse(void)
{
        static const char ok[] =
            "<AssumeRoleResponse "
            "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
            "  <AssumeRoleResult>\n"
            "    <AssumedRoleUser>\n"
            "      <AssumedRoleId>AROA:s</AssumedRoleId>\n"
            "      <Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\n"
            "    </AssumedRoleUser>\n"
            "    <Credentials>\n"
            "      <AccessKeyId>ASIASTS</AccessKeyId>\n"
            "      <SecretAccessKey>a/b+c</SecretAccessKey>\n"
            "      <SessionToken>tok&amp;en=</SessionToken>\n"
            "      <Expiration>2099-01-01T00:00:00Z</Expiration>\n"
            "    </Credentials>\n"
            "  </AssumeRoleResult>\n"
            "</AssumeRoleResponse>\n";
        static const char bad[] =
            "<ErrorResponse "
            "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
            "<Error><Type>Sender</Type><Code>AccessDenied</Code>"
            "<Message>User is not authorized</Message></Error>"
            "<RequestId>x</RequestId></ErrorResponse>";
        tg_creds_snapshot_t s;
        char err[512];

        memset(&s, 0, sizeof(s));
        CHECK_INT(tg_creds_sts_parse(ok, strlen(ok), 200, &s, err, sizeof(err)),
                  0);
        CHECK_STR(s.access_key_id, "ASIASTS");
        CHECK_STR(s.secret_access_key, "a/b+c");
        CHECK_STR(s.session_token, "tok&en=");
        CHECK_INT(s.expires_at, 4070908800);
        CHECK_INT(
            tg_creds_sts_parse(bad, strlen(bad), 403, &s, err, sizeof(err)),
            -1);
        CHECK(strstr(err, "403, AccessDenied: User is not authorized") != NULL);
        CHECK_INT(tg_creds_sts_parse("<x/>", 4, 200, &s, err, sizeof(err)), -1);
        CHECK(strstr(err, "lacks Credentials") != NULL);
}

static void test_parse_time(void)
{
        time_t t = 0;

        CHECK_INT(tg_creds_parse_time("2026-11-27T10:00:00Z", &t), 0);
        CHECK_INT(t, 1795773600);
        CHECK_INT(tg_creds_parse_time("2026-11-27T10:00:00.123Z", &t), 0);
        CHECK_INT(tg_creds_parse_time("2026-11-27T10:00:00+00:00", &t), 0);
        CHECK_INT(tg_creds_parse_time("2026-11-27T10:00:00+02:00", &t), -1);
        CHECK_INT(tg_creds_parse_time("2026-11-27 10:00:00Z", &t), -1);
        CHECK_INT(tg_creds_parse_time("2026-13-27T10:00:00Z", &t), -1);
        CHECK_INT(tg_creds_parse_time("", &t), -1);
}
int main(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (tmp_init("tg_creds") < 0)
                return 1;
        test_none();
        test_env();
        test_bearer_first();
        test_profile();
        test_profile_caps();
        test_precedence();
        test_config_file();
        test_web_identity_env();
        test_process();
        test_sts_parse();
        test_parse_time();
        cleanup_tmp();
        curl_global_cleanup();
        return tg_test_done("test_creds");
}
