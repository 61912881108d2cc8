/*
 * Bedrock error classification: what went wrong, in words for the
 * completion event's `reason`, and whether another attempt may succeed.
 *
 * Pure functions, no I/O. Error types and status codes:
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 * https://docs.aws.amazon.com/bedrock/latest/userguide/troubleshooting-api-error-codes.html
 */
#ifndef TG_BEDROCK_ERRORS_H
#define TG_BEDROCK_ERRORS_H

#include <stddef.h>

/* Error bodies larger than this are not parsed (the message is then the
 * status text); Bedrock's are a few hundred bytes. */
#define TG_BEDROCK_ERROR_BODY_MAX (64 * 1024)

typedef struct tg_bedrock_error {
        long http_status;    /* 0 when no response arrived */
        char type[64];       /* "ThrottlingException", "RequestTimeout", ... */
        char message[512];   /* valid UTF-8, no control characters */
        int retryable;       /* another attempt may succeed */
        int curl_code;       /* CURLE_OK (0) when a response arrived */
        int throttled;       /* Bedrock asked us to slow down (429, 503):
                              * feed tg_aimd_on_throttle() */
        int billing_unknown; /* the call may have run and been billed:
                              * settle conservatively, never retry */
} tg_bedrock_error_t;

/* Classifies a failed call. For an HTTP error response pass the status, the
 * x-amzn-ErrorType header value (NULL when absent; "Type:http://..." is
 * fine, the part before ':' is kept), the body and curl_code 0. For a
 * transfer that failed (curl_code != 0) http_status is CURLINFO_RESPONSE_CODE
 * (0 when nothing arrived) and header/body may be NULL.
 *
 * The type comes from the header, else the body's `__type` or `code`, else
 * the status ("ServiceUnavailable" for a bare 503). The message comes from
 * the body's `message` or `Message`, else a printable prefix of a non-JSON
 * body, else the status line. Both are sanitized and truncated safely.
 *
 * A curl timeout (CURLE_OPERATION_TIMEDOUT) is taken to have hit after the
 * request was sent: see tg_bedrock_classify_transport() to say otherwise. */
void tg_bedrock_classify(long http_status, const char *x_amzn_errortype,
                         const char *body, size_t body_len, int curl_code,
                         tg_bedrock_error_t *out);

/* Classifies a failed transfer (curl_code != CURLE_OK). request_sent is 0
 * when the request provably never left (e.g. CURLINFO_PRETRANSFER_TIME_T is
 * 0): a timeout then is a connect timeout and retryable. */
void tg_bedrock_classify_transport(int curl_code, long http_status,
                                   int request_sent, tg_bedrock_error_t *out);

/* Formats "Type: message" (or just "Type" without a message) into out, the
 * completion event's `reason`. Truncates on a UTF-8 boundary. Returns the
 * length written, or -1 when size is 0. */
int tg_bedrock_reason(const tg_bedrock_error_t *e, char *out, size_t size);

#endif
