/*
 * AWS credentials for Bedrock (and MSK IAM): a provider that resolves once,
 * at tg_creds_new(), which source to use, fetches it, and keeps a snapshot
 * fresh on a background thread. docs/operations.md, "AWS credentials on
 * EKS and EC2", is the operator's version of this comment.
 *
 * Chain, first configured source wins. After the Bedrock API key it is
 * botocore's order exactly (botocore/credentials.py,
 * create_credential_resolver), and a source's name (tg_creds_source(),
 * snapshot.source) is botocore's name for it:
 *   bearer       AWS_BEARER_TOKEN_BEDROCK: a Bedrock API key, sent as
 *                "Authorization: Bearer <key>" instead of SigV4. Bedrock's
 *                SDKs prefer it over every SigV4 source; so do we.
 *   env          AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+
 *                AWS_SECURITY_TOKEN or AWS_SESSION_TOKEN, +
 *                AWS_CREDENTIAL_EXPIRATION). Half a pair is an error.
 *   assume-role  the profile (AWS_DEFAULT_PROFILE, AWS_PROFILE or
 *                "default") has role_arn (and no web_identity_token_file):
 *                STS AssumeRole, SigV4-signed with the credentials of
 *                source_profile (resolved like a profile, or another
 *                assume-role; loops refused) or of credential_source
 *                (Environment, EcsContainer, Ec2InstanceMetadata).
 *                role_session_name, external_id, duration_seconds are
 *                passed; mfa_serial is refused (nobody types a code).
 *   assume-role-with-web-identity
 *                AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *                (+ AWS_ROLE_SESSION_NAME), or web_identity_token_file +
 *                role_arn in the profile: STS AssumeRoleWithWebIdentity
 *                (IRSA on EKS), the token file re-read on every refresh.
 *   sso          sso_account_id / sso_role_name in the profile: refused
 *                at start with an error (botocore would use them, so
 *                skipping them would pick other credentials than the
 *                user's tools do; their tokens need a person to log in).
 *   shared-credentials-file
 *                aws_access_key_id in the profile of
 *                AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials.
 *   login        login_session in the profile: refused, as sso.
 *   custom-process
 *                credential_process in the profile: run without a shell,
 *                its stdout must be the documented JSON (Version 1,
 *                AccessKeyId, SecretAccessKey, optional SessionToken and
 *                Expiration), exit 0, within process_timeout_ms.
 *   config-file  aws_access_key_id in the profile of AWS_CONFIG_FILE or
 *                ~/.aws/config ("[profile NAME]" sections).
 *   container-role
 *                AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (against
 *                http://169.254.170.2, ECS) or else
 *                AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity, or
 *                any https URL). The Authorization header comes from the
 *                file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *                (re-read on every fetch, as it rotates) or else
 *                AWS_CONTAINER_AUTHORIZATION_TOKEN. A plain http FULL_URI
 *                must point at loopback or at the ECS/EKS link-local
 *                addresses (169.254.170.2, 169.254.170.23, fd00:ec2::23),
 *                as AWS SDKs require. No proxy is used for it.
 *   iam-role     EC2 instance metadata, IMDSv2 only (token PUT, then the
 *                role's credentials), at AWS_EC2_METADATA_SERVICE_ENDPOINT
 *                or http://169.254.169.254 (AWS_EC2_METADATA_SERVICE_
 *                ENDPOINT_MODE=IPv6: http://[fd00:ec2::254]), timeout
 *                AWS_METADATA_SERVICE_TIMEOUT (default 1 s), skipped when
 *                AWS_EC2_METADATA_DISABLED=true. No IMDSv1 fallback.
 * Not supported, refused when set: AWS_CREDENTIAL_FILE and BOTO_CONFIG
 * (boto2's files; ~/.boto and /etc/boto.cfg are not read). An explicit
 * profile that neither file holds is an error. Nothing configured and no
 * instance metadata: tg_creds_new() fails.
 *
 * STS: AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL (both ignored when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else
 * https://sts.<region>.amazonaws.com; region = conf.region, AWS_REGION,
 * AWS_DEFAULT_REGION, the profile's region, or us-east-1.
 *
 * Every source is fetched once inside tg_creds_new() (so a broken setup,
 * an unreachable STS or IMDS, a missing token file fails at start-up with
 * a clear error) and, unless static, refreshed by a background thread
 * refresh_margin_s before it expires (at half its life when it lives
 * shorter). A failed refresh keeps the last credentials, retried every
 * retry_s, until they expire: then tg_creds_get() and tg_creds_valid()
 * say there are none (fail closed) until a refresh succeeds again.
 * tg_creds_get() only copies a snapshot under a mutex and never does I/O,
 * so it is safe to call from an event loop.
 *
 * Caps: STS replies, IMDS credentials, container replies 64 KiB; the IMDS
 * token and role name 4 KiB; credential_process stdout 64 KiB; the web
 * identity token 20 KiB; shared files 1 MiB (lines 4 KiB).
 *
 * Secrets (secret key, session token, bearer token, container
 * authorization token, web identity token) are never logged or put in
 * error strings by this module; the source and the access key id are
 * logged once at start. Callers wipe their snapshot copies with
 * tg_secret_wipe() when done.
 *
 * libcurl: call curl_global_init() in main() before tg_creds_new().
 */
#ifndef TG_AWS_CREDS_H
#define TG_AWS_CREDS_H

#include <stddef.h>
#include <time.h>

#define TG_CREDS_ID_MAX      128
#define TG_CREDS_SECRET_MAX  128
#define TG_CREDS_TOKEN_MAX   4096 /* session token */
#define TG_CREDS_BEARER_MAX  8192 /* short-term Bedrock API keys are long */
#define TG_CREDS_PROFILE_MAX 128
#define TG_CREDS_SOURCE_MAX  (16 + TG_CREDS_PROFILE_MAX)

/* A copy of the current credentials, owned by whoever holds it. All strings
 * NUL-terminated. Exactly one of bearer_token or access_key_id is set. */
typedef struct tg_creds_snapshot {
        char access_key_id[TG_CREDS_ID_MAX];
        char secret_access_key[TG_CREDS_SECRET_MAX];
        char session_token[TG_CREDS_TOKEN_MAX]; /* "" when none */
        char bearer_token[TG_CREDS_BEARER_MAX]; /* "" unless source "bearer" */
        char expiration[32];                    /* as served; "" = never */
        time_t expires_at;                      /* 0 = never */
        /* botocore's name of the source: "bearer", "env", "assume-role",
         * "iam-role", ... (see above). */
        char source[TG_CREDS_SOURCE_MAX];
} tg_creds_snapshot_t;

/* Looks up an environment variable; returns NULL when unset. The string
 * must stay valid until tg_creds_new() returns. */
typedef const char *(*tg_creds_getenv_fn)(void *opaque, const char *name);

typedef struct tg_creds_conf {
        tg_creds_getenv_fn getenv_fn; /* NULL: the process environment */
        void *getenv_opaque;
        int refresh_margin_s; /* refresh this long before expiry; 0 = 300 */
        int retry_s;          /* wait after a failed refresh; 0 = 10 */
        long http_timeout_ms; /* container endpoint, STS; 0 = 5000 */
        /* Base URL for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
         * NULL = "http://169.254.170.2". Tests point it at loopback. */
        const char *container_base_url;
        const char *region;      /* STS region; NULL: see above */
        long process_timeout_ms; /* credential_process; 0 = 30000 */
        int quiet;               /* no start-up log line */
} tg_creds_conf_t;

typedef struct tg_creds_s tg_creds_t;

/* Resolves the chain above. conf may be NULL (defaults, process env); it is
 * not kept. Returns NULL with errstr filled when no source works. The
 * caller owns the handle: tg_creds_destroy(). */
tg_creds_t *tg_creds_new(const tg_creds_conf_t *conf, char *errstr,
                         size_t errstr_size);

/* Copies the current credentials into *out (caller-owned; wipe it with
 * tg_secret_wipe() after use). Never blocks on I/O. Returns 0, or -1 (out
 * wiped) when the credentials have expired because refreshing failed;
 * tg_creds_last_error() tells why. Thread-safe. */
int tg_creds_get(tg_creds_t *c, tg_creds_snapshot_t *out);

/* The source name (botocore's: "env", "assume-role", "iam-role", ...),
 * owned by c and valid until tg_creds_destroy(). */
const char *tg_creds_source(const tg_creds_t *c);

/* The source with its profile, role, endpoint and its own source, for
 * logs: "assume-role profile app role arn:... via https://... (source:
 * shared-credentials-file profile base)". No secret. Owned by c. */
const char *tg_creds_describe(const tg_creds_t *c);

/* 1 while c holds credentials that have not expired, else 0: the worker
 * admits nothing while it is 0. Never blocks on I/O. Thread-safe. */
int tg_creds_valid(tg_creds_t *c);

/* Copies the last refresh error ("" when none) into buf. Returns the
 * number of successful fetches so far (1 after a container start-up). */
unsigned long tg_creds_last_error(tg_creds_t *c, char *buf, size_t size);

/* Stops the refresh thread (waiting for a fetch in progress: at most
 * http_timeout_ms per STS call, process_timeout_ms for a process), wipes
 * and frees everything. NULL is a no-op. */
void tg_creds_destroy(tg_creds_t *c);

/* Overwrites n bytes at p in a way the compiler will not drop. */
void tg_secret_wipe(void *p, size_t n);

#endif
