/*
 * The HTTP side of the control-plane client (bedrock_control.h): one
 * signed curl call, its capped reply, AWS's error shape, retries.
 */
#include "bedrock_control.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bedrock_auth.h"
#include "sigv4.h"
#include "tgjson.h"

struct tg_bctl {
        char endpoint[TG_BCTL_URL_MAX];
        char region[TG_BCTL_REGION_MAX];
        long timeout_ms;
        tg_creds_t *creds;
};

typedef struct reply {
        char *body;
        size_t len;
        int overflow;
        char error_type[64];
} reply_t;

tg_bctl_t *tg_bctl_new(const tg_bctl_conf_t *conf, char *errstr,
                       size_t errstr_size)
{
        tg_bctl_t *b;
        size_t n;

        if (!conf->region || !*conf->region ||
            strlen(conf->region) >= TG_BCTL_REGION_MAX || !conf->creds) {
                snprintf(errstr, errstr_size,
                         "bedrock control: a region (--region or AWS_REGION) "
                         "and credentials are required");
                return NULL;
        }
        if (!(b = calloc(1, sizeof(*b)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (conf->endpoint && *conf->endpoint)
                n = (size_t)snprintf(b->endpoint, sizeof(b->endpoint), "%s",
                                     conf->endpoint);
        else
                n = (size_t)snprintf(b->endpoint, sizeof(b->endpoint),
                                     "https://bedrock.%s.amazonaws.com",
                                     conf->region);
        if (n >= sizeof(b->endpoint) || (strncmp(b->endpoint, "https://", 8) &&
                                         strncmp(b->endpoint, "http://", 7))) {
                snprintf(errstr, errstr_size,
                         "bedrock control: endpoint must be an http(s) URL "
                         "under %d bytes",
                         TG_BCTL_URL_MAX);
                free(b);
                return NULL;
        }
        while (n > 0 && b->endpoint[n - 1] == '/')
                b->endpoint[--n] = '\0';
        snprintf(b->region, sizeof(b->region), "%s", conf->region);
        b->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 30000;
        b->creds = conf->creds;
        return b;
}

void tg_bctl_destroy(tg_bctl_t *b)
{
        free(b);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
        reply_t *r = opaque;
        size_t n = size * nmemb;
        char *grown;

        if (n > TG_BCTL_BODY_MAX - r->len) {
                r->overflow = 1;
                return 0; /* curl stops with CURLE_WRITE_ERROR */
        }
        if (!(grown = realloc(r->body, r->len + n + 1)))
                return 0;
        r->body = grown;
        memcpy(r->body + r->len, data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return n;
}

/* Keeps x-amzn-ErrorType's part before ':' (as botocore does). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *opaque)
{
        reply_t *r = opaque;
        size_t n = size * nmemb, k = strlen("x-amzn-ErrorType:"), i = 0;

        if (n > k && n < 1024 && !strncasecmp(data, "x-amzn-ErrorType:", k)) {
                const char *v = data + k;
                while (v < data + n && *v == ' ')
                        v++;
                while (v + i < data + n && v[i] != ':' && v[i] != '\r' &&
                       v[i] != '\n' && i + 1 < sizeof(r->error_type)) {
                        r->error_type[i] = v[i];
                        i++;
                }
                r->error_type[i] = '\0';
        }
        return n;
}

static void error_from_body(const reply_t *r, tg_bctl_error_t *err)
{
        json_t *o = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
        const char *t = json_string_value(json_object_get(o, "__type"));
        const char *m = json_string_value(json_object_get(o, "message"));

        if (!t)
                t = json_string_value(json_object_get(o, "code"));
        if (!m)
                m = json_string_value(json_object_get(o, "Message"));
        if (t && strchr(t, '#'))
                t = strchr(t, '#') + 1;
        snprintf(err->type, sizeof(err->type), "%s",
                 r->error_type[0] ? r->error_type
                 : t              ? t
                                  : "");
        err->type[strcspn(err->type, ":")] = '\0';
        snprintf(err->message, sizeof(err->message), "%s", m ? m : "");
        tg_utf8_sanitize(err->type);
        tg_utf8_sanitize(err->message);
        json_decref(o);
}

static struct curl_slist *sign(tg_bctl_t *b, const char *url,
                               const char *method, const char *wire_path,
                               const char *body, tg_bctl_error_t *err)
{
        tg_creds_snapshot_t snap;
        char host[TG_BEDROCK_HOST_MAX], why[256];
        struct curl_slist *h = NULL;

        if (tg_bedrock_auth_host(url, host, sizeof(host))) {
                snprintf(err->message, sizeof(err->message), "bad URL");
                return NULL;
        }
        if (tg_creds_get(b->creds, &snap)) {
                snprintf(err->message, sizeof(err->message),
                         "AWS credentials have expired (refresh failed)");
                return NULL;
        }
        tg_bedrock_auth_req_t rq = {.region = b->region,
                                    .host = host,
                                    .method = method,
                                    .path = wire_path,
                                    .body = body,
                                    .body_len = body ? strlen(body) : 0,
                                    .now = time(NULL)};
        h = tg_bedrock_auth_headers(&snap, &rq, why, sizeof(why));
        tg_secret_wipe(&snap, sizeof(snap));
        if (!h)
                snprintf(err->message, sizeof(err->message), "%s", why);
        return h;
}

/* One attempt. Returns the HTTP status, or 0 on a transport error. */
static long attempt(tg_bctl_t *b, const char *method, const char *wire_path,
                    const char *body, reply_t *r, tg_bctl_error_t *err)
{
        char url[TG_BCTL_URL_MAX + TG_SIGV4_MAX_PATH + 2];
        struct curl_slist *h;
        CURL *c;
        CURLcode rc;
        long status = 0;

        if ((size_t)snprintf(url, sizeof(url), "%s%s", b->endpoint,
                             wire_path) >= sizeof(url)) {
                snprintf(err->message, sizeof(err->message), "path too long");
                return 0;
        }
        if (!(h = sign(b, url, method, wire_path, body, err)))
                return 0;
        if (!(c = curl_easy_init())) {
                tg_bedrock_auth_free(h);
                snprintf(err->message, sizeof(err->message), "curl init");
                return 0;
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, b->timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        else
                snprintf(err->message, sizeof(err->message), "%s",
                         r->overflow ? "reply larger than 1 MiB"
                                     : curl_easy_strerror(rc));
        curl_easy_cleanup(c);
        tg_bedrock_auth_free(h);
        return status;
}

static int retryable(long status, const reply_t *r, const tg_bctl_error_t *e)
{
        (void)e;
        if (r->overflow)
                return 0;
        return status == 0 || status == 429 || status >= 500;
}

static int parse_ok(reply_t *r, json_t **out, tg_bctl_error_t *err)
{
        json_error_t jerr;

        *out = r->len
                   ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr)
                   : json_object();
        if (json_is_object(*out))
                return 0;
        json_decref(*out);
        *out = NULL;
        snprintf(err->message, sizeof(err->message),
                 "reply is not a JSON object");
        return -1;
}

int tg_bctl_call(tg_bctl_t *b, const char *method, const char *path,
                 const char *query, const char *body, json_t **out,
                 tg_bctl_error_t *err)
{
        char wire[TG_SIGV4_MAX_PATH + 1];
        long delay_ms = 200;

        *out = NULL;
        if ((size_t)snprintf(wire, sizeof(wire), "%s%s%s", path,
                             query ? "?" : "",
                             query ? query : "") >= sizeof(wire)) {
                memset(err, 0, sizeof(*err));
                snprintf(err->message, sizeof(err->message), "path too long");
                return -1;
        }
        for (int i = 1;; i++) {
                reply_t r = {0};
                long status;

                memset(err, 0, sizeof(*err));
                status = attempt(b, method, wire, body, &r, err);
                err->status = status;
                if (status >= 200 && status < 300) {
                        int rc = parse_ok(&r, out, err);
                        free(r.body);
                        return rc;
                }
                if (status)
                        error_from_body(&r, err);
                free(r.body);
                if (i >= TG_BCTL_ATTEMPTS || !retryable(status, &r, err))
                        return -1;
                struct timespec ts = {delay_ms / 1000,
                                      (delay_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
                delay_ms *= 2;
        }
}

void tg_bctl_error_str(const tg_bctl_error_t *err, char *out, size_t size)
{
        if (!err->status)
                snprintf(out, size, "no answer: %s", err->message);
        else
                snprintf(out, size, "%s (HTTP %ld)%s%s",
                         err->type[0] ? err->type : "error", err->status,
                         err->message[0] ? ": " : "", err->message);
}
