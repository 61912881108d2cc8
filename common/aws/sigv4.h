/*
 * AWS Signature Version 4: header signing, and query presigning
 * (tg_sigv4_presign, a presigned URL's query as botocore's SigV4QueryAuth
 * writes it; the MSK IAM token is one, common/aws/msk_token.h).
 *
 * Own code because Debian 12's libcurl (7.88) CURLOPT_AWS_SIGV4 does not
 * encode the canonical path, and Bedrock model ids contain ':' and '/'.
 * Pure functions: no I/O, no globals, no allocation that outlives a call
 * except where written below. Secrets are never logged from here.
 */
#ifndef TG_AWS_SIGV4_H
#define TG_AWS_SIGV4_H

#include <stddef.h>
#include <time.h>

#define TG_SIGV4_MAX_HEADERS 64
/* Caps on what a caller may hand in; longer input is refused, not cut. */
#define TG_SIGV4_MAX_PATH 8192
/* A presigned query carries the session token (TG_CREDS_TOKEN_MAX, up to
 * three times as long encoded). */
#define TG_SIGV4_MAX_QUERY        16384
#define TG_SIGV4_MAX_QUERY_PARAMS 256
#define TG_SIGV4_MAX_HEADER_NAME  256
#define TG_SIGV4_MAX_HEADER_VALUE 8192
#define TG_SIGV4_MAX_KEY          256 /* access key id, secret */
#define TG_SIGV4_MAX_SCOPE_PART   64  /* region, service */

typedef struct tg_sigv4_header {
        const char *name;  /* as sent, any case */
        const char *value; /* raw value, may hold runs of spaces */
} tg_sigv4_header_t;

typedef struct tg_sigv4_request {
        const char *method; /* "POST" */
        const char *path;   /* as sent on the wire, already
                             * percent-encoded once, e.g.
                             * "/model/amazon.nova-lite-v1%3A0/converse" */
        const char *query;  /* raw query string without '?', or NULL;
                             * each key and value is decoded and encoded
                             * again strictly ('+' stays a literal '+') */
        const tg_sigv4_header_t *headers; /* headers to sign (must include
                                           * host and x-amz-date); names
                                           * are HTTP tokens, values hold
                                           * no control characters but tab:
                                           * a value with CR/LF is refused */
        size_t n_headers;
        const void *body;
        size_t body_len;
        const char *payload_hash; /* hex SHA-256 of body, or NULL to compute */
} tg_sigv4_request_t;

typedef struct tg_sigv4_params {
        const char *access_key_id;
        const char *secret_access_key;
        const char *region;   /* "us-east-1" */
        const char *service;  /* "bedrock" */
        const char *amz_date; /* "20261127T100000Z" (ISO 8601 basic) */
        /* Non-zero: S3-style path (no double encoding, no normalization).
         * Bedrock and the test suite use 0. */
        int s3_path;
        /* Non-zero: keep '.', '..' and empty segments (still encoded once
         * more). Only the test suite's "unnormalized" cases use it. */
        int no_normalize;
} tg_sigv4_params_t;

/* Output of a signing. All strings NUL-terminated, owned by the caller's
 * struct (fixed capacity, no allocation). */
typedef struct tg_sigv4_result {
        char signed_headers[1024]; /* "host;x-amz-date" */
        char signature[65];        /* hex */
        char authorization[2048];  /* full Authorization header value */
} tg_sigv4_result_t;

/* Formats `t` as ISO 8601 basic "YYYYMMDDTHHMMSSZ" into out[17]. */
void tg_sigv4_amz_date(time_t t, char out[17]);

/* Percent-encodes `in` (len bytes) leaving only A-Za-z0-9-._~ as is, and
 * '/' as is when keep_slash. Writes at most out_size-1 bytes plus NUL.
 * Returns the encoded length, or -1 when out_size is too small. */
long tg_sigv4_uri_encode(const char *in, size_t len, int keep_slash, char *out,
                         size_t out_size);

/* Builds the canonical request into out (caller frees with free()).
 * Returns NULL and fills errstr on malformed input (e.g. too many headers). */
char *tg_sigv4_canonical_request(const tg_sigv4_request_t *req,
                                 const tg_sigv4_params_t *params, char *errstr,
                                 size_t errstr_size);

/* Builds the string to sign from a canonical request (caller frees). */
char *tg_sigv4_string_to_sign(const char *canonical_request,
                              const tg_sigv4_params_t *params);

/* Signs the request. Returns 0 on success, -1 with errstr filled. */
int tg_sigv4_sign(const tg_sigv4_request_t *req,
                  const tg_sigv4_params_t *params, tg_sigv4_result_t *out,
                  char *errstr, size_t errstr_size);

/* ---- presigning (sigv4_presign.c) --------------------------------------- */

/* A request to presign: req's method, path, operation query (NULL or
 * already encoded, e.g. "Action=kafka-cluster%3AConnect"), headers (at
 * least host; none is added) and body are signed; no x-amz-date header is
 * needed, the date goes in the query. */
typedef struct tg_sigv4_presign {
        const tg_sigv4_request_t *req;
        const char *session_token; /* NULL or "": none */
        /* Non-zero: the token is appended after signing, unsigned (the
         * suite's omit_session_token); MSK and botocore sign it: 0. */
        int omit_session_token;
        long expires_s; /* X-Amz-Expires, 1-604800 (7 days, AWS's max) */
} tg_sigv4_presign_t;

/* The query that is signed: the operation query, then X-Amz-Algorithm,
 * -Credential, -Date, -Expires, -SignedHeaders and -Security-Token (unless
 * omitted), in botocore's order. Returns its length, or -1 with errstr
 * (bad input, or out_size too small). */
long tg_sigv4_presign_query(const tg_sigv4_presign_t *ps,
                            const tg_sigv4_params_t *params, char *out,
                            size_t out_size, char *errstr, size_t errstr_size);

/* The presigned URL's whole query: tg_sigv4_presign_query's, then
 * X-Amz-Security-Token when omit_session_token, then X-Amz-Signature.
 * The secret never appears in out; the session token does (it is part of
 * a presigned URL: treat out as a secret). Returns the length or -1. */
long tg_sigv4_presign(const tg_sigv4_presign_t *ps,
                      const tg_sigv4_params_t *params, char *out,
                      size_t out_size, char *errstr, size_t errstr_size);

/* Hex SHA-256 of data into out[65]. */
void tg_sha256_hex(const void *data, size_t len, char out[65]);

#endif
