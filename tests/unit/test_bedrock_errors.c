/*
 * Bedrock error classification and the completion `reason`.
 */
#include <curl/curl.h>
#include <string.h>

#include "bedrock/errors.h"
#include "tg_test.h"

static const char coral[] =
    ":http://internal.amazon.com/coral/com.amazon.bedrock/";

/* Classifies an error response whose header is "<type>:http://..." and
 * whose body is {"message": "<type> happened"}. */
static tg_bedrock_error_t typed(long status, const char *type)
{
        char header[256], body[256];
        tg_bedrock_error_t e;

        snprintf(header, sizeof(header), "%s%s", type, coral);
        snprintf(body, sizeof(body), "{\"message\":\"%s happened\"}", type);
        tg_bedrock_classify(status, header, body, strlen(body), CURLE_OK, &e);
        return e;
}

static void check_typed(long status, const char *type, int retryable,
                        int throttled)
{
        tg_bedrock_error_t e = typed(status, type);
        char msg[256];

        snprintf(msg, sizeof(msg), "%s happened", type);
        CHECK_STR(e.type, type);
        CHECK_STR(e.message, msg);
        CHECK_INT(e.http_status, status);
        CHECK_INT(e.curl_code, 0);
        CHECK_INT(e.billing_unknown, 0);
        if (e.retryable != retryable || e.throttled != throttled)
                fprintf(stderr, "%s: retryable %d throttled %d\n", type,
                        e.retryable, e.throttled);
        CHECK_INT(e.retryable, retryable);
        CHECK_INT(e.throttled, throttled);
}

static void test_documented_types(void)
{
        check_typed(429, "ThrottlingException", 1, 1);
        check_typed(429, "ModelNotReadyException", 1, 1);
        check_typed(500, "InternalServerException", 1, 0);
        check_typed(503, "ServiceUnavailableException", 1, 1);
        check_typed(400, "ValidationException", 0, 0);
        check_typed(403, "AccessDeniedException", 0, 0);
        check_typed(404, "ResourceNotFoundException", 0, 0);
        check_typed(408, "ModelTimeoutException", 0, 0);
        check_typed(424, "ModelErrorException", 0, 0);
        check_typed(400, "ServiceQuotaExceededException", 0, 0);
        check_typed(403, "UnrecognizedClientException", 0, 0);
        check_typed(403, "InvalidSignatureException", 0, 0);
        /* Unknown types: the status decides. */
        check_typed(400, "SomethingNewException", 0, 0);
        check_typed(409, "ConflictException", 0, 0);
        check_typed(500, "SomethingNewException", 1, 0);
        check_typed(502, "SomethingNewException", 1, 0);
}

static void test_reason(void)
{
        tg_bedrock_error_t e;
        const char body[] = "{\"message\":\"Too many requests, please wait "
                            "before trying again.\"}";
        char reason[600], small[8];

        tg_bedrock_classify(429,
                            "ThrottlingException:http://internal.amazon.com/"
                            "coral/com.amazon.bedrock/",
                            body, strlen(body), CURLE_OK, &e);
        CHECK_INT(tg_bedrock_reason(&e, reason, sizeof(reason)),
                  strlen(reason));
        CHECK_STR(reason, "ThrottlingException: Too many requests, please "
                          "wait before trying again.");
        CHECK_INT(tg_bedrock_reason(&e, small, sizeof(small)), 7);
        CHECK_STR(small, "Throttl");
        CHECK_INT(tg_bedrock_reason(&e, small, 0), -1);
        /* No message: just the type. */
        e.message[0] = '\0';
        tg_bedrock_reason(&e, reason, sizeof(reason));
        CHECK_STR(reason, "ThrottlingException");
        /* Never a split character: "X: é" in 5 bytes keeps "X: ". */
        snprintf(e.type, sizeof(e.type), "X");
        snprintf(e.message, sizeof(e.message), "\xc3\xa9\xc3\xa9");
        CHECK_INT(tg_bedrock_reason(&e, small, 5), 3);
        CHECK_STR(small, "X: ");
        CHECK_INT(tg_bedrock_reason(&e, small, 6), 5);
        CHECK_STR(small, "X: \xc3\xa9");
}

static tg_bedrock_error_t classify(long status, const char *header,
                                   const char *body)
{
        tg_bedrock_error_t e;

        tg_bedrock_classify(status, header, body, body ? strlen(body) : 0,
                            CURLE_OK, &e);
        return e;
}

static void test_type_sources(void)
{
        tg_bedrock_error_t e;

        /* Body __type with a namespace, then `code`, `Message`. */
        e = classify(400, NULL,
                     "{\"__type\":\"com.amazon.coral.validate#"
                     "ValidationException\",\"message\":\"bad input\"}");
        CHECK_STR(e.type, "ValidationException");
        CHECK_STR(e.message, "bad input");
        e = classify(429, NULL,
                     "{\"code\":\"ThrottlingException\","
                     "\"Message\":\"slow down\"}");
        CHECK_STR(e.type, "ThrottlingException");
        CHECK_STR(e.message, "slow down");
        CHECK_INT(e.retryable, 1);
        /* The header wins over the body. */
        e = classify(400, "ValidationException",
                     "{\"__type\":\"ThrottlingException\"}");
        CHECK_STR(e.type, "ValidationException");
        CHECK_INT(e.retryable, 0);
        /* Spaces around the header value are not part of the type. */
        e = classify(429, "  ThrottlingException  ", NULL);
        CHECK_STR(e.type, "ThrottlingException");
        CHECK_STR(e.message, "HTTP 429");
        /* A header that is not an identifier is ignored. */
        e = classify(400, "Bad Type<script>", "{\"__type\":\"X#Y\"}");
        CHECK_STR(e.type, "Y");
        e = classify(400,
                     "AVeryLongTypeNameThatGoesOnAndOnAndOnAndOnAndOnAndOn"
                     "AndOnAndOnAndOn",
                     NULL);
        CHECK_STR(e.type, "BadRequest");
        e = classify(400, "", NULL);
        CHECK_STR(e.type, "BadRequest");
}

static void check_status(long status, const char *type, int retryable,
                         int throttled)
{
        tg_bedrock_error_t e = classify(status, NULL, NULL);
        char msg[32];

        snprintf(msg, sizeof(msg), "HTTP %ld", status);
        CHECK_STR(e.type, type);
        CHECK_STR(e.message, msg);
        CHECK_INT(e.retryable, retryable);
        CHECK_INT(e.throttled, throttled);
}

static void test_status_only(void)
{
        check_status(400, "BadRequest", 0, 0);
        check_status(403, "Forbidden", 0, 0);
        check_status(404, "NotFound", 0, 0);
        check_status(408, "HttpRequestTimeout", 0, 0);
        check_status(418, "Http418", 0, 0);
        check_status(429, "TooManyRequests", 1, 1);
        check_status(500, "InternalServerError", 1, 0);
        check_status(502, "BadGateway", 1, 0);
        check_status(503, "ServiceUnavailable", 1, 1);
        check_status(504, "GatewayTimeout", 1, 0);
        check_status(501, "Http501", 0, 0);
}

static void test_messages(void)
{
        tg_bedrock_error_t e;
        char body[2048], *p;
        size_t n;

        /* A proxy's HTML page: printable ASCII, spaces folded, bad bytes
         * replaced. */
        e = classify(502, NULL,
                     "<html>\r\n\r\n<body>502 Bad\tGateway\xff</body>\n");
        CHECK_STR(e.type, "BadGateway");
        CHECK_STR(e.message, "<html> <body>502 Bad Gateway?</body>");
        CHECK_INT(e.retryable, 1);
        /* Control characters from JSON become spaces. */
        e = classify(400, "ValidationException",
                     "{\"message\":\"a\\nb\\tc\\u0001\"}");
        CHECK_STR(e.message, "a b c ");
        /* 600 two-byte characters: cut on a character boundary. */
        p = body + snprintf(body, sizeof(body), "{\"message\":\"");
        for (int i = 0; i < 600; i++) {
                *p++ = '\xc3';
                *p++ = '\xa9';
        }
        strcpy(p, "\"}");
        e = classify(400, "ValidationException", body);
        n = strlen(e.message);
        CHECK_INT(n, 510);
        CHECK((unsigned char)e.message[n - 2] == 0xc3);
        /* Non-string message, array body, empty body: status text. */
        e = classify(400, "ValidationException", "{\"message\":42}");
        CHECK_STR(e.message, "HTTP 400");
        e = classify(400, "ValidationException", "[]");
        CHECK_STR(e.message, "HTTP 400");
        e = classify(400, "ValidationException", "");
        CHECK_STR(e.message, "HTTP 400");
}

static void test_huge_body(void)
{
        static char body[TG_BEDROCK_ERROR_BODY_MAX + 64];
        tg_bedrock_error_t e;
        int n = snprintf(body, sizeof(body),
                         "{\"__type\":\"ThrottlingException\","
                         "\"message\":\"");

        memset(body + n, 'x', sizeof(body) - (size_t)n);
        memcpy(body + sizeof(body) - 3, "\"}", 3);
        tg_bedrock_classify(429, NULL, body, strlen(body), CURLE_OK, &e);
        /* Not parsed: the type comes from the status. */
        CHECK_STR(e.type, "TooManyRequests");
        CHECK_STR(e.message, "HTTP 429");
        CHECK_INT(e.retryable, 1);
}

static void check_transport(int code, long status, int sent, const char *type,
                            int retryable, int billing)
{
        tg_bedrock_error_t e;

        if (sent)
                tg_bedrock_classify(status, NULL, NULL, 0, code, &e);
        else
                tg_bedrock_classify_transport(code, status, 0, &e);
        CHECK_STR(e.type, type);
        CHECK_INT(e.retryable, retryable);
        CHECK_INT(e.billing_unknown, billing);
        CHECK_INT(e.curl_code, code);
        CHECK_INT(e.http_status, status);
        CHECK(strstr(e.message, "curl: ") != NULL);
}

static void test_transport(void)
{
        check_transport(CURLE_COULDNT_CONNECT, 0, 1, "ConnectionError", 1, 0);
        check_transport(CURLE_COULDNT_RESOLVE_HOST, 0, 1, "ConnectionError", 1,
                        0);
        check_transport(CURLE_SEND_ERROR, 0, 1, "ConnectionError", 1, 0);
        check_transport(CURLE_RECV_ERROR, 0, 1, "ConnectionError", 1, 0);
        check_transport(CURLE_GOT_NOTHING, 0, 1, "ConnectionError", 1, 0);
        check_transport(CURLE_PARTIAL_FILE, 0, 1, "ConnectionError", 1, 0);
        check_transport(CURLE_SSL_CONNECT_ERROR, 0, 1, "ConnectionError", 1, 0);
        /* A timeout after sending may still be billed: never retried. */
        check_transport(CURLE_OPERATION_TIMEDOUT, 0, 1, "RequestTimeout", 0, 1);
        check_transport(CURLE_OPERATION_TIMEDOUT, 0, 0, "ConnectTimeout", 1, 0);
        /* A success status arrived: generated and billed. */
        check_transport(CURLE_PARTIAL_FILE, 200, 1, "IncompleteResponse", 0, 1);
        check_transport(CURLE_RECV_ERROR, 200, 1, "IncompleteResponse", 0, 1);
        check_transport(CURLE_OPERATION_TIMEDOUT, 200, 0, "IncompleteResponse",
                        0, 1);
        /* An error response cut short: the error was not billed. */
        check_transport(CURLE_RECV_ERROR, 503, 1, "ConnectionError", 1, 0);
        /* Our own misconfiguration fails the same way every time. */
        check_transport(CURLE_URL_MALFORMAT, 0, 1, "TransportError", 0, 0);
        check_transport(CURLE_PEER_FAILED_VERIFICATION, 0, 1, "TransportError",
                        0, 0);
}

int main(void)
{
        test_documented_types();
        test_reason();
        test_type_sources();
        test_status_only();
        test_messages();
        test_huge_body();
        test_transport();
        return tg_test_done("test_bedrock_errors");
}
