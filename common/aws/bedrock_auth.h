/*
 * The authentication headers of one Bedrock runtime call: SigV4 (service
 * "bedrock") from access keys, or a Bedrock API key as a bearer token,
 * whichever the credentials snapshot holds (see creds.h for which wins).
 *
 * Pure: no I/O and no globals; the time is an argument.
 */
#ifndef TG_AWS_BEDROCK_AUTH_H
#define TG_AWS_BEDROCK_AUTH_H

#include <curl/curl.h>
#include <stddef.h>
#include <time.h>

#include "creds.h"

#define TG_BEDROCK_SIGNING_NAME "bedrock" /* also for bedrock-runtime */
#define TG_BEDROCK_HOST_MAX     256

typedef struct tg_bedrock_auth_req {
        const char *region; /* "us-east-1" */
        /* Exactly what curl will send as Host for the request URL; get it
         * from tg_bedrock_auth_host() on that URL. */
        const char *host;
        const char *method; /* "POST" */
        const char *path;   /* wire path, may end in "?query"; from
                             * tg_bedrock_model_path() */
        const void *body;   /* may be NULL when body_len is 0 */
        size_t body_len;
        time_t now; /* signing time, normally time(NULL) */
} tg_bedrock_auth_req_t;

/* Writes "/model/<model_id encoded>/<operation>" into out: every byte of
 * the model id outside A-Za-z0-9-._~ is percent-encoded, so ':' becomes
 * %3A and the '/' of an ARN %2F. operation is e.g. "converse". Returns the
 * length, or -1 when out is too small or the operation is not [a-z-]+. */
long tg_bedrock_model_path(const char *model_id, const char *operation,
                           char *out, size_t out_size);

/* Writes into out the Host value curl sends for url: the host, plus
 * ":port" when the URL names a port other than the scheme's default.
 * Returns 0, or -1 on a bad URL or a too small out. */
int tg_bedrock_auth_host(const char *url, char *out, size_t out_size);

/* Returns a new list of header lines for the request, or NULL with errstr
 * filled. The list holds every header the signature covers except Host:
 *   SigV4:  "Content-Type: application/json", "X-Amz-Date: ...",
 *           "X-Amz-Security-Token: ..." (with a session token),
 *           "Authorization: AWS4-HMAC-SHA256 ..."
 *   bearer: "Content-Type: application/json",
 *           "Authorization: Bearer <token>"
 * so the caller must not set Content-Type itself. The list holds secrets:
 * the caller owns it and frees it with tg_bedrock_auth_free(). */
struct curl_slist *tg_bedrock_auth_headers(const tg_creds_snapshot_t *creds,
                                           const tg_bedrock_auth_req_t *req,
                                           char *errstr, size_t errstr_size);

/* Wipes every line and frees the list. NULL is a no-op. */
void tg_bedrock_auth_free(struct curl_slist *headers);

#endif
