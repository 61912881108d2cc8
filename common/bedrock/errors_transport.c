/*
 * Classifying transfers that failed below HTTP (curl errors).
 *
 * The question is always the same: could Bedrock have run the model, and so
 * billed it? A Converse response only starts once generation is done, so a
 * success status that arrived means it did; a failure before the request
 * left means it did not.
 */
#include "errors.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static void set(tg_bedrock_error_t *out, const char *type, int retryable,
                int billing_unknown, const char *what)
{
        snprintf(out->type, sizeof(out->type), "%s", type);
        out->retryable = retryable;
        out->billing_unknown = billing_unknown;
        snprintf(out->message, sizeof(out->message), "%s (curl: %s)", what,
                 curl_easy_strerror((CURLcode)out->curl_code));
}

/* The connection broke around a request that may or may not have arrived.
 * Most often it is a pooled keep-alive connection the far end had already
 * closed (curl then reports "got nothing" or a send/recv error at once), so
 * these are retried like the SDKs do. */
static int is_connection_error(int code)
{
        switch (code) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return 1;
        default:
                return 0;
        }
}

void tg_bedrock_classify_transport(int curl_code, long http_status,
                                   int request_sent, tg_bedrock_error_t *out)
{
        memset(out, 0, sizeof(*out));
        out->curl_code = curl_code;
        out->http_status = http_status;
        if (http_status >= 200 && http_status < 300)
                /* The answer was generated and is billed; asking again
                 * would pay twice for it. */
                set(out, "IncompleteResponse", 0, 1,
                    "the response broke off after a success status");
        else if (curl_code == CURLE_OPERATION_TIMEDOUT && !request_sent)
                set(out, "ConnectTimeout", 1, 0,
                    "timed out before the request was sent");
        else if (curl_code == CURLE_OPERATION_TIMEDOUT)
                /* Bedrock keeps generating after we hang up and bills for
                 * it; a retry of a long generation would double the bill.
                 * billing_unknown tells settlement to keep the reservation. */
                set(out, "RequestTimeout", 0, 1,
                    "timed out after the request was sent; Bedrock may still "
                    "run and bill it");
        else if (is_connection_error(curl_code))
                set(out, "ConnectionError", 1, 0,
                    "the connection failed before a response");
        else
                set(out, "TransportError", 0, 0, "the transfer failed");
}
