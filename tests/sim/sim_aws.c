/*
 * STS and IMDSv2 beside Bedrock, on the same port, so that tollgate's
 * credential chain and botocore's can be pointed at one simulator
 * (AWS_ENDPOINT_URL_STS, AWS_EC2_METADATA_SERVICE_ENDPOINT). Added here
 * rather than as a separate binary because the simulator already has the
 * HTTP server and the SigV4 verifier (sim_auth*.c) that boto3 is proven
 * against (test_boto3.py); AssumeRole's signature is checked by it, with
 * service "sts".
 *
 * STS: the Query API as AWS serves it: form POST, Action and
 * Version=2011-06-15, XML replies, XML <ErrorResponse>s with AWS's codes.
 * AssumeRole is accepted when signed with --sts-access-key-id or with any
 * key this simulator issued (secret and token are derived from the key id
 * with an HMAC, so chains of roles verify). AssumeRoleWithWebIdentity
 * needs --web-identity-token. IMDSv2: PUT /latest/api/token with the TTL
 * header, then the token on every GET; no token, 401, as EC2 with
 * HttpTokens=required.
 *
 * Issued credentials are a function of (action, role, generation), the
 * generation advancing every half --creds-lifetime since start: two
 * clients asking at once get the same keys (the test compares tollgate's
 * with botocore's), and a refresh at half-life gets new ones.
 */
#include <jansson.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim.h"

#define STS_NS            "https://sts.amazonaws.com/doc/2011-06-15/"
#define IMDS_TOKEN_PREFIX "AQAEAsim-imds-token-"
#define CREDS_PATH        "/latest/meta-data/iam/security-credentials/"

static uint64_t lifetime(const sim_ctx_t *ctx)
{
        return ctx->opts.creds_lifetime_s ? ctx->opts.creds_lifetime_s : 3600;
}

static void hmac_hex(const char *key, const char *msg, char out[65])
{
        unsigned char md[32];
        unsigned int n = 32;

        HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg,
             strlen(msg), md, &n);
        for (int i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02X", md[i]);
}

typedef struct issued {
        char akid[32], secret[48], token[200], exp[32];
} issued_t;

static void derive_secret(const char *akid, issued_t *c)
{
        char h[65], h2[65];

        hmac_hex("tollgate-sim-secret", akid, h);
        snprintf(c->secret, sizeof(c->secret), "%.40s", h);
        hmac_hex("tollgate-sim-token", akid, h2);
        snprintf(c->token, sizeof(c->token), "IQoJsimtoken%s%s", h2, h);
}

static void issue(const sim_ctx_t *ctx, const char *what, issued_t *c)
{
        uint64_t half = lifetime(ctx) / 2 ? lifetime(ctx) / 2 : 1;
        time_t now = time(NULL), exp = now + (time_t)lifetime(ctx);
        char msg[2300], h[65];
        struct tm tm;

        snprintf(msg, sizeof(msg), "%s|%llu", what,
                 (unsigned long long)((uint64_t)(now - ctx->started) / half));
        hmac_hex("tollgate-sim-akid", msg, h);
        snprintf(c->akid, sizeof(c->akid), "ASIA%.16s", h);
        derive_secret(c->akid, c);
        gmtime_r(&exp, &tm);
        strftime(c->exp, sizeof(c->exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- STS --------------------------------------------------------------- */

static void xml_reply(sim_req_t *req, int status, char *body)
{
        sim_reply_clear(&req->reply);
        req->reply.status = status;
        req->reply.body = body;
        req->reply.body_len = body ? strlen(body) : 0;
        req->reply.content_type = "text/xml";
}

static void sts_error(sim_req_t *req, int status, const char *code,
                      const char *msg)
{
        char *b = NULL;

        if (asprintf(&b,
                     "<ErrorResponse xmlns=\"" STS_NS "\">\n  <Error>\n"
                     "    <Type>Sender</Type>\n    <Code>%s</Code>\n"
                     "    <Message>%s</Message>\n  </Error>\n"
                     "  <RequestId>%s</RequestId>\n</ErrorResponse>\n",
                     code, msg, req->request_id) < 0)
                b = NULL;
        xml_reply(req, status, b);
}

/* The value of key in the form body, decoded, into out; NULL when absent. */
static const char *form_get(const sim_req_t *req, const char *key, char *out,
                            size_t size)
{
        const char *p = tg_dynbuf_ptr(&req->body),
                   *end = p + tg_dynbuf_len(&req->body);
        size_t kl = strlen(key);

        while (p && p < end) {
                const char *amp = memchr(p, '&', (size_t)(end - p));
                const char *e = amp ? amp : end;

                if ((size_t)(e - p) > kl && !memcmp(p, key, kl) &&
                    p[kl] == '=') {
                        char tmp[SIM_SECRET_MAX * 3];
                        size_t n = (size_t)(e - p - (long)kl - 1);

                        if (n >= sizeof(tmp))
                                return NULL;
                        memcpy(tmp, p + kl + 1, n);
                        for (size_t i = 0; i < n; i++)
                                if (tmp[i] == '+')
                                        tmp[i] = ' ';
                        return sim_percent_decode(tmp, n, out, size) >= 0
                                   ? out
                                   : NULL;
                }
                p = amp ? amp + 1 : NULL;
        }
        return NULL;
}

static int valid_arn(const char *a)
{
        size_t i;

        if (strncmp(a, "arn:aws:iam::", 13))
                return 0;
        for (i = 13; i < 25; i++)
                if (a[i] < '0' || a[i] > '9')
                        return 0;
        return !strncmp(a + 25, ":role/", 6) && a[31];
}

static int valid_session(const char *s)
{
        size_t n = strlen(s);

        if (n < 2 || n > 64)
                return 0;
        for (; *s; s++)
                if (!strchr(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_+=,.@-",
                        *s))
                        return 0;
        return 1;
}

static const char *err_code(sim_err_t e, int *status)
{
        *status = 403;
        switch (e) {
        case SIM_ERR_UNRECOGNIZED_CLIENT:
                return "InvalidClientTokenId";
        case SIM_ERR_INVALID_SIGNATURE:
                return "SignatureDoesNotMatch";
        case SIM_ERR_MISSING_AUTH:
                return "MissingAuthenticationToken";
        default:
                *status = 400;
                return "IncompleteSignature";
        }
}

/* Verifies AssumeRole's SigV4 with the key it names; 0 or -1 (replied). */
static int sts_auth(sim_ctx_t *ctx, sim_req_t *req)
{
        const char *authz = sim_req_header(req, "authorization");
        const char *cred = authz ? strstr(authz, "Credential=") : NULL;
        sim_auth_cfg_t cfg = {.service = "sts"};
        char akid[64] = "";
        issued_t c;
        json_t *body;
        int status;

        if (cred)
                snprintf(akid, sizeof(akid), "%.*s",
                         (int)strcspn(cred + 11, "/"), cred + 11);
        if (*akid && !strcmp(akid, ctx->opts.sts_access_key_id)) {
                cfg.access_key_id = akid;
                cfg.secret_access_key = ctx->opts.sts_secret_access_key;
        } else if (!strncmp(akid, "ASIA", 4)) {
                derive_secret(akid, &c);
                cfg.access_key_id = akid;
                cfg.secret_access_key = c.secret;
                cfg.session_token = c.token;
        } else {
                cfg.access_key_id = "(none)";
                cfg.secret_access_key = "(none)";
        }
        if (!sim_auth_check(&cfg, req, time(NULL), &req->reply))
                return 0;
        body = json_loadb(req->reply.body, req->reply.body_len, 0, NULL);
        {
                const char *code = err_code(req->reply.error, &status);
                const char *m =
                    json_string_value(json_object_get(body, "message"));
                char msg[2048];

                snprintf(msg, sizeof(msg), "%s",
                         m ? m
                           : "The security token included in the request "
                             "is invalid.");
                msg[strcspn(msg, "<&")] = '\0';
                sts_error(req, status, code, msg);
        }
        json_decref(body);
        return -1;
}

static void sts_ok(sim_req_t *req, const char *action, const char *arn,
                   const char *session, const issued_t *c)
{
        const char *role = strrchr(arn, '/') + 1;
        char *b = NULL;

        if (asprintf(&b,
                     "<%sResponse xmlns=\"" STS_NS "\">\n  <%sResult>\n"
                     "%s"
                     "    <AssumedRoleUser>\n"
                     "      <AssumedRoleId>AROASIMULATOR:%s</AssumedRoleId>\n"
                     "      <Arn>arn:aws:sts::%.12s:assumed-role/%s/%s</Arn>\n"
                     "    </AssumedRoleUser>\n"
                     "    <Credentials>\n"
                     "      <AccessKeyId>%s</AccessKeyId>\n"
                     "      <SecretAccessKey>%s</SecretAccessKey>\n"
                     "      <SessionToken>%s</SessionToken>\n"
                     "      <Expiration>%s</Expiration>\n"
                     "    </Credentials>\n"
                     "  </%sResult>\n  <ResponseMetadata>\n"
                     "    <RequestId>%s</RequestId>\n"
                     "  </ResponseMetadata>\n</%sResponse>\n",
                     action, action,
                     strcmp(action, "AssumeRole")
                         ? "    <SubjectFromWebIdentityToken>system:"
                           "serviceaccount:tollgate:worker"
                           "</SubjectFromWebIdentityToken>\n"
                           "    <Audience>sts.amazonaws.com</Audience>\n"
                           "    <Provider>oidc.sim</Provider>\n"
                         : "",
                     session, arn + 13, role, session, c->akid, c->secret,
                     c->token, c->exp, action, req->request_id, action) < 0)
                b = NULL;
        xml_reply(req, 200, b);
}

static void sts(sim_ctx_t *ctx, sim_req_t *req)
{
        char action[64], ver[32], arn[2100], session[128], tok[SIM_SECRET_MAX];
        char what[2400];
        int web;
        issued_t c;

        if (!form_get(req, "Action", action, sizeof(action)) ||
            (strcmp(action, "AssumeRole") &&
             strcmp(action, "AssumeRoleWithWebIdentity"))) {
                sts_error(req, 400, "InvalidAction",
                          "Could not find operation for this request");
                return;
        }
        web = !strcmp(action, "AssumeRoleWithWebIdentity");
        if (!web && sts_auth(ctx, req))
                return;
        if (!form_get(req, "Version", ver, sizeof(ver)) ||
            strcmp(ver, "2011-06-15")) {
                sts_error(req, 400, "InvalidParameterValue",
                          "Version must be 2011-06-15");
                return;
        }
        if (!form_get(req, "RoleArn", arn, sizeof(arn)) || !valid_arn(arn) ||
            !form_get(req, "RoleSessionName", session, sizeof(session)) ||
            !valid_session(session)) {
                sts_error(req, 400, "ValidationError",
                          "1 validation error detected: Value at 'roleArn' or "
                          "'roleSessionName' failed to satisfy constraint");
                return;
        }
        if (web && (!form_get(req, "WebIdentityToken", tok, sizeof(tok)) ||
                    !*ctx->opts.web_identity_token ||
                    strcmp(tok, ctx->opts.web_identity_token))) {
                sts_error(req, 400, "InvalidIdentityToken",
                          "The web identity token that was passed could not "
                          "be validated by AWS. Get a new identity token from "
                          "the identity provider and then retry the request.");
                return;
        }
        snprintf(what, sizeof(what), "%s|%s", action, arn);
        issue(ctx, what, &c);
        sts_ok(req, action, arn, session, &c);
}

/* ---- IMDSv2 ------------------------------------------------------------ */

static const char *role_name(const sim_ctx_t *ctx)
{
        return *ctx->opts.imds_role ? ctx->opts.imds_role : "tollgate-node";
}

static void imds(sim_ctx_t *ctx, sim_req_t *req)
{
        const char *ttl =
            sim_req_header(req, "x-aws-ec2-metadata-token-ttl-seconds");
        const char *tok = sim_req_header(req, "x-aws-ec2-metadata-token");
        const char *path = req->raw_path;
        issued_t c;
        char *b = NULL, what[200];

        if (!strcmp(path, "/latest/api/token") && !strcmp(req->method, "PUT")) {
                if (!ttl || atoi(ttl) < 1 || atoi(ttl) > 21600) {
                        sim_reply_text(&req->reply, 400, "");
                        return;
                }
                sim_reply_text(&req->reply, 200, IMDS_TOKEN_PREFIX "0001");
                return;
        }
        if (strcmp(req->method, "GET") ||
            strncmp(path, CREDS_PATH, strlen(CREDS_PATH))) {
                sim_reply_text(&req->reply, 404, "");
                return;
        }
        if (!tok || strcmp(tok, IMDS_TOKEN_PREFIX "0001")) {
                sim_reply_text(&req->reply, 401, "");
                return;
        }
        path += strlen(CREDS_PATH);
        if (!*path) {
                sim_reply_text(&req->reply, 200, role_name(ctx));
                return;
        }
        if (strcmp(path, role_name(ctx))) {
                sim_reply_text(&req->reply, 404, "");
                return;
        }
        snprintf(what, sizeof(what), "imds|%s", role_name(ctx));
        issue(ctx, what, &c);
        if (asprintf(&b,
                     "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : "
                     "\"%s\",\n  \"Type\" : \"AWS-HMAC\",\n"
                     "  \"AccessKeyId\" : \"%s\",\n"
                     "  \"SecretAccessKey\" : \"%s\",\n"
                     "  \"Token\" : \"%s\",\n  \"Expiration\" : \"%s\"\n}",
                     c.exp, c.akid, c.secret, c.token, c.exp) < 0)
                b = NULL;
        sim_reply_json(&req->reply, 200, b);
        req->reply.content_type = "text/plain";
}

int sim_aws_handle(sim_ctx_t *ctx, sim_req_t *req)
{
        if (!strncmp(req->raw_path, "/latest/", 8)) {
                imds(ctx, req);
                return 1;
        }
        if (!strcmp(req->raw_path, "/") && !strcmp(req->method, "POST")) {
                sts(ctx, req);
                return 1;
        }
        return 0;
}
