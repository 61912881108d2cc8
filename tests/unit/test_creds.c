/*
 * The credentials chain: each source, their precedence, and container
 * credentials served by a small HTTP server on 127.0.0.1 that this test
 * runs in a thread (including a refresh before expiry and a failed one).
 * The process environment is never read: a fake getenv is passed in.
 */
#include "aws/creds.h"
#include "aws/creds_int.h"
#include "tg_test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fake environment -------------------------------------------------- */

typedef struct fenv {
        const char *k[24];
        const char *v[24];
        int n;
} fenv_t;

static const char *fenv_get(void *opaque, const char *name)
{
        fenv_t *e = opaque;
        int i;

        for (i = 0; i < e->n; i++)
                if (!strcmp(e->k[i], name))
                        return e->v[i];
        /* A unit test never talks to 169.254.169.254. */
        if (!strcmp(name, "AWS_EC2_METADATA_DISABLED"))
                return "true";
        return NULL;
}

static void fset(fenv_t *e, const char *k, const char *v)
{
        e->k[e->n] = k;
        e->v[e->n] = v;
        e->n++;
}

static tg_creds_t *creds_new(fenv_t *e, tg_creds_conf_t *conf, char *err,
                             size_t err_size)
{
        tg_creds_conf_t def = {0};

        if (!conf)
                conf = &def;
        conf->getenv_fn = fenv_get;
        conf->getenv_opaque = e;
        conf->quiet = 1;
        err[0] = '\0';
        return tg_creds_new(conf, err, err_size);
}

/* ---- temp files -------------------------------------------------------- */

static char tmpdir[64];

static const char *tpath(const char *name)
{
        static char buf[8][256];
        static int i;

        i = (i + 1) % 8;
        snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
        return buf[i];
}

static void write_file(const char *name, const char *text)
{
        FILE *f = fopen(tpath(name), "w");

        CHECK(f != NULL);
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

/* ---- a tiny HTTP server ------------------------------------------------ */

typedef struct srv {
        int fd;
        int port;
        pthread_t th;
        pthread_mutex_t lock;
        int stop;            /* under lock */
        int hits;            /* under lock */
        char last_auth[512]; /* under lock */
        char last_path[512]; /* under lock */
        int status[4];       /* answer i for hit i; the last one repeats */
        const char *body[4];
        int n;
} srv_t;

static void header_value(const char *req, const char *name, char *out,
                         size_t size)
{
        const char *p = req;
        size_t n = strlen(name);

        out[0] = '\0';
        while ((p = strstr(p, "\r\n")) != NULL) {
                p += 2;
                if (!strncasecmp(p, name, n) && p[n] == ':') {
                        p += n + 1;
                        while (*p == ' ')
                                p++;
                        snprintf(out, size, "%.*s", (int)strcspn(p, "\r\n"), p);
                        return;
                }
        }
}

static void send_all(int fd, const char *p, size_t n)
{
        ssize_t w;

        while (n > 0 && (w = send(fd, p, n, MSG_NOSIGNAL)) > 0) {
                p += w;
                n -= (size_t)w;
        }
}

static void serve_one(srv_t *s, int fd)
{
        char req[16384], head[256];
        size_t len = 0;
        ssize_t r;
        int i;

        while (len < sizeof(req) - 1 &&
               (r = recv(fd, req + len, sizeof(req) - 1 - len, 0)) > 0) {
                len += (size_t)r;
                req[len] = '\0';
                if (strstr(req, "\r\n\r\n"))
                        break;
        }
        req[len] = '\0';
        pthread_mutex_lock(&s->lock);
        i = s->hits < s->n ? s->hits : s->n - 1;
        s->hits++;
        header_value(req, "Authorization", s->last_auth, sizeof(s->last_auth));
        snprintf(s->last_path, sizeof(s->last_path), "%.*s",
                 (int)strcspn(req + strcspn(req, " ") + 1, " "),
                 req + strcspn(req, " ") + 1);
        pthread_mutex_unlock(&s->lock);
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 s->status[i], strlen(s->body[i]));
        send_all(fd, head, strlen(head));
        send_all(fd, s->body[i], strlen(s->body[i]));
}

static void *srv_main(void *arg)
{
        srv_t *s = arg;
        struct pollfd pfd = {s->fd, POLLIN, 0};
        int stop = 0, fd;

        while (!stop) {
                if (poll(&pfd, 1, 50) > 0 && (fd = accept(s->fd, 0, 0)) >= 0) {
                        serve_one(s, fd);
                        close(fd);
                }
                pthread_mutex_lock(&s->lock);
                stop = s->stop;
                pthread_mutex_unlock(&s->lock);
        }
        return NULL;
}

static int srv_start(srv_t *s)
{
        struct sockaddr_in a = {0};
        socklen_t alen = sizeof(a);

        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            listen(s->fd, 16) < 0 ||
            getsockname(s->fd, (struct sockaddr *)&a, &alen) < 0)
                return -1;
        s->port = ntohs(a.sin_port);
        pthread_mutex_init(&s->lock, NULL);
        return pthread_create(&s->th, NULL, srv_main, s) ? -1 : 0;
}

static void srv_stop(srv_t *s)
{
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->th, NULL);
        close(s->fd);
        pthread_mutex_destroy(&s->lock);
}

static int srv_hits(srv_t *s, char *auth, char *path)
{
        int n;

        pthread_mutex_lock(&s->lock);
        n = s->hits;
        if (auth)
                strcpy(auth, s->last_auth);
        if (path)
                strcpy(path, s->last_path);
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* The JSON that ECS and EKS Pod Identity serve. */
static void creds_json(char *out, size_t size, const char *key, time_t exp)
{
        char ts[32];
        struct tm tm;

        gmtime_r(&exp, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(out, size,
                 "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"sk-%s\","
                 "\"Token\":\"tok-%s\",\"Expiration\":\"%s\"}",
                 key, key, key, ts);
}

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

static void cleanup_tmp(void)
{
        const char *files[] = {
            "credentials", ".aws/credentials", "long",        "bad",
            "token",       "config",           "credentials2"};
        size_t i;

        for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
                unlink(tpath(files[i]));
        rmdir(tpath(".aws"));
        rmdir(tmpdir);
}

int main(void)
{
        char one[512];
        srv_t s = {.n = 1, .status = {200}, .body = {one}};

        curl_global_init(CURL_GLOBAL_DEFAULT);
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/tg_creds_XXXXXX");
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        creds_json(one, sizeof(one), "ASIAONE", time(NULL) + 3600);
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
        CHECK_INT(srv_start(&s), 0);
        test_container_full_uri(&s);
        test_container_relative(&s);
        srv_stop(&s);
        test_container_refused();
        test_container_bad_answers();
        test_container_refresh();
        test_container_expiry();
        test_parse_time();
        cleanup_tmp();
        curl_global_cleanup();
        return tg_test_done("test_creds");
}
