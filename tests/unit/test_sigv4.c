/*
 * SigV4: every header-signing case of AWS's public test suite (read from
 * $TG_SHARED_DIR/sigv4-testsuite, never copied into the repo), and the
 * Bedrock paths whose model ids hold ':' and '/'.
 */
#include "aws/bedrock_auth.h"
#include "aws/sigv4.h"
#include "tg_test.h"

#include <dirent.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FILE_CAP  (64 * 1024)
#define VALUE_CAP 4096

typedef struct treq {
        char *text; /* request.txt; method, target and body point in here */
        char *method;
        char path[TG_SIGV4_MAX_PATH + 1];
        char query[TG_SIGV4_MAX_QUERY + 1];
        char names[TG_SIGV4_MAX_HEADERS][TG_SIGV4_MAX_HEADER_NAME + 1];
        char values[TG_SIGV4_MAX_HEADERS][VALUE_CAP];
        tg_sigv4_header_t h[TG_SIGV4_MAX_HEADERS];
        size_t n;
        const char *body;
        size_t body_len;
} treq_t;

static char *slurp(const char *dir, const char *name, size_t *len)
{
        return tg_test_slurp(dir, name, FILE_CAP, len);
}

/* Cuts the line at *p (LF or CRLF), advances *p past it, returns it. */
static char *next_line(char **p)
{
        char *line = *p, *nl = strchr(line, '\n');

        if (nl) {
                *nl = '\0';
                *p = nl + 1;
        } else {
                *p = line + strlen(line);
        }
        if (*line && line[strlen(line) - 1] == '\r')
                line[strlen(line) - 1] = '\0';
        return line;
}

/* "METHOD target HTTP/1.1"; the target may hold spaces (get-space). */
static int parse_request_line(treq_t *r, char *line)
{
        char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' '), *q;

        if (!sp1 || sp2 == sp1)
                return -1;
        *sp1 = *sp2 = '\0';
        r->method = line;
        q = strchr(sp1 + 1, '?');
        if (q)
                *q = '\0';
        snprintf(r->path, sizeof(r->path), "%s", sp1 + 1);
        snprintf(r->query, sizeof(r->query), "%s", q ? q + 1 : "");
        return 0;
}

/* "Name:value", or a folded continuation of the previous value, which
 * joins it with one space as RFC 7230 obs-fold allows. */
static int parse_header_line(treq_t *r, const char *line)
{
        const char *colon = strchr(line, ':');
        size_t len;

        if ((line[0] == ' ' || line[0] == '\t') && r->n > 0) {
                len = strlen(r->values[r->n - 1]);
                snprintf(r->values[r->n - 1] + len, VALUE_CAP - len, " %s",
                         line);
                return 0;
        }
        if (!colon || r->n == TG_SIGV4_MAX_HEADERS ||
            (size_t)(colon - line) > TG_SIGV4_MAX_HEADER_NAME)
                return -1;
        snprintf(r->names[r->n], sizeof(r->names[0]), "%.*s",
                 (int)(colon - line), line);
        snprintf(r->values[r->n], VALUE_CAP, "%s", colon + 1);
        r->n++;
        return 0;
}

static int parse_request(treq_t *r, char *text, size_t len)
{
        char *p = text, *line;
        size_t i;

        r->text = text;
        if (parse_request_line(r, next_line(&p)) < 0)
                return -1;
        while (*p) {
                line = next_line(&p);
                if (!*line)
                        break;
                if (parse_header_line(r, line) < 0)
                        return -1;
        }
        r->body = p;
        r->body_len = len - (size_t)(p - text);
        for (i = 0; i < r->n; i++) {
                r->h[i].name = r->names[i];
                r->h[i].value = r->values[i];
        }
        return 0;
}

static int add_header(treq_t *r, const char *name, const char *value)
{
        if (r->n == TG_SIGV4_MAX_HEADERS)
                return -1;
        snprintf(r->names[r->n], sizeof(r->names[0]), "%s", name);
        snprintf(r->values[r->n], VALUE_CAP, "%s", value);
        r->h[r->n].name = r->names[r->n];
        r->h[r->n].value = r->values[r->n];
        r->n++;
        return 0;
}

/* The expected files carry no final newline, but tolerate one. */
static void chomp(char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n && s[n - 1] == '\n')
                s[n - 1] = '\0';
}

/* The Authorization value from header-signed-request.txt. */
static const char *authz_of(char *signed_req)
{
        char *p = signed_req, *line;

        while (*p) {
                line = next_line(&p);
                if (!strncmp(line, "Authorization:", 14))
                        return line + 14;
        }
        return NULL;
}

typedef struct ctx {
        char id[TG_SIGV4_MAX_KEY + 1];
        char secret[TG_SIGV4_MAX_KEY + 1];
        char token[VALUE_CAP];
        char region[64];
        char service[64];
        char amz_date[17];
        int normalize;
        int sign_body;
} ctx_t;

static const char *jget(json_t *o, const char *path1, const char *path2)
{
        json_t *v = json_object_get(o, path1);

        if (path2)
                v = json_object_get(v, path2);
        return json_string_value(v);
}

/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
static int iso_basic(const char *ts, char out[17])
{
        size_t i, o = 0;

        for (i = 0; ts && ts[i] && o < 16; i++)
                if (ts[i] != '-' && ts[i] != ':')
                        out[o++] = ts[i];
        out[o] = '\0';
        return o == 16 ? 0 : -1;
}

static int load_ctx(const char *dir, ctx_t *c)
{
        char path[1100];
        json_t *j;
        const char *id, *sec, *tok, *reg, *svc;
        int ret = -1;

        snprintf(path, sizeof(path), "%s/context.json", dir);
        if (!(j = json_load_file(path, 0, NULL)))
                return -1;
        id = jget(j, "credentials", "access_key_id");
        sec = jget(j, "credentials", "secret_access_key");
        tok = jget(j, "credentials", "token");
        reg = jget(j, "region", NULL);
        svc = jget(j, "service", NULL);
        if (id && sec && reg && svc &&
            !iso_basic(jget(j, "timestamp", NULL), c->amz_date)) {
                snprintf(c->id, sizeof(c->id), "%s", id);
                snprintf(c->secret, sizeof(c->secret), "%s", sec);
                snprintf(c->token, sizeof(c->token), "%s", tok ? tok : "");
                snprintf(c->region, sizeof(c->region), "%s", reg);
                snprintf(c->service, sizeof(c->service), "%s", svc);
                c->normalize = json_is_true(json_object_get(j, "normalize"));
                c->sign_body = json_is_true(json_object_get(j, "sign_body"));
                ret = 0;
        }
        json_decref(j);
        return ret;
}

typedef struct expected {
        char *creq;
        char *sts;
        char *sig;
        char *signed_req;
} expected_t;

static void expected_free(expected_t *e)
{
        free(e->creq);
        free(e->sts);
        free(e->sig);
        free(e->signed_req);
}

static int same(const char *what, const char *name, const char *got,
                const char *want)
{
        if (got && want && !strcmp(got, want))
                return 1;
        fprintf(stderr,
                "sigv4 suite %s: %s differs\n--- got\n%s\n--- want\n%s\n", name,
                what, got ? got : "(null)", want ? want : "(null)");
        return 0;
}

/* 1 when the canonical request, string to sign, signature and
 * Authorization header all equal the suite's. */
static int check_case(const char *name, const treq_t *r, const ctx_t *c,
                      expected_t *e)
{
        tg_sigv4_request_t req = {r->method, r->path, r->query,    r->h,
                                  r->n,      r->body, r->body_len, NULL};
        tg_sigv4_params_t p = {c->id,       c->secret, c->region,    c->service,
                               c->amz_date, 0,         !c->normalize};
        tg_sigv4_result_t res;
        char err[256] = "";
        char *creq = tg_sigv4_canonical_request(&req, &p, err, sizeof(err));
        char *sts = creq ? tg_sigv4_string_to_sign(creq, &p) : NULL;
        int ok;

        if (tg_sigv4_sign(&req, &p, &res, err, sizeof(err)) < 0)
                fprintf(stderr, "sigv4 suite %s: %s\n", name, err);
        ok = same("canonical request", name, creq, e->creq);
        ok &= same("string to sign", name, sts, e->sts);
        ok &= same("signature", name, res.signature, e->sig);
        ok &= same("Authorization", name, res.authorization,
                   authz_of(e->signed_req));
        free(creq);
        free(sts);
        return ok;
}

/* The suite signs "post-sts-header-after" without the token and adds the
 * header afterwards (aws-c-auth's omit_session_token); every other case
 * with a token signs it. */
static int prepare(const char *name, treq_t *r, const ctx_t *c)
{
        char hash[65];

        if (add_header(r, "X-Amz-Date", c->amz_date) < 0)
                return -1;
        if (c->token[0] && !strstr(name, "sts-header-after") &&
            add_header(r, "X-Amz-Security-Token", c->token) < 0)
                return -1;
        tg_sha256_hex(r->body, r->body_len, hash);
        if (c->sign_body && add_header(r, "x-amz-content-sha256", hash) < 0)
                return -1;
        return 0;
}

/* 1 passed, 0 failed, -1 not applicable (reason printed). */
static int run_case(const char *suite, const char *name)
{
        char dir[1024];
        expected_t e = {0};
        treq_t *r = calloc(1, sizeof(*r));
        ctx_t c;
        size_t len = 0;
        char *text;
        int ret = 0;

        snprintf(dir, sizeof(dir), "%s/%s", suite, name);
        e.creq = slurp(dir, "header-canonical-request.txt", NULL);
        e.sts = slurp(dir, "header-string-to-sign.txt", NULL);
        e.sig = slurp(dir, "header-signature.txt", NULL);
        e.signed_req = slurp(dir, "header-signed-request.txt", NULL);
        text = slurp(dir, "request.txt", &len);
        if (!e.creq || !e.sts || !e.sig || !e.signed_req || !text) {
                printf("sigv4 suite %s: skipped, not a header-signing case "
                       "(no request.txt or header-*.txt)\n",
                       name);
                ret = -1;
        } else if (!r || load_ctx(dir, &c) < 0 ||
                   parse_request(r, text, len) < 0 || prepare(name, r, &c)) {
                fprintf(stderr, "sigv4 suite %s: cannot read the case\n", name);
        } else {
                chomp(e.creq);
                chomp(e.sts);
                chomp(e.sig);
                ret = check_case(name, r, &c, &e);
        }
        expected_free(&e);
        free(text);
        free(r);
        return ret;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Case folders in name order, so the output is stable. */
static size_t list_cases(const char *suite, char **names, size_t max)
{
        DIR *d = opendir(suite);
        struct dirent *de;
        size_t n = 0;

        while (d && (de = readdir(d)) && n < max) {
                char probe[1024];
                FILE *f;

                snprintf(probe, sizeof(probe), "%s/%s/context.json", suite,
                         de->d_name);
                if (de->d_name[0] != '.' && (f = fopen(probe, "r"))) {
                        fclose(f);
                        names[n++] = strdup(de->d_name);
                }
        }
        if (d)
                closedir(d);
        qsort(names, n, sizeof(*names), cmp_names);
        return n;
}

static void test_suite(void)
{
        const char *shared = getenv("TG_SHARED_DIR");
        char suite[512];
        char *names[256];
        size_t n, i, passed = 0, skipped = 0;
        int r;

        snprintf(suite, sizeof(suite), "%s/sigv4-testsuite",
                 shared ? shared : "../shared");
        n = list_cases(suite, names, 256);
        if (!n) {
                printf("sigv4 suite: skipped, %s is absent\n", suite);
                return;
        }
        for (i = 0; i < n; i++) {
                r = run_case(suite, names[i]);
                passed += r == 1;
                skipped += r < 0;
                free(names[i]);
        }
        printf("sigv4 suite: %zu of %zu applicable cases passed, %zu "
               "skipped as not applicable\n",
               passed, n - skipped, skipped);
        CHECK_INT(passed, n - skipped);
        CHECK(n - skipped >= 30);
}

#define NOVA   "amazon.nova-lite-v1:0"
#define NOVA_W "/model/amazon.nova-lite-v1%3A0/converse"
#define PROFILE                                                                \
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-"        \
        "profile/abc123"
#define PROFILE_W                                                              \
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-" \
        "inference-profile%2Fabc123/converse"
#define PROFILE_C                                                              \
        "/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A123456789012%253A"   \
        "application-inference-profile%252Fabc123/converse"
#define BODY                                                                   \
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}"
#define HOST   "bedrock-runtime.us-east-1.amazonaws.com"
#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN  "FwoGZXIvYXdzEXAMPLETOKEN"
#define T_2026 ((time_t)1795773600) /* 2026-11-27T10:00:00Z */

/* The second line of a canonical request: the canonical path. */
static void canonical_path_of(const char *wire, const tg_sigv4_params_t *p,
                              char *out, size_t size)
{
        tg_sigv4_header_t h[] = {{"Host", HOST}, {"X-Amz-Date", "x"}};
        tg_sigv4_request_t req = {"POST", wire, NULL, h, 2, "", 0, NULL};
        char err[256];
        char *creq = tg_sigv4_canonical_request(&req, p, err, sizeof(err));
        char *nl = creq ? strchr(creq, '\n') : NULL;

        snprintf(out, size, "%.*s", nl ? (int)strcspn(nl + 1, "\n") : 0,
                 nl ? nl + 1 : "");
        free(creq);
}

static void test_bedrock_paths(void)
{
        tg_sigv4_params_t p = {
            AKID, SECRET, "us-east-1", "bedrock", "20261127T100000Z", 0, 0};
        char path[1024], cpath[1024];

        CHECK_INT(tg_bedrock_model_path(NOVA, "converse", path, sizeof(path)),
                  strlen(NOVA_W));
        CHECK_STR(path, NOVA_W);
        canonical_path_of(path, &p, cpath, sizeof(cpath));
        CHECK_STR(cpath, "/model/amazon.nova-lite-v1%253A0/converse");

        CHECK(tg_bedrock_model_path(PROFILE, "converse", path, sizeof(path)) >
              0);
        CHECK_STR(path, PROFILE_W);
        canonical_path_of(path, &p, cpath, sizeof(cpath));
        CHECK_STR(cpath, PROFILE_C);

        /* S3 style keeps the wire path as it is. */
        p.s3_path = 1;
        canonical_path_of(NOVA_W, &p, cpath, sizeof(cpath));
        CHECK_STR(cpath, NOVA_W);

        CHECK_INT(tg_bedrock_model_path(NOVA, "converse", path, 20), -1);
        CHECK_INT(tg_bedrock_model_path(NOVA, "Con/verse", path, 1024), -1);
        CHECK_INT(tg_bedrock_model_path("", "converse", path, 1024), -1);
}

static const char *line_of(const struct curl_slist *l, const char *prefix)
{
        for (; l; l = l->next)
                if (!strncmp(l->data, prefix, strlen(prefix)))
                        return l->data + strlen(prefix);
        return NULL;
}

static size_t count_lines(const struct curl_slist *l)
{
        size_t n = 0;

        for (; l; l = l->next)
                n++;
        return n;
}

/* Signatures computed independently with botocore's SigV4Auth for the
 * same request (service "bedrock", 2026-11-27T10:00:00Z). */
static void check_botocore(const char *path, const char *token,
                           const char *want_sig)
{
        tg_creds_snapshot_t cr = {0};
        tg_bedrock_auth_req_t rq = {"us-east-1", HOST,         "POST", path,
                                    BODY,        strlen(BODY), T_2026};
        char err[256] = "";
        struct curl_slist *l;
        const char *authz;

        strcpy(cr.access_key_id, AKID);
        strcpy(cr.secret_access_key, SECRET);
        strcpy(cr.session_token, token ? token : "");
        l = tg_bedrock_auth_headers(&cr, &rq, err, sizeof(err));
        CHECK(l != NULL);
        CHECK_STR(line_of(l, "Content-Type: "), "application/json");
        CHECK_STR(line_of(l, "X-Amz-Date: "), "20261127T100000Z");
        if (token)
                CHECK_STR(line_of(l, "X-Amz-Security-Token: "), token);
        else
                CHECK(line_of(l, "X-Amz-Security-Token: ") == NULL);
        CHECK_INT(count_lines(l), token ? 4 : 3);
        authz = line_of(l, "Authorization: ");
        CHECK(authz && strstr(authz, want_sig));
        CHECK(authz &&
              strstr(authz, "Credential=" AKID "/20261127/us-east-1/bedrock/"
                            "aws4_request, SignedHeaders="
                            "content-type;host;x-amz-date"));
        tg_bedrock_auth_free(l);
}

static void test_bedrock_auth(void)
{
        tg_creds_snapshot_t cr = {0};
        tg_bedrock_auth_req_t rq = {"us-east-1", HOST, "POST", NOVA_W,
                                    BODY,        4,    T_2026};
        char err[256] = "";
        struct curl_slist *l;

        check_botocore(NOVA_W, NULL,
                       "Signature=d6f164b22564460799e8d6a6a027b"
                       "b734ee33469f35878cacf4b876a2bee5853");
        check_botocore(PROFILE_W, NULL,
                       "Signature=fe8835b04e79d03f258c158a91"
                       "3849f853367f21be0863bec24e75ae6e7c5"
                       "f91");
        check_botocore(NOVA_W, TOKEN,
                       "Signature=9d68bebbb3fc02a1ed39eff53862"
                       "23774382ac7ccdf89f76bf554cf4fa9ac294");
        check_botocore(PROFILE_W, TOKEN,
                       "Signature=c569c9c6fd2690bd548b02619"
                       "eb6fb1afacf2eac76f88f82af0d0a356f9"
                       "b9fd4");

        /* A bearer token wins and needs no signing. */
        strcpy(cr.bearer_token, "ABSKexample");
        strcpy(cr.access_key_id, AKID);
        l = tg_bedrock_auth_headers(&cr, &rq, err, sizeof(err));
        CHECK_INT(count_lines(l), 2);
        CHECK_STR(line_of(l, "Authorization: "), "Bearer ABSKexample");
        CHECK_STR(line_of(l, "Content-Type: "), "application/json");
        tg_bedrock_auth_free(l);

        strcpy(cr.bearer_token, "ABSK\r\nX-Injected: 1");
        CHECK(tg_bedrock_auth_headers(&cr, &rq, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "control characters") && !strstr(err, "ABSK"));

        memset(&cr, 0, sizeof(cr));
        CHECK(tg_bedrock_auth_headers(&cr, &rq, err, sizeof(err)) == NULL);
        CHECK_STR(err, "bedrock auth: no credentials");
}

static void test_auth_host(void)
{
        char h[TG_BEDROCK_HOST_MAX];

        CHECK_INT(tg_bedrock_auth_host("https://" HOST, h, sizeof(h)), 0);
        CHECK_STR(h, HOST);
        CHECK_INT(tg_bedrock_auth_host("https://" HOST ":443/x", h, sizeof(h)),
                  0);
        CHECK_STR(h, HOST);
        CHECK_INT(
            tg_bedrock_auth_host("http://127.0.0.1:8080/model", h, sizeof(h)),
            0);
        CHECK_STR(h, "127.0.0.1:8080");
        CHECK_INT(tg_bedrock_auth_host("http://[::1]:9000", h, sizeof(h)), 0);
        CHECK_STR(h, "[::1]:9000");
        CHECK_INT(tg_bedrock_auth_host("http://127.0.0.1:8080", h, 5), -1);
        CHECK_INT(tg_bedrock_auth_host("not a url", h, sizeof(h)), -1);
}

static void test_uri_encode(void)
{
        char out[64];

        CHECK_INT(tg_sigv4_uri_encode("a b/c:~", 7, 1, out, sizeof(out)), 11);
        CHECK_STR(out, "a%20b/c%3A~");
        CHECK_INT(tg_sigv4_uri_encode("a/b", 3, 0, out, sizeof(out)), 5);
        CHECK_STR(out, "a%2Fb");
        CHECK_INT(tg_sigv4_uri_encode("\xe1\x88\xb4", 3, 0, out, sizeof(out)),
                  9);
        CHECK_STR(out, "%E1%88%B4");
        CHECK_INT(tg_sigv4_uri_encode(":", 1, 0, out, 3), -1);
        CHECK_INT(tg_sigv4_uri_encode(":", 1, 0, out, 4), 3);
        CHECK_INT(tg_sigv4_uri_encode("", 0, 0, out, 0), -1);
}

/* Canonical request pieces that the suite does not pin down. */
static char *creq_of(const char *path, const char *query,
                     const tg_sigv4_header_t *h, size_t n, char *err,
                     size_t err_size)
{
        tg_sigv4_request_t req = {"GET", path, query, h, n, NULL, 0, NULL};
        tg_sigv4_params_t p = {
            AKID, SECRET, "us-east-1", "service", "20150830T123600Z", 0, 0};

        return tg_sigv4_canonical_request(&req, &p, err, err_size);
}

static void check_creq(const char *path, const char *query,
                       const char *want_prefix)
{
        tg_sigv4_header_t h[] = {{"Host", "h"}};
        char err[256] = "";
        char *c = creq_of(path, query, h, 1, err, sizeof(err));

        CHECK(c && !strncmp(c, want_prefix, strlen(want_prefix)));
        if (c && strncmp(c, want_prefix, strlen(want_prefix)))
                fprintf(stderr, "got:\n%s\nwant prefix:\n%s\n", c, want_prefix);
        free(c);
}

static void test_canonical_rules(void)
{
        check_creq("/a/b/../c/./d//", NULL, "GET\n/a/c/d/\n\n");
        check_creq("/a/..", NULL, "GET\n/\n\n");
        check_creq("/../..", NULL, "GET\n/\n\n");
        check_creq("", NULL, "GET\n/\n\n");
        check_creq("/", "b=2&a=1&a=0", "GET\n/\na=0&a=1&b=2\n");
        check_creq("/", "x=%2f&k&&y=a+b", "GET\n/\nk=&x=%2F&y=a%2Bb\n");
        check_creq("/", "e=%zz", "GET\n/\ne=%25zz\n");
        check_creq("/", "", "GET\n/\n\n");
}

static void test_header_rules(void)
{
        tg_sigv4_header_t h[] = {{"Host", "h"},
                                 {"X-B", "  two   words \t "},
                                 {"x-a", "1"},
                                 {"X-A", "2"},
                                 {"x-empty", "   "}};
        char err[256] = "";
        char *c = creq_of("/", NULL, h, 5, err, sizeof(err));

        CHECK(c && strstr(c, "\nhost:h\nx-a:1,2\nx-b:two words\nx-empty:\n\n"
                             "host;x-a;x-b;x-empty\n"));
        free(c);
}

/* Bad input is refused, and the error never quotes a secret. */
static void test_errors(void)
{
        tg_sigv4_header_t bad_val[] = {{"Host", "h"}, {"X-T", "sec\r\nret"}};
        tg_sigv4_header_t bad_name[] = {{"Ho st", "h"}};
        tg_sigv4_header_t many[TG_SIGV4_MAX_HEADERS + 1];
        tg_sigv4_request_t req = {"GET", "/", NULL, bad_name, 1, NULL, 0, NULL};
        tg_sigv4_params_t p = {AKID,      "top secret",       "us-east-1",
                               "service", "20150830T123600Z", 0,
                               0};
        tg_sigv4_result_t res;
        char err[256] = "", *longpath;
        size_t i;

        CHECK(creq_of("/", NULL, bad_val, 2, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "control character") && !strstr(err, "sec"));
        CHECK(creq_of("/", NULL, bad_name, 1, err, sizeof(err)) == NULL);
        for (i = 0; i < TG_SIGV4_MAX_HEADERS + 1; i++)
                many[i] = bad_val[0];
        CHECK(creq_of("/", NULL, many, TG_SIGV4_MAX_HEADERS + 1, err,
                      sizeof(err)) == NULL);
        CHECK(creq_of("relative", NULL, bad_val, 1, err, sizeof(err)) == NULL);
        longpath = malloc(TG_SIGV4_MAX_PATH + 2);
        memset(longpath, 'a', TG_SIGV4_MAX_PATH + 1);
        longpath[0] = '/';
        longpath[TG_SIGV4_MAX_PATH + 1] = '\0';
        CHECK(creq_of(longpath, NULL, bad_val, 1, err, sizeof(err)) == NULL);
        free(longpath);

        req.headers = bad_val;
        CHECK_INT(tg_sigv4_sign(&req, &p, &res, err, sizeof(err)), -1);
        CHECK_STR(err, "sigv4: bad secret access key");
        p.secret_access_key = SECRET;
        p.amz_date = "2015-08-30";
        CHECK_INT(tg_sigv4_sign(&req, &p, &res, err, sizeof(err)), -1);
        CHECK(strstr(err, "amz_date") != NULL);
}

/* The signature of req under p derived from scratch with OpenSSL's
 * one-shot HMAC, sharing nothing with the signer's per-thread key cache. */
static void fresh_signature(const tg_sigv4_request_t *req,
                            const tg_sigv4_params_t *p, char out[65])
{
        unsigned char k[4 + TG_SIGV4_MAX_KEY], a[32], b[32];
        size_t n = strlen(p->secret_access_key), i;
        unsigned int len = 32;
        char err[256];
        char *creq = tg_sigv4_canonical_request(req, p, err, sizeof(err));
        char *sts = creq ? tg_sigv4_string_to_sign(creq, p) : NULL;

        out[0] = '\0';
        if (!sts) {
                free(creq);
                return;
        }
        memcpy(k, "AWS4", 4);
        memcpy(k + 4, p->secret_access_key, n);
        HMAC(EVP_sha256(), k, (int)(4 + n), (const unsigned char *)p->amz_date,
             8, a, &len);
        HMAC(EVP_sha256(), a, 32, (const unsigned char *)p->region,
             strlen(p->region), b, &len);
        HMAC(EVP_sha256(), b, 32, (const unsigned char *)p->service,
             strlen(p->service), a, &len);
        HMAC(EVP_sha256(), a, 32, (const unsigned char *)"aws4_request", 12, b,
             &len);
        HMAC(EVP_sha256(), b, 32, (const unsigned char *)sts, strlen(sts), a,
             &len);
        for (i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", a[i]);
        free(creq);
        free(sts);
}

/* Signs with p and checks the result against a fresh derivation. */
static void check_fresh(const tg_sigv4_params_t *p, char sig[65])
{
        tg_sigv4_header_t h[] = {{"Host", HOST}, {"X-Amz-Date", p->amz_date}};
        tg_sigv4_request_t req = {"POST", NOVA_W, NULL,         h,
                                  2,      BODY,   strlen(BODY), NULL};
        tg_sigv4_result_t res;
        char err[256] = "", want[65];

        fresh_signature(&req, p, want);
        CHECK_INT(strlen(want), 64);
        CHECK_INT(tg_sigv4_sign(&req, p, &res, err, sizeof(err)), 0);
        CHECK_STR(res.signature, want);
        if (sig)
                memcpy(sig, res.signature, 65);
}

typedef struct sign_arg {
        const tg_sigv4_params_t *p;
        char sig[65];
} sign_arg_t;

static void *sign_thread(void *arg)
{
        sign_arg_t *a = arg;

        check_fresh(a->p, a->sig);
        return NULL;
}

/* The signer keeps the last derived key per thread: a change of one
 * input of the key (date, secret even by one character or as a prefix,
 * region, service) right after the base key was cached must never sign
 * with the stale key. */
static void test_key_cache(void)
{
        static const tg_sigv4_params_t base = {
            AKID, SECRET, "us-east-1", "bedrock", "20261127T100000Z", 0, 0};
        tg_sigv4_params_t v[6];
        char first[65], again[65], other[65];
        sign_arg_t arg = {&base, ""};
        pthread_t th;
        size_t i;

        for (i = 0; i < 6; i++)
                v[i] = base;
        v[0].amz_date = "20261128T000000Z"; /* midnight: a new day's key */
        v[1].secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ";
        v[2].secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKE";
        v[3].region = "eu-west-3";
        v[4].region = "us-east-2"; /* same length */
        v[5].service = "bedrocl";

        check_fresh(&base, first);
        check_fresh(&base, again); /* from the cache */
        CHECK_STR(again, first);
        for (i = 0; i < 6; i++) {
                check_fresh(&base, again);
                CHECK_STR(again, first);
                check_fresh(&v[i], other);
                CHECK(strcmp(other, first) != 0);
        }
        /* Another time of the same day keeps the key, signs otherwise. */
        v[0].amz_date = "20261127T235959Z";
        check_fresh(&v[0], other);
        CHECK(strcmp(other, first) != 0);

        /* Another thread starts with no cache and signs alike. */
        CHECK_INT(pthread_create(&th, NULL, sign_thread, &arg), 0);
        pthread_join(th, NULL);
        CHECK_STR(arg.sig, first);
}

static void test_amz_date(void)
{
        char d[17];

        tg_sigv4_amz_date(T_2026, d);
        CHECK_STR(d, "20261127T100000Z");
        tg_sigv4_amz_date(0, d);
        CHECK_STR(d, "19700101T000000Z");
}

int main(void)
{
        test_suite();
        test_bedrock_paths();
        test_bedrock_auth();
        test_auth_host();
        test_uri_encode();
        test_canonical_rules();
        test_header_rules();
        test_errors();
        test_amz_date();
        test_key_cache();
        return tg_test_done("test_sigv4");
}
