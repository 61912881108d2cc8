/*
 * Classifying Bedrock's HTTP error responses.
 *
 * Everything here comes off the network: types are reduced to identifier
 * characters, messages are truncated on UTF-8 boundaries and stripped of
 * control characters before they reach an event or a log line.
 */
#include "errors.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

typedef struct known_type {
        const char *type;
        int retryable;
        int throttled;
} known_type_t;

/* Bedrock runtime's documented errors plus AWS's common ones. Throttling
 * and a model still loading pass with time; a validation, permission or
 * quota error fails the same way every time. ModelErrorException (424) and
 * ModelTimeoutException (408) are the model failing on this input: retrying
 * would pay again for the same failure. */
static const known_type_t known_types[] = {
    {"ThrottlingException", 1, 1},
    {"ModelNotReadyException", 1, 1},
    {"ServiceUnavailableException", 1, 1},
    {"ServiceUnavailable", 1, 1},
    {"InternalServerException", 1, 0},
    {"InternalFailure", 1, 0},
    {"ValidationException", 0, 0},
    {"AccessDeniedException", 0, 0},
    {"ResourceNotFoundException", 0, 0},
    {"ModelTimeoutException", 0, 0},
    {"ModelErrorException", 0, 0},
    {"ServiceQuotaExceededException", 0, 0},
    {"UnrecognizedClientException", 0, 0},
    {"InvalidSignatureException", 0, 0},
    {"IncompleteSignature", 0, 0},
    {"ExpiredTokenException", 0, 0},
};

static const known_type_t *known_type(const char *type)
{
        for (size_t i = 0; i < sizeof(known_types) / sizeof(*known_types); i++)
                if (strcmp(known_types[i].type, type) == 0)
                        return &known_types[i];
        return NULL;
}

/* Keeps the name out of "Type:http://...", "ns#Type" or " Type ". Returns 0
 * when a plausible identifier was found and stored. */
static int set_type(char *out, size_t size, const char *s, size_t len)
{
        const char *hash = memchr(s, '#', len), *colon;
        size_t n;

        if (hash) {
                len -= (size_t)(hash + 1 - s);
                s = hash + 1;
        }
        colon = memchr(s, ':', len);
        if (colon)
                len = (size_t)(colon - s);
        while (len && (*s == ' ' || *s == '\t'))
                s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                len--;
        if (len == 0 || len >= size)
                return -1;
        for (n = 0; n < len; n++) {
                char c = s[n];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                      c == '-'))
                        return -1;
        }
        memcpy(out, s, len);
        out[len] = '\0';
        return 0;
}

/* How many of len bytes of valid UTF-8 fit in size-1 bytes without cutting
 * a character in two. */
static size_t utf8_fit(const char *s, size_t len, size_t size)
{
        size_t n;

        if (len < size)
                return len;
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
                n--;
        return n;
}

/* Copies valid UTF-8 (a jansson string), control characters as spaces. */
static void copy_utf8(char *out, size_t size, const char *s, size_t len)
{
        size_t n = utf8_fit(s, len, size);

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        }
        out[n] = '\0';
}

/* Copies bytes of unknown encoding (a proxy's HTML page): printable ASCII
 * kept, whitespace runs as one space, any other byte '?', so the result is
 * valid UTF-8 whatever came in. */
static void copy_ascii(char *out, size_t size, const char *s, size_t len)
{
        size_t o = 0;

        for (size_t i = 0; i < len && o + 1 < size; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                        if (o && out[o - 1] != ' ')
                                out[o++] = ' ';
                } else {
                        out[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
                }
        }
        while (o && out[o - 1] == ' ')
                o--;
        out[o] = '\0';
}

static const char *string_field(json_t *obj, const char *a, const char *b)
{
        json_t *v = json_object_get(obj, a);

        if (!json_is_string(v))
                v = json_object_get(obj, b);
        return json_string_value(v);
}

/* Takes type and message from a JSON body, or a printable prefix of a body
 * that is not JSON as the message. JSON without them says nothing. */
static void from_body(const char *body, size_t len, tg_bedrock_error_t *out)
{
        json_t *root;
        const char *s;

        if (!body || !len || len > TG_BEDROCK_ERROR_BODY_MAX)
                return;
        root = json_loadb(body, len, 0, NULL);
        if (!root) {
                copy_ascii(out->message, sizeof(out->message), body, len);
                return;
        }
        s = string_field(root, "__type", "code");
        if (!out->type[0] && s)
                set_type(out->type, sizeof(out->type), s, strlen(s));
        s = string_field(root, "message", "Message");
        if (s)
                copy_utf8(out->message, sizeof(out->message), s, strlen(s));
        json_decref(root);
}

static const char *status_type(long status)
{
        switch (status) {
        case 400:
                return "BadRequest";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "NotFound";
        case 408:
                return "HttpRequestTimeout";
        case 413:
                return "PayloadTooLarge";
        case 429:
                return "TooManyRequests";
        case 500:
                return "InternalServerError";
        case 502:
                return "BadGateway";
        case 503:
                return "ServiceUnavailable";
        case 504:
                return "GatewayTimeout";
        default:
                return NULL;
        }
}

/* For a type we do not know, the status decides, as in the AWS SDKs'
 * standard retry mode: 429 and 500/502/503/504 are transient. (A 504 from a
 * gateway could hide a call that still ran; the SDKs accept that risk and
 * we follow them.) Any other 4xx is the request's fault and fails the same
 * way again. */
static void set_retry(long status, tg_bedrock_error_t *out)
{
        const known_type_t *k = known_type(out->type);

        if (k) {
                out->retryable = k->retryable;
                out->throttled = k->throttled;
                return;
        }
        out->throttled = status == 429 || status == 503;
        out->retryable =
            out->throttled || status == 500 || status == 502 || status == 504;
}

void tg_bedrock_classify(long http_status, const char *x_amzn_errortype,
                         const char *body, size_t body_len, int curl_code,
                         tg_bedrock_error_t *out)
{
        const char *derived = status_type(http_status);

        if (curl_code != 0) {
                tg_bedrock_classify_transport(curl_code, http_status, 1, out);
                return;
        }
        memset(out, 0, sizeof(*out));
        out->http_status = http_status;
        if (x_amzn_errortype)
                set_type(out->type, sizeof(out->type), x_amzn_errortype,
                         strlen(x_amzn_errortype));
        from_body(body, body_len, out);
        if (!out->type[0] && derived)
                snprintf(out->type, sizeof(out->type), "%s", derived);
        else if (!out->type[0])
                snprintf(out->type, sizeof(out->type), "Http%ld", http_status);
        if (!out->message[0])
                snprintf(out->message, sizeof(out->message), "HTTP %ld",
                         http_status);
        set_retry(http_status, out);
}

int tg_bedrock_reason(const tg_bedrock_error_t *e, char *out, size_t size)
{
        char full[sizeof(e->type) + 2 + sizeof(e->message)];
        int n;
        size_t fit;

        if (!size)
                return -1;
        if (e->message[0])
                n = snprintf(full, sizeof(full), "%s: %s", e->type, e->message);
        else
                n = snprintf(full, sizeof(full), "%s", e->type);
        if (n < 0) {
                out[0] = '\0';
                return 0;
        }
        fit = utf8_fit(full, strlen(full), size);
        memcpy(out, full, fit);
        out[fit] = '\0';
        return (int)fit;
}
