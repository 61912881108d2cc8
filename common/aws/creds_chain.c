/*
 * Which source to use: botocore's resolver order, exactly
 * (botocore/credentials.py, create_credential_resolver), after the Bedrock
 * API key that Bedrock's SDKs put first:
 *
 *   bearer, env, assume-role, assume-role-with-web-identity, sso (refused),
 *   shared-credentials-file, login (refused), custom-process, config-file,
 *   container-role, iam-role
 *
 * A source that is configured but broken is an error here, never a silent
 * fall through to the next (botocore raises too). The profile's settings
 * are the config file's with the credentials file's on top, as botocore's
 * session.full_config merges them. See creds.h for the details of each.
 */
#include "creds_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_IMDS      "http://169.254.169.254/"
#define DEFAULT_IMDS_V6   "http://[fd00:ec2::254]/"
#define DEFAULT_CONTAINER "http://169.254.170.2"

typedef struct chain {
        const tg_creds_env_t *env;
        const tg_creds_conf_t *conf;
        tg_creds_ini_t cfg;  /* ~/.aws/config */
        tg_creds_ini_t cred; /* ~/.aws/credentials */
        char profile[TG_CREDS_PROFILE_MAX];
        int explicit_profile;
        const char *visited[TG_CREDS_CHAIN_MAX + 2];
        int n_visited;
        char *err;
        size_t err_size;
} chain_t;

static int fail(chain_t *ch, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fills the error; returns -1 for "configured but broken". */
static int fail(chain_t *ch, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ch->err, ch->err_size, fmt, ap);
        va_end(ap);
        return -1;
}

#define FAIL fail

static const char *env(const chain_t *ch, const char *name)
{
        return tg_creds_env_get(ch->env, name);
}

/* The merged profile, as botocore's full_config. */
static const char *full(const chain_t *ch, const char *profile, const char *key)
{
        const char *v = tg_creds_ini_get(&ch->cred, profile, key);

        return v ? v : tg_creds_ini_get(&ch->cfg, profile, key);
}

static int is_true(const char *v)
{
        return v && !strcasecmp(v, "true");
}

static tg_creds_src_t *src_new(chain_t *ch, tg_creds_kind_t kind,
                               const char *method, const char *profile)
{
        tg_creds_src_t *s = calloc(1, sizeof(*s));

        if (!s) {
                FAIL(ch, "out of memory");
                return NULL;
        }
        s->kind = kind;
        snprintf(s->method, sizeof(s->method), "%s", method);
        snprintf(s->profile, sizeof(s->profile), "%s", profile ? profile : "");
        snprintf(s->fixed.source, sizeof(s->fixed.source), "%s", method);
        s->timeout_ms = ch->conf && ch->conf->http_timeout_ms > 0
                            ? ch->conf->http_timeout_ms
                            : 5000;
        return s;
}

/* A static key pair; token may be NULL. */
static int set_keys(chain_t *ch, tg_creds_src_t *s, const char *id,
                    const char *secret, const char *token, const char *what)
{
        if (!id || !*id || !secret || !*secret)
                return FAIL(ch,
                            "%s: aws_access_key_id without "
                            "aws_secret_access_key (or the other way)",
                            what);
        if (tg_creds_copy(s->fixed.access_key_id, TG_CREDS_ID_MAX, id) ||
            tg_creds_copy(s->fixed.secret_access_key, TG_CREDS_SECRET_MAX,
                          secret) ||
            tg_creds_copy(s->fixed.session_token, TG_CREDS_TOKEN_MAX,
                          token ? token : ""))
                return FAIL(ch, "%s: a key or token is too long", what);
        return 0;
}

/* ---- environment ------------------------------------------------------- */

static int try_bearer(chain_t *ch, tg_creds_src_t **out)
{
        const char *v = env(ch, "AWS_BEARER_TOKEN_BEDROCK");

        if (!v)
                return 0;
        if (!(*out = src_new(ch, TG_SRC_STATIC, "bearer", NULL)))
                return -1;
        if (tg_creds_copy((*out)->fixed.bearer_token, TG_CREDS_BEARER_MAX, v))
                return FAIL(ch,
                            "AWS_BEARER_TOKEN_BEDROCK is longer than %d bytes",
                            TG_CREDS_BEARER_MAX - 1);
        return 1;
}

/* botocore triggers on AWS_ACCESS_KEY_ID; we also refuse a lone
 * AWS_SECRET_ACCESS_KEY rather than silently using another source. */
static int try_env(chain_t *ch, tg_creds_src_t **out)
{
        const char *id = env(ch, "AWS_ACCESS_KEY_ID");
        const char *secret = env(ch, "AWS_SECRET_ACCESS_KEY");
        const char *token = env(ch, "AWS_SECURITY_TOKEN");
        const char *exp = env(ch, "AWS_CREDENTIAL_EXPIRATION");

        if (!id && !secret)
                return 0;
        if (!id || !secret)
                return FAIL(ch, "%s is set but %s is not",
                            id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                            id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        if (!(*out = src_new(ch, TG_SRC_STATIC, "env", NULL)))
                return -1;
        if (!token)
                token = env(ch, "AWS_SESSION_TOKEN");
        if (set_keys(ch, *out, id, secret, token,
                     "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/"
                     "AWS_SESSION_TOKEN"))
                return -1;
        if (exp && (tg_creds_copy((*out)->fixed.expiration,
                                  sizeof((*out)->fixed.expiration), exp) ||
                    tg_creds_parse_time(exp, &(*out)->fixed.expires_at)))
                return FAIL(ch, "AWS_CREDENTIAL_EXPIRATION is not an RFC 3339 "
                                "UTC time");
        return 1;
}

/* ---- STS sources ------------------------------------------------------- */

static int sts_setup(chain_t *ch, tg_creds_src_t *s, const char *profile)
{
        const char *region = ch->conf && ch->conf->region && *ch->conf->region
                                 ? ch->conf->region
                                 : NULL;
        const char *url = NULL;

        if (!region)
                region = env(ch, "AWS_REGION");
        if (!region)
                region = env(ch, "AWS_DEFAULT_REGION");
        if (!region && profile)
                region = full(ch, profile, "region");
        if (!region || !*region)
                region = "us-east-1";
        if (tg_creds_copy(s->region, sizeof(s->region), region))
                return FAIL(ch, "region name too long");
        if (!is_true(env(ch, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))) {
                url = env(ch, "AWS_ENDPOINT_URL_STS");
                if (!url)
                        url = env(ch, "AWS_ENDPOINT_URL");
        }
        if (url ? tg_creds_copy(s->sts_url, sizeof(s->sts_url), url)
                : snprintf(s->sts_url, sizeof(s->sts_url),
                           "https://sts.%s.amazonaws.com%s", s->region,
                           strncmp(s->region, "cn-", 3) ? "" : ".cn") < 0)
                return FAIL(ch, "STS endpoint URL too long");
        return 0;
}

static int copy_opt(chain_t *ch, char *dst, size_t size, const char *v,
                    const char *what)
{
        if (v && tg_creds_copy(dst, size, v))
                return FAIL(ch, "%s is too long", what);
        return 0;
}

/* Web identity: each setting from the environment (when enabled) or else
 * the profile, as botocore's AssumeRoleWithWebIdentityProvider. */
static const char *web_get(chain_t *ch, const char *profile, int use_env,
                           const char *key, const char *env_name)
{
        const char *v = use_env ? env(ch, env_name) : NULL;

        return v ? v : full(ch, profile, key);
}

static int try_web(chain_t *ch, const char *profile, int use_env,
                   tg_creds_src_t **out)
{
        const char *file =
            web_get(ch, profile, use_env, "web_identity_token_file",
                    "AWS_WEB_IDENTITY_TOKEN_FILE");
        const char *arn =
            web_get(ch, profile, use_env, "role_arn", "AWS_ROLE_ARN");
        const char *name = web_get(ch, profile, use_env, "role_session_name",
                                   "AWS_ROLE_SESSION_NAME");
        tg_creds_src_t *s;

        if (!file || !*file)
                return 0;
        if (!arn || !*arn)
                return FAIL(ch,
                            "web identity token file %.200s is set but no "
                            "role: set AWS_ROLE_ARN or role_arn",
                            file);
        if (!(s = *out = src_new(ch, TG_SRC_WEB,
                                 "assume-role-with-web-identity", profile)))
                return -1;
        if (copy_opt(ch, s->path, sizeof(s->path), file,
                     "web_identity_token_file") ||
            copy_opt(ch, s->role_arn, sizeof(s->role_arn), arn, "role_arn") ||
            copy_opt(ch, s->session_name, sizeof(s->session_name), name,
                     "role_session_name") ||
            sts_setup(ch, s, profile))
                return -1;
        return 1;
}

static int build_assume(chain_t *ch, const char *profile, tg_creds_src_t **out);
static int profile_providers(chain_t *ch, const char *profile, int use_env,
                             tg_creds_src_t **out);
static int try_container(chain_t *ch, tg_creds_src_t **out);
static int try_imds(chain_t *ch, int named, tg_creds_src_t **out);

static int has_static(const chain_t *ch, const char *profile)
{
        return full(ch, profile, "aws_access_key_id") ||
               full(ch, profile, "aws_secret_access_key");
}

static int has_role(const chain_t *ch, const char *profile)
{
        return full(ch, profile, "role_arn") &&
               !full(ch, profile, "web_identity_token_file");
}

static int visited(const chain_t *ch, const char *profile)
{
        for (int i = 0; i < ch->n_visited; i++)
                if (!strcmp(ch->visited[i], profile))
                        return 1;
        return 0;
}

/* credential_source: botocore's CanonicalNameCredentialSourcer over env,
 * container and IMDS. */
static int named_source(chain_t *ch, const char *profile, const char *name,
                        tg_creds_src_t **out)
{
        int r;

        if (!strcasecmp(name, "Environment"))
                r = try_env(ch, out);
        else if (!strcasecmp(name, "EcsContainer"))
                r = try_container(ch, out);
        else if (!strcasecmp(name, "Ec2InstanceMetadata"))
                r = try_imds(ch, 1, out);
        else
                return FAIL(ch,
                            "profile %s: credential_source \"%.64s\" is "
                            "not Environment, EcsContainer or "
                            "Ec2InstanceMetadata",
                            profile, name);
        if (r == 0)
                return FAIL(ch,
                            "profile %s: credential_source %s has no "
                            "credentials",
                            profile, name);
        return r;
}

static int source_profile(chain_t *ch, const char *profile, const char *src,
                          tg_creds_src_t **out)
{
        int r;

        if (!tg_creds_ini_has(&ch->cfg, src) &&
            !tg_creds_ini_has(&ch->cred, src))
                return FAIL(ch,
                            "profile %s: source_profile %.64s does not "
                            "exist",
                            profile, src);
        if (visited(ch, src) && (strcmp(src, profile) || !has_static(ch, src)))
                return FAIL(ch,
                            "profile %s: source_profile %.64s makes a "
                            "loop",
                            profile, src);
        if (ch->n_visited > TG_CREDS_CHAIN_MAX)
                return FAIL(ch, "profile %s: more than %d assume-role hops",
                            profile, TG_CREDS_CHAIN_MAX);
        ch->visited[ch->n_visited++] = src;
        if (has_static(ch, src) || !has_role(ch, src)) {
                r = profile_providers(ch, src, 0, out);
                if (r == 0)
                        return FAIL(ch,
                                    "profile %s: source_profile %.64s has "
                                    "no credentials",
                                    profile, src);
                return r;
        }
        return build_assume(ch, src, out);
}

static int build_assume(chain_t *ch, const char *profile, tg_creds_src_t **out)
{
        const char *src = full(ch, profile, "source_profile");
        const char *named = full(ch, profile, "credential_source");
        const char *dur = full(ch, profile, "duration_seconds");
        tg_creds_src_t *s;
        int r;

        if (src && named)
                return FAIL(ch,
                            "profile %s has both source_profile and "
                            "credential_source",
                            profile);
        if (!src && !named)
                return FAIL(ch,
                            "profile %s has role_arn but neither "
                            "source_profile nor credential_source",
                            profile);
        if (full(ch, profile, "mfa_serial"))
                return FAIL(ch,
                            "profile %s needs an MFA code (mfa_serial), "
                            "which a service cannot type",
                            profile);
        if (!(s = *out = src_new(ch, TG_SRC_ASSUME, "assume-role", profile)))
                return -1;
        if (copy_opt(ch, s->role_arn, sizeof(s->role_arn),
                     full(ch, profile, "role_arn"), "role_arn") ||
            copy_opt(ch, s->session_name, sizeof(s->session_name),
                     full(ch, profile, "role_session_name"),
                     "role_session_name") ||
            copy_opt(ch, s->external_id, sizeof(s->external_id),
                     full(ch, profile, "external_id"), "external_id") ||
            sts_setup(ch, s, profile))
                return -1;
        s->duration_s = dur ? atoi(dur) : 0;
        r = named ? named_source(ch, profile, named, &s->source)
                  : source_profile(ch, profile, src, &s->source);
        return r < 0 ? -1 : 1;
}

static int try_assume(chain_t *ch, tg_creds_src_t **out)
{
        if (!has_role(ch, ch->profile))
                return 0;
        ch->visited[0] = ch->profile;
        ch->n_visited = 1;
        return build_assume(ch, ch->profile, out);
}

/* ---- profile sources --------------------------------------------------- */

static int try_sso(chain_t *ch, const char *profile)
{
        if (full(ch, profile, "sso_account_id") ||
            full(ch, profile, "sso_role_name"))
                return FAIL(ch,
                            "profile %s uses IAM Identity Center (SSO), "
                            "which tollgate does not support: its tokens "
                            "need a person to log in. Use a role "
                            "(IRSA, Pod Identity, an instance role) or "
                            "credential_process",
                            profile);
        return 0;
}

static int try_login(chain_t *ch, const char *profile)
{
        if (full(ch, profile, "login_session"))
                return FAIL(ch,
                            "profile %s uses login_session (aws login), "
                            "which tollgate does not support",
                            profile);
        return 0;
}

/* Static keys of one file: botocore's SharedCredentialProvider and
 * ConfigProvider trigger on aws_access_key_id. */
static int try_file_keys(chain_t *ch, const tg_creds_ini_t *ini,
                         const char *profile, const char *method,
                         tg_creds_src_t **out)
{
        const char *id = tg_creds_ini_get(ini, profile, "aws_access_key_id");
        const char *tok = tg_creds_ini_get(ini, profile, "aws_security_token");
        char what[TG_CREDS_PROFILE_MAX + 64];

        if (!id)
                return 0;
        if (!tok)
                tok = tg_creds_ini_get(ini, profile, "aws_session_token");
        snprintf(what, sizeof(what), "%s profile %s", method, profile);
        if (!(*out = src_new(ch, TG_SRC_STATIC, method, profile)))
                return -1;
        return set_keys(ch, *out, id,
                        tg_creds_ini_get(ini, profile, "aws_secret_access_key"),
                        tok, what)
                   ? -1
                   : 1;
}

static int try_process(chain_t *ch, const char *profile, tg_creds_src_t **out)
{
        const char *cmd = full(ch, profile, "credential_process");

        if (!cmd)
                return 0;
        if (!(*out = src_new(ch, TG_SRC_PROCESS, "custom-process", profile)))
                return -1;
        (*out)->timeout_ms = ch->conf && ch->conf->process_timeout_ms > 0
                                 ? ch->conf->process_timeout_ms
                                 : 30000;
        return copy_opt(ch, (*out)->path, sizeof((*out)->path), cmd,
                        "credential_process")
                   ? -1
                   : 1;
}

#define TRY(expr)                                                              \
        do {                                                                   \
                int r_ = (expr);                                               \
                if (r_)                                                        \
                        return r_;                                             \
        } while (0)

/* botocore's ProfileProviderBuilder.providers(), in its order. */
static int profile_providers(chain_t *ch, const char *profile, int use_env,
                             tg_creds_src_t **out)
{
        TRY(try_web(ch, profile, use_env, out));
        TRY(try_sso(ch, profile));
        TRY(try_file_keys(ch, &ch->cred, profile, "shared-credentials-file",
                          out));
        TRY(try_login(ch, profile));
        TRY(try_process(ch, profile, out));
        return try_file_keys(ch, &ch->cfg, profile, "config-file", out);
}

/* ---- container and IMDS ------------------------------------------------ */

static int container_url(chain_t *ch, tg_creds_src_t *s)
{
        const char *rel = env(ch, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        const char *full_uri = env(ch, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
        const char *base = ch->conf && ch->conf->container_base_url
                               ? ch->conf->container_base_url
                               : DEFAULT_CONTAINER;
        int n;

        if (rel && rel[0] != '/')
                return FAIL(ch, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must "
                                "start with /");
        n = rel ? snprintf(s->url, sizeof(s->url), "%s%s", base, rel)
                : snprintf(s->url, sizeof(s->url), "%s", full_uri);
        if (n < 0 || (size_t)n >= sizeof(s->url))
                return FAIL(ch, "container credentials URL is too long");
        return rel ? 0
                   : tg_creds_container_url_ok(s->url, ch->err, ch->err_size);
}

static int printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return 0;
        return 1;
}

static int try_container(chain_t *ch, tg_creds_src_t **out)
{
        const char *file = env(ch, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        const char *token = env(ch, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
        tg_creds_src_t *s;

        if (!env(ch, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") &&
            !env(ch, "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
                return 0;
        if (!(s = *out =
                  src_new(ch, TG_SRC_CONTAINER, "container-role", NULL)) ||
            container_url(ch, s) < 0)
                return -1;
        if (tg_creds_copy(s->auth_token_file, sizeof(s->auth_token_file),
                          file ? file : "") ||
            tg_creds_copy(s->auth_token, sizeof(s->auth_token),
                          token ? token : "") ||
            !printable(s->auth_token))
                return FAIL(ch, "AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) is "
                                "too long or holds control characters");
        return 1;
}

static const char *imds_setting(chain_t *ch, const char *env_name,
                                const char *key)
{
        const char *v = env(ch, env_name);

        return v ? v : full(ch, ch->profile, key);
}

/* named: asked for by credential_source, so a disabled IMDS is an error
 * there, not a skip. */
static int try_imds(chain_t *ch, int named, tg_creds_src_t **out)
{
        const char *url = imds_setting(ch, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                       "ec2_metadata_service_endpoint");
        const char *mode =
            imds_setting(ch, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                         "ec2_metadata_service_endpoint_mode");
        const char *tmo = imds_setting(ch, "AWS_METADATA_SERVICE_TIMEOUT",
                                       "metadata_service_timeout");

        if (is_true(env(ch, "AWS_EC2_METADATA_DISABLED")))
                return named ? FAIL(ch, "credential_source Ec2InstanceMetadata "
                                        "but AWS_EC2_METADATA_DISABLED=true")
                             : 0;
        if (!(*out = src_new(ch, TG_SRC_IMDS, "iam-role", NULL)))
                return -1;
        if (!url)
                url = mode && !strcasecmp(mode, "ipv6") ? DEFAULT_IMDS_V6
                                                        : DEFAULT_IMDS;
        if (tg_creds_copy((*out)->url, sizeof((*out)->url), url))
                return FAIL(ch, "AWS_EC2_METADATA_SERVICE_ENDPOINT too long");
        /* botocore's default: one second, one attempt. */
        (*out)->timeout_ms =
            tmo && atof(tmo) > 0 ? (long)(atof(tmo) * 1000) : 1000;
        return 1;
}

/* ---- files and the order ----------------------------------------------- */

/* The variable (with "~/" expanded) or $HOME/<dflt>; "" when neither. */
static int file_path(chain_t *ch, const char *var, const char *dflt, char *out,
                     size_t size)
{
        const char *f = env(ch, var), *home = env(ch, "HOME");
        int n = 0;

        out[0] = '\0';
        if (f && strncmp(f, "~/", 2) != 0)
                n = snprintf(out, size, "%s", f);
        else if (home)
                n = snprintf(out, size, "%s/%s", home, f ? f + 2 : dflt);
        if (n < 0 || (size_t)n >= size)
                return FAIL(ch, "%s path too long", var);
        return 0;
}

static int load_files(chain_t *ch)
{
        const char *p = env(ch, "AWS_DEFAULT_PROFILE");
        char path[TG_CREDS_PATH_MAX];

        if (!p)
                p = env(ch, "AWS_PROFILE");
        ch->explicit_profile = p != NULL;
        if (tg_creds_copy(ch->profile, sizeof(ch->profile), p ? p : "default"))
                return FAIL(ch, "AWS_PROFILE is too long");
        if (file_path(ch, "AWS_CONFIG_FILE", ".aws/config", path,
                      sizeof(path)) ||
            tg_creds_ini_load(&ch->cfg, path, 1, ch->err, ch->err_size) < 0 ||
            file_path(ch, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials",
                      path, sizeof(path)) ||
            tg_creds_ini_load(&ch->cred, path, 0, ch->err, ch->err_size) < 0)
                return -1;
        if (ch->explicit_profile && !tg_creds_ini_has(&ch->cfg, ch->profile) &&
            !tg_creds_ini_has(&ch->cred, ch->profile))
                return FAIL(ch,
                            "profile %s is in neither the config nor the "
                            "credentials file",
                            ch->profile);
        return 0;
}

static int legacy_refused(chain_t *ch)
{
        if (env(ch, "AWS_CREDENTIAL_FILE") || env(ch, "BOTO_CONFIG"))
                return FAIL(ch, "AWS_CREDENTIAL_FILE and BOTO_CONFIG (boto2's "
                                "files) are not supported: use the shared "
                                "credentials file");
        return 0;
}

static int resolve(chain_t *ch, tg_creds_src_t **out)
{
        TRY(try_bearer(ch, out));
        TRY(try_env(ch, out));
        if (load_files(ch))
                return -1;
        TRY(try_assume(ch, out));
        TRY(profile_providers(ch, ch->profile, 1, out));
        TRY(legacy_refused(ch));
        TRY(try_container(ch, out));
        TRY(try_imds(ch, 0, out));
        return FAIL(ch, "no AWS credentials: set AWS_BEARER_TOKEN_BEDROCK, "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a "
                        "profile in ~/.aws/credentials or ~/.aws/config, web "
                        "identity, or container credentials (instance "
                        "metadata is off: AWS_EC2_METADATA_DISABLED)");
}

tg_creds_src_t *tg_creds_chain_resolve(const tg_creds_env_t *e,
                                       const tg_creds_conf_t *conf,
                                       char *errstr, size_t errstr_size)
{
        chain_t *ch = calloc(1, sizeof(*ch));
        tg_creds_src_t *root = NULL;
        int r;

        if (!ch) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        ch->env = e;
        ch->conf = conf;
        ch->err = errstr;
        ch->err_size = errstr_size;
        r = resolve(ch, &root);
        tg_creds_ini_free(&ch->cfg);
        tg_creds_ini_free(&ch->cred);
        free(ch);
        if (r < 0) {
                tg_creds_src_free(root);
                return NULL;
        }
        return root;
}
