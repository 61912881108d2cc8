/*
 * AWS credentials for Bedrock: a provider that resolves once, at
 * tg_creds_new(), which source to use, and keeps a snapshot fresh.
 *
 * Chain, first match wins:
 *   1. AWS_BEARER_TOKEN_BEDROCK: a Bedrock API key, sent as
 *      "Authorization: Bearer <key>" instead of SigV4. AWS SDKs prefer it
 *      over every SigV4 source for Bedrock when it is set; so do we.
 *   2. Environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *      (+ AWS_SESSION_TOKEN).
 *   3. Shared credentials file: AWS_SHARED_CREDENTIALS_FILE or
 *      ~/.aws/credentials, profile AWS_PROFILE or "default". An explicit
 *      AWS_PROFILE that the file does not hold is an error, not a fall
 *      through, so a typo does not silently pick other credentials.
 *   4. Container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (against http://169.254.170.2, ECS) or else
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity, or any https
 *      URL). The Authorization header comes from the file named by
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read on every fetch, as
 *      it rotates) or else AWS_CONTAINER_AUTHORIZATION_TOKEN. A plain http
 *      FULL_URI must point at loopback or at the ECS/EKS link-local
 *      addresses (169.254.170.2, 169.254.170.23, fd00:ec2::23), as AWS
 *      SDKs require. No proxy is used for it.
 * None of them: tg_creds_new() fails.
 *
 * Container credentials are fetched once inside tg_creds_new() (so a broken
 * setup fails at start-up) and then refreshed by a background thread before
 * they expire. tg_creds_get() only copies a snapshot under a mutex and never
 * does I/O, so it is safe to call from an event loop.
 *
 * Secrets (secret key, session token, bearer token, container authorization
 * token) are never logged or put in error strings by this module. Callers
 * wipe their snapshot copies with tg_secret_wipe() when done.
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
        /* For logs: "bearer", "env", "profile:NAME", "container". */
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
        long http_timeout_ms; /* container endpoint; 0 = 5000 */
        /* Base URL for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
         * NULL = "http://169.254.170.2". Tests point it at loopback. */
        const char *container_base_url;
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

/* The source name ("bearer", "env", "profile:dev", "container"), owned by
 * c and valid until tg_creds_destroy(). */
const char *tg_creds_source(const tg_creds_t *c);

/* Copies the last refresh error ("" when none) into buf. Returns the
 * number of successful fetches so far (1 after a container start-up). */
unsigned long tg_creds_last_error(tg_creds_t *c, char *buf, size_t size);

/* Stops the refresh thread (waiting for a fetch in progress, at most
 * http_timeout_ms), wipes and frees everything. NULL is a no-op. */
void tg_creds_destroy(tg_creds_t *c);

/* Overwrites n bytes at p in a way the compiler will not drop. */
void tg_secret_wipe(void *p, size_t n);

#endif
