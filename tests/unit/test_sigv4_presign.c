/*
 * SigV4 query presigning: every presigned-URL case of AWS's public test
 * suite ($TG_SHARED_DIR/sigv4-testsuite, query-*.txt: canonical request,
 * string to sign, signature), and the MSK IAM token against the bytes
 * aws-msk-iam-sasl-signer-python 1.0.2 printed for fixed inputs (the
 * pytest tests/integration/test_msk_iam.py compares with the live signer).
 */
#include "aws/msk_token.h"
#include "aws/sigv4.h"
#include "tg_test.h"

#include <dirent.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define CAP 65536

/* The file without its trailing line ends. */
static char *slurp(const char *dir, const char *name)
{
        size_t n;
        char *buf = tg_test_slurp(dir, name, CAP, &n);

        while (buf && n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = '\0';
        return buf;
}

typedef struct qcase {
        char method[16], path[2048], query[4096];
        char names[16][128], values[16][1024];
        tg_sigv4_header_t h[16];
        size_t n;
        const char *body;
} qcase_t;

/* request.txt: request line, headers (folded lines join), body. */
static int parse(qcase_t *q, char *text)
{
        char *line = text, *nl, *sp1, *sp2, *qm, *colon;

        nl = strchr(line, '\n');
        if (!nl)
                return -1;
        *nl = '\0';
        sp1 = strchr(line, ' ');
        sp2 = strrchr(line, ' ');
        if (!sp1 || sp1 == sp2)
                return -1;
        *sp1 = *sp2 = '\0';
        snprintf(q->method, sizeof(q->method), "%s", line);
        if ((qm = strchr(sp1 + 1, '?')))
                *qm = '\0';
        snprintf(q->path, sizeof(q->path), "%s", sp1 + 1);
        snprintf(q->query, sizeof(q->query), "%s", qm ? qm + 1 : "");
        for (line = nl + 1; *line && *line != '\n'; line = nl + 1) {
                if (!(nl = strchr(line, '\n')))
                        nl = line + strlen(line) - 1;
                else
                        *nl = '\0';
                if ((line[0] == ' ' || line[0] == '\t') && q->n) {
                        size_t l = strlen(q->values[q->n - 1]);
                        snprintf(q->values[q->n - 1] + l, 1024 - l, " %s",
                                 line);
                        continue;
                }
                if (!(colon = strchr(line, ':')) || q->n == 16)
                        return -1;
                snprintf(q->names[q->n], 128, "%.*s", (int)(colon - line),
                         line);
                snprintf(q->values[q->n], 1024, "%s", colon + 1);
                q->n++;
                if (!nl[1])
                        break;
        }
        q->body = *line == '\n' ? line + 1 : "";
        for (size_t i = 0; i < q->n; i++) {
                q->h[i].name = q->names[i];
                q->h[i].value = q->values[i];
        }
        return 0;
}

/* 1 passed, 0 failed, -1 not a presigning case. */
static int run_case(const char *suite, const char *name)
{
        char dir[1024], date[17], err[256] = "", *text, *creq, *sts, *sig;
        char query[CAP], *got_creq = NULL, *got_sts = NULL;
        qcase_t *q = calloc(1, sizeof(*q));
        json_t *ctx;
        int ok = 0;

        snprintf(dir, sizeof(dir), "%s/%s", suite, name);
        text = slurp(dir, "request.txt");
        creq = slurp(dir, "query-canonical-request.txt");
        sts = slurp(dir, "query-string-to-sign.txt");
        sig = slurp(dir, "query-signature.txt");
        snprintf(query, sizeof(query), "%s/context.json", dir);
        ctx = json_load_file(query, 0, NULL);
        if (!text || !creq || !sts || !sig || !ctx) {
                ok = -1;
                goto out;
        }
        {
                const char *ts =
                    json_string_value(json_object_get(ctx, "timestamp"));
                json_t *cr = json_object_get(ctx, "credentials");
                const char *tok =
                    json_string_value(json_object_get(cr, "token"));
                size_t o = 0;
                for (size_t i = 0; ts && ts[i] && o < 16; i++)
                        if (ts[i] != '-' && ts[i] != ':')
                                date[o++] = ts[i];
                date[o] = '\0';
                tg_sigv4_params_t p = {
                    json_string_value(json_object_get(cr, "access_key_id")),
                    json_string_value(json_object_get(cr, "secret_access_key")),
                    json_string_value(json_object_get(ctx, "region")),
                    json_string_value(json_object_get(ctx, "service")),
                    date,
                    0,
                    !json_is_true(json_object_get(ctx, "normalize"))};
                if (parse(q, text) < 0)
                        goto out;
                tg_sigv4_request_t req = {
                    q->method, q->path, q->query,        q->h,
                    q->n,      q->body, strlen(q->body), NULL};
                tg_sigv4_presign_t ps = {
                    &req, tok,
                    json_is_true(json_object_get(ctx, "omit_session_token")),
                    (long)json_integer_value(
                        json_object_get(ctx, "expiration_in_seconds"))};
                tg_sigv4_request_t signed_req = req;
                char want_sig[100];

                if (tg_sigv4_presign_query(&ps, &p, query, sizeof(query), err,
                                           sizeof(err)) < 0)
                        goto out;
                signed_req.query = query;
                got_creq = tg_sigv4_canonical_request(&signed_req, &p, err,
                                                      sizeof(err));
                got_sts =
                    got_creq ? tg_sigv4_string_to_sign(got_creq, &p) : NULL;
                ok = got_creq && !strcmp(got_creq, creq) && got_sts &&
                     !strcmp(got_sts, sts);
                if (tg_sigv4_presign(&ps, &p, query, sizeof(query), err,
                                     sizeof(err)) < 0)
                        ok = 0;
                snprintf(want_sig, sizeof(want_sig), "&X-Amz-Signature=%s",
                         sig);
                {
                        size_t ql = strlen(query), wl = strlen(want_sig);
                        ok &= ql > wl && !strcmp(query + ql - wl, want_sig);
                }
        }
out:
        if (ok == 0)
                fprintf(stderr, "presign suite %s failed (%s)\n--- got\n%s\n",
                        name, err, got_creq ? got_creq : "(null)");
        free(got_creq);
        free(got_sts);
        free(text);
        free(creq);
        free(sts);
        free(sig);
        free(q);
        json_decref(ctx);
        return ok;
}

static void test_suite(void)
{
        const char *shared = getenv("TG_SHARED_DIR");
        char suite[512];
        struct dirent *de;
        DIR *d;
        int passed = 0, applicable = 0, r;

        snprintf(suite, sizeof(suite), "%s/sigv4-testsuite",
                 shared ? shared : "../shared");
        if (!(d = opendir(suite))) {
                printf("presign suite: skipped, %s is absent\n", suite);
                return;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                r = run_case(suite, de->d_name);
                applicable += r >= 0;
                passed += r == 1;
        }
        closedir(d);
        printf("presign suite: %d of %d presigning cases passed\n", passed,
               applicable);
        CHECK_INT(passed, applicable);
        CHECK(applicable >= 30);
}

/* Printed by aws-msk-iam-sasl-signer-python 1.0.2 with botocore's clock
 * pinned to 2026-12-02T11:00:00Z, base64url-decoded here. */
#define PY_URL_TOKEN                                                           \
        "https://kafka.us-east-1.amazonaws.com/"                               \
        "?Action=kafka-cluster%3AConnect"                                      \
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"    \
        "20261202%2Fus-east-1%2Fkafka-cluster%2Faws4_request&X-Amz-Date="      \
        "20261202T110000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-"   \
        "Security-Token=SESSIONTOKEN%2F%2B%3D&X-Amz-Signature="                \
        "dbd8337b1a4d6937349da0a64e7d0674b1edd6496b07e8d0098d31f901372986"     \
        "&User-Agent=aws-msk-iam-sasl-signer-python%2F1.0.2"

static void test_msk_token(void)
{
        tg_creds_snapshot_t c;
        tg_msk_token_t *t = malloc(sizeof(*t));
        unsigned char url[4096];
        char b64[TG_MSK_TOKEN_MAX + 4], err[256];
        size_t n;
        int len;

        memset(&c, 0, sizeof(c));
        strcpy(c.access_key_id, "AKIDEXAMPLE");
        strcpy(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        strcpy(c.session_token, "SESSIONTOKEN/+=");
        CHECK(tg_msk_token_make("us-east-1", &c, 1796209200, 900, t, err,
                                sizeof(err)) == 0);
        CHECK_INT(t->expires_ms, 1796210100000LL);
        /* back to standard base64 with padding, then decode */
        n = strlen(t->value);
        CHECK(strchr(t->value, '=') == NULL && strchr(t->value, '+') == NULL &&
              strchr(t->value, '/') == NULL);
        CHECK(n + 4 <= sizeof(b64) && 3 * (n + 3) / 4 < sizeof(url));
        memcpy(b64, t->value, n + 1);
        for (size_t i = 0; i < n; i++)
                b64[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
        while (n % 4)
                b64[n++] = '=';
        b64[n] = '\0';
        len = EVP_DecodeBlock(url, (const unsigned char *)b64, (int)n);
        CHECK(len > 0);
        while (len > 0 && url[len - 1] == '\0')
                len--;
        url[len > 0 ? len : 0] = '\0';
        CHECK_STR((char *)url, PY_URL_TOKEN);
        /* refusals: bearer-only credentials, bad region, bad lifetime */
        c.access_key_id[0] = '\0';
        CHECK(tg_msk_token_make("us-east-1", &c, 1796209200, 900, t, err,
                                sizeof(err)) < 0);
        CHECK(strstr(err, "SigV4") != NULL);
        strcpy(c.access_key_id, "AKIDEXAMPLE");
        CHECK(tg_msk_token_make("US EAST", &c, 1796209200, 900, t, err,
                                sizeof(err)) < 0);
        CHECK(tg_msk_token_make("us-east-1", &c, 1796209200, 0, t, err,
                                sizeof(err)) < 0);
        CHECK(strstr(err, "wJalr") == NULL && strstr(err, "SESSION") == NULL);
        free(t);
}

int main(void)
{
        test_suite();
        test_msk_token();
        return tg_test_done("test_sigv4_presign");
}
