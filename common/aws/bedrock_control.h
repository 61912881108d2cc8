/*
 * A small blocking client for Amazon Bedrock's control plane (service
 * "bedrock", REST-JSON, https://bedrock.<region>.amazonaws.com): the
 * inference-profile operations `tollgate-ledger profiles sync` needs
 * (docs/operations.md, "Application inference profiles"). Paths, fields
 * and error shapes are botocore's bedrock service model
 * (data/bedrock/2023-04-20/service-2.json).
 *
 * Requests are signed by common/aws/bedrock_auth.c (SigV4, or a Bedrock
 * API key as a bearer token) with credentials from tg_creds (creds.h);
 * sent with libcurl's easy interface, TLS peer verified. Replies are read
 * up to TG_BCTL_BODY_MAX; a longer one is an error. Throttling, 5xx and
 * transport errors are retried (TG_BCTL_ATTEMPTS in all, 200 ms doubling);
 * CreateInferenceProfile is safe to retry because it carries a
 * clientRequestToken. Secrets never reach errors or logs.
 *
 * Ownership and threads: a tg_bctl_t borrows its tg_creds_t (which must
 * outlive it) and is used from one thread at a time. Call
 * curl_global_init() first.
 */
#ifndef TG_AWS_BEDROCK_CONTROL_H
#define TG_AWS_BEDROCK_CONTROL_H

#include <jansson.h>
#include <stddef.h>

#include "creds.h"

#define TG_BCTL_BODY_MAX   (1024 * 1024)
#define TG_BCTL_ATTEMPTS   3
#define TG_BCTL_PAGES_MAX  1000 /* ListInferenceProfiles pages per listing */
#define TG_BCTL_URL_MAX    512
#define TG_BCTL_REGION_MAX 64

typedef struct tg_bctl_conf {
        const char
            *endpoint; /* NULL/"": https://bedrock.<region>.amazonaws.com */
        const char *region; /* required: signing scope and default host */
        long timeout_ms;    /* per HTTP call; 0 = 30000 */
        tg_creds_t *creds;  /* borrowed */
} tg_bctl_conf_t;

/* What went wrong with one call. status 0: no HTTP answer (message says
 * why); else the HTTP status, AWS's error type (x-amzn-ErrorType before
 * ':', or the body's __type/code) and its message, cut and sanitized. */
typedef struct tg_bctl_error {
        long status;
        char type[64];
        char message[256];
} tg_bctl_error_t;

typedef struct tg_bctl tg_bctl_t;

tg_bctl_t *tg_bctl_new(const tg_bctl_conf_t *conf, char *errstr,
                       size_t errstr_size);
void tg_bctl_destroy(tg_bctl_t *b);

/* One operation: method, wire path (already percent-encoded), query
 * (encoded, or NULL), JSON body (or NULL). On 2xx returns 0 with *out the
 * reply's JSON object (the caller's; an empty body is {}). Else -1 with
 * *err filled. */
int tg_bctl_call(tg_bctl_t *b, const char *method, const char *path,
                 const char *query, const char *body, json_t **out,
                 tg_bctl_error_t *err);

/* ListInferenceProfiles with type=APPLICATION, every page (nextToken),
 * at most TG_BCTL_PAGES_MAX pages: *out is one array of the summaries. */
int tg_bctl_list_app_profiles(tg_bctl_t *b, json_t **out, tg_bctl_error_t *err);

/* GetInferenceProfile of an id or ARN: *out the reply object. */
int tg_bctl_get_profile(tg_bctl_t *b, const char *ident, json_t **out,
                        tg_bctl_error_t *err);

/* ListTagsForResource: *out the "tags" array ([{key, value}]). */
int tg_bctl_list_tags(tg_bctl_t *b, const char *arn, json_t **out,
                      tg_bctl_error_t *err);

/* CreateInferenceProfile copying from copy_from (a foundation-model or
 * inference-profile ARN) with tags ([{key, value}], borrowed) and the
 * idempotency token. The new ARN goes into arn (size bytes). */
int tg_bctl_create_profile(tg_bctl_t *b, const char *name,
                           const char *copy_from, const char *description,
                           json_t *tags, const char *token, char *arn,
                           size_t size, tg_bctl_error_t *err);

/* "ThrottlingException (HTTP 429): message" or the transport error. */
void tg_bctl_error_str(const tg_bctl_error_t *err, char *out, size_t size);

#endif
