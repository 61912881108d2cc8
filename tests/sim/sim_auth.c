#include "sim_auth.h"

#include <openssl/crypto.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/sigv4.h"
#include "sim.h"
#include "sim_auth_int.h"

int sim_auth_enabled(const sim_auth_cfg_t *cfg)
{
        return cfg->access_key_id || cfg->bearer_token;
}

static int secret_eq(const char *a, const char *b)
{
        size_t n = strlen(a);

        return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static int check_bearer(const sim_auth_cfg_t *cfg, const char *token,
                        sim_reply_t *reply)
{
        if (cfg->bearer_token && secret_eq(token, cfg->bearer_token))
                return 0;
        /* Bedrock's API-key front end answers this one with "Message". */
        sim_reply_error_key(reply, SIM_ERR_ACCESS_DENIED, "Message",
                            "Authentication failed: Please make sure your "
                            "API Key is valid.");
        reply->auth_failure = 1;
        return -1;
}

/* Copies the value of "Key=value" components into a. Unknown keys are
 * ignored, as AWS does. */
static void parse_component(sim_sigv4_auth_t *a, const char *s, size_t len)
{
        static const struct {
                const char *key;
                size_t off, size;
        } keys[] = {
            {"Credential=", offsetof(sim_sigv4_auth_t, credential), 512},
            {"SignedHeaders=", offsetof(sim_sigv4_auth_t, signed_headers),
             1024},
            {"Signature=", offsetof(sim_sigv4_auth_t, signature), 128},
        };

        while (len && (*s == ' ' || *s == '\t'))
                s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                len--;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                size_t kl = strlen(keys[i].key);

                if (len < kl || strncmp(s, keys[i].key, kl) ||
                    len - kl >= keys[i].size)
                        continue;
                memcpy((char *)a + keys[i].off, s + kl, len - kl);
                ((char *)a + keys[i].off)[len - kl] = '\0';
        }
}

static void parse_authorization(sim_sigv4_auth_t *a, const char *v)
{
        memset(a, 0, sizeof(*a));
        while (*v) {
                size_t len = strcspn(v, ",");

                parse_component(a, v, len);
                v += len + (v[len] == ',');
        }
}

static int missing_parts(const sim_sigv4_auth_t *a, const char *authz,
                         sim_reply_t *reply)
{
        char msg[1024];
        size_t n = 0;

        if (!*a->credential)
                n += (size_t)snprintf(msg + n, sizeof(msg) - n,
                                      "Authorization header requires "
                                      "'Credential' parameter. ");
        if (!*a->signature && n < sizeof(msg))
                n += (size_t)snprintf(msg + n, sizeof(msg) - n,
                                      "Authorization header requires "
                                      "'Signature' parameter. ");
        if (!*a->signed_headers && n < sizeof(msg))
                n += (size_t)snprintf(msg + n, sizeof(msg) - n,
                                      "Authorization header requires "
                                      "'SignedHeaders' parameter. ");
        if (!n)
                return 0;
        if (n < sizeof(msg))
                snprintf(msg + n, sizeof(msg) - n, "Authorization=%.200s",
                         authz);
        sim_reply_error(reply, SIM_ERR_INCOMPLETE_SIGNATURE, msg);
        return -1;
}

/* Credential = AKID/YYYYMMDD/region/service/aws4_request */
static int split_credential(sim_sigv4_auth_t *a, sim_reply_t *reply)
{
        char *parts[5] = {a->akid, a->date, a->region, a->service, a->term};
        size_t sizes[5] = {sizeof(a->akid), sizeof(a->date), sizeof(a->region),
                           sizeof(a->service), sizeof(a->term)};
        const char *p = a->credential;
        int i = 0;

        for (; i < 5 && *p; i++) {
                size_t len = strcspn(p, "/");

                if (len >= sizes[i])
                        break;
                memcpy(parts[i], p, len);
                parts[i][len] = '\0';
                p += len + (p[len] == '/');
        }
        if (i == 5 && !*p && *a->akid)
                return 0;
        sim_reply_errorf(reply, SIM_ERR_INCOMPLETE_SIGNATURE,
                         "Credential must have exactly 5 slash-delimited "
                         "elements, e.g. keyid/date/region/service/term, got "
                         "'%.300s'",
                         a->credential);
        return -1;
}

static int check_scope(const sim_auth_cfg_t *cfg, const sim_sigv4_auth_t *a,
                       sim_reply_t *reply)
{
        if (strcmp(a->service, cfg->service)) {
                sim_reply_errorf(reply, SIM_ERR_INVALID_SIGNATURE,
                                 "Credential should be scoped to correct "
                                 "service: '%s'. ",
                                 cfg->service);
                return -1;
        }
        if (!*a->region || (cfg->region && strcmp(a->region, cfg->region))) {
                sim_reply_error(reply, SIM_ERR_INVALID_SIGNATURE,
                                "Credential should be scoped to a valid "
                                "region. ");
                return -1;
        }
        if (strcmp(a->term, "aws4_request")) {
                sim_reply_errorf(reply, SIM_ERR_INVALID_SIGNATURE,
                                 "Credential should be scoped with a valid "
                                 "terminator: 'aws4_request', not '%.32s'. ",
                                 a->term);
                return -1;
        }
        return 0;
}

static int check_key(const sim_auth_cfg_t *cfg, const sim_sigv4_auth_t *a,
                     const sim_req_t *req, sim_reply_t *reply)
{
        const char *tok = sim_req_header(req, "x-amz-security-token");
        int ok = cfg->access_key_id && secret_eq(a->akid, cfg->access_key_id);

        /* A session token belongs to its key: missing, unexpected or
         * different, AWS rejects the key pair as a whole. */
        if (ok && cfg->session_token)
                ok = tok && secret_eq(tok, cfg->session_token);
        else if (ok && tok)
                ok = 0;
        if (ok)
                return 0;
        sim_reply_error(reply, SIM_ERR_UNRECOGNIZED_CLIENT, NULL);
        return -1;
}

static int check_sigv4(const sim_auth_cfg_t *cfg, const char *authz,
                       const sim_req_t *req, time_t now, sim_reply_t *reply)
{
        sim_sigv4_auth_t a;

        parse_authorization(&a, authz + strlen("AWS4-HMAC-SHA256 "));
        if (missing_parts(&a, authz, reply) || split_credential(&a, reply) ||
            check_key(cfg, &a, req, reply) || check_scope(cfg, &a, reply))
                return -1;
        return sim_auth_sigv4_verify(cfg, &a, req, now, reply);
}

int sim_auth_check(const sim_auth_cfg_t *cfg, const sim_req_t *req, time_t now,
                   sim_reply_t *reply)
{
        const char *authz;

        if (!sim_auth_enabled(cfg))
                return 0;
        authz = sim_req_header(req, "authorization");
        if (!authz || !*authz) {
                sim_reply_error(reply, SIM_ERR_MISSING_AUTH, NULL);
                return -1;
        }
        if (!strncasecmp(authz, "Bearer ", 7))
                return check_bearer(cfg, authz + 7, reply);
        if (!strncmp(authz, "AWS4-HMAC-SHA256 ", 17))
                return check_sigv4(cfg, authz, req, now, reply);
        sim_reply_errorf(reply, SIM_ERR_INCOMPLETE_SIGNATURE,
                         "Authorization header requires 'Credential' "
                         "parameter. Authorization header requires "
                         "'Signature' parameter. Authorization=%.200s",
                         authz);
        return -1;
}
