/*
 * The Amazon MSK IAM authentication token, as AWS's signer
 * (aws-msk-iam-sasl-signer-python 1.0.2, MSKAuthTokenProvider) makes it:
 * a SigV4-presigned
 *   GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect
 * (service "kafka-cluster", only the host header signed, X-Amz-Expires the
 * lifetime, the session token signed in the query), with
 * "&User-Agent=aws-msk-iam-sasl-signer-python%2F1.0.2" appended unsigned,
 * the whole URL base64url-encoded without padding. Its expiry is the signing
 * time plus the lifetime, in milliseconds. Byte for byte equal to that
 * signer's output for the same credentials, region and second
 * (tests/integration/test_msk_iam.py).
 *
 * We write the signer's own User-Agent: the token is that signer's format,
 * and brokers only log the field. Pure functions: no I/O, no globals. The
 * token holds the access key id, the session token and a signature: never
 * log it (tollgate-ledger msk-token is the one place that prints it).
 */
#ifndef TG_AWS_MSK_TOKEN_H
#define TG_AWS_MSK_TOKEN_H

#include <stdint.h>
#include <time.h>

#include "creds.h"

#define TG_MSK_TOKEN_LIFETIME_DEFAULT 900 /* s, the Python signer's */
#define TG_MSK_TOKEN_LIFETIME_MIN     1
#define TG_MSK_TOKEN_LIFETIME_MAX     3600 /* s; MSK caps sessions anyway */
#define TG_MSK_TOKEN_USER_AGENT       "aws-msk-iam-sasl-signer-python/1.0.2"
/* URL at most ~17.5 KB with the largest session token; base64 4/3 of it. */
#define TG_MSK_TOKEN_MAX 24576

typedef struct tg_msk_token {
        char value[TG_MSK_TOKEN_MAX]; /* base64url, no padding, NUL-ended */
        int64_t expires_ms;           /* Unix epoch milliseconds */
} tg_msk_token_t;

/* Signs a token at `now` (seconds) for `region` ("us-east-1") valid for
 * lifetime_s (TG_MSK_TOKEN_LIFETIME_MIN-MAX) with SigV4 credentials (a
 * bearer-only snapshot is refused). Returns 0, or -1 with errstr, which
 * never holds a secret. Wipe out with tg_secret_wipe() when done. */
int tg_msk_token_make(const char *region, const tg_creds_snapshot_t *creds,
                      time_t now, long lifetime_s, tg_msk_token_t *out,
                      char *errstr, size_t errstr_size);

#endif
