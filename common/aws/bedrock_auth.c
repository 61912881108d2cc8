/*
 * Authentication headers for Bedrock runtime calls. See bedrock_auth.h.
 */
#include "bedrock_auth.h"

#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONTENT_TYPE "application/json"

long tg_bedrock_model_path(const char *model_id, const char *operation,
                           char *out, size_t out_size)
{
        size_t i, op_len = operation ? strlen(operation) : 0;
        size_t pre = strlen("/model/");
        long n;

        for (i = 0; i < op_len; i++)
                if (!((operation[i] >= 'a' && operation[i] <= 'z') ||
                      operation[i] == '-'))
                        return -1;
        /* "." and ".." are the only ids whose encoding is still a dot
         * segment, which curl and servers would resolve away. */
        if (!op_len || !model_id || !*model_id || !strcmp(model_id, ".") ||
            !strcmp(model_id, "..") || out_size < pre + 1)
                return -1;
        memcpy(out, "/model/", pre + 1);
        n = tg_sigv4_uri_encode(model_id, strlen(model_id), 0, out + pre,
                                out_size - pre);
        if (n < 0 || pre + (size_t)n + 1 + op_len >= out_size)
                return -1;
        out[pre + n] = '/';
        memcpy(out + pre + n + 1, operation, op_len + 1);
        return (long)(pre + n + 1 + op_len);
}

static int default_port(const char *scheme, const char *port)
{
        return (!strcasecmp(scheme, "https") && !strcmp(port, "443")) ||
               (!strcasecmp(scheme, "http") && !strcmp(port, "80"));
}

int tg_bedrock_auth_host(const char *url, char *out, size_t out_size)
{
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL;
        int n = -1;

        if (u && strlen(url) <= 4096 &&
            curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
                /* Without CURLU_DEFAULT_PORT only an explicit port comes
                 * back; curl still drops it from Host when it is the
                 * default. */
                curl_url_get(u, CURLUPART_PORT, &port, 0);
                if (port && !default_port(scheme, port))
                        n = snprintf(out, out_size, "%s:%s", host, port);
                else
                        n = snprintf(out, out_size, "%s", host);
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

/* Appends one "Name: value" line; the temporary copy (on the stack unless
 * long: this runs 3-4 times per request) is wiped since the value may be a
 * secret. NULL (list freed) on failure. */
static struct curl_slist *add_line(struct curl_slist *l, const char *name,
                                   const char *value)
{
        char stack[2400];
        size_t nn = strlen(name), vn = strlen(value), n = nn + 2 + vn + 1;
        struct curl_slist *r = NULL;
        char *line = n <= sizeof(stack) ? stack : malloc(n);

        if (line) {
                memcpy(line, name, nn);
                memcpy(line + nn, ": ", 2);
                memcpy(line + nn + 2, value, vn + 1);
                r = curl_slist_append(l, line);
                tg_secret_wipe(line, n);
                if (line != stack)
                        free(line);
        }
        if (!r)
                tg_bedrock_auth_free(l);
        return r;
}

void tg_bedrock_auth_free(struct curl_slist *headers)
{
        struct curl_slist *it;

        for (it = headers; it; it = it->next)
                tg_secret_wipe(it->data, strlen(it->data));
        curl_slist_free_all(headers);
}

static int sign(const tg_creds_snapshot_t *cr, const tg_bedrock_auth_req_t *rq,
                const char *amz_date, tg_sigv4_result_t *res, char *errstr,
                size_t errstr_size)
{
        char path[TG_SIGV4_MAX_PATH + 1];
        const char *q = strchr(rq->path, '?');
        size_t plen = q ? (size_t)(q - rq->path) : strlen(rq->path);
        tg_sigv4_header_t h[4] = {{"content-type", CONTENT_TYPE},
                                  {"host", rq->host},
                                  {"x-amz-date", amz_date},
                                  {"x-amz-security-token", cr->session_token}};
        tg_sigv4_request_t sreq = {
            .method = rq->method,
            .path = path,
            .query = q ? q + 1 : NULL,
            .headers = h,
            .n_headers = cr->session_token[0] ? 4 : 3,
            .body = rq->body,
            .body_len = rq->body_len,
        };
        tg_sigv4_params_t params = {
            .access_key_id = cr->access_key_id,
            .secret_access_key = cr->secret_access_key,
            .region = rq->region,
            .service = TG_BEDROCK_SIGNING_NAME,
            .amz_date = amz_date,
        };

        if (plen > TG_SIGV4_MAX_PATH) {
                snprintf(errstr, errstr_size, "bedrock auth: path too long");
                return -1;
        }
        memcpy(path, rq->path, plen);
        path[plen] = '\0';
        return tg_sigv4_sign(&sreq, &params, res, errstr, errstr_size);
}

static struct curl_slist *sigv4_headers(const tg_creds_snapshot_t *cr,
                                        const tg_bedrock_auth_req_t *rq,
                                        char *errstr, size_t errstr_size)
{
        tg_sigv4_result_t res;
        struct curl_slist *l = NULL;
        char amz_date[17];

        tg_sigv4_amz_date(rq->now, amz_date);
        if (sign(cr, rq, amz_date, &res, errstr, errstr_size) < 0)
                return NULL;
        l = add_line(NULL, "Content-Type", CONTENT_TYPE);
        if (l)
                l = add_line(l, "X-Amz-Date", amz_date);
        if (l && cr->session_token[0])
                l = add_line(l, "X-Amz-Security-Token", cr->session_token);
        if (l)
                l = add_line(l, "Authorization", res.authorization);
        if (!l)
                snprintf(errstr, errstr_size, "bedrock auth: out of memory");
        return l;
}

static struct curl_slist *bearer_headers(const tg_creds_snapshot_t *cr,
                                         char *errstr, size_t errstr_size)
{
        static const char prefix[] = "Bearer ";
        char value[sizeof(prefix) + TG_CREDS_BEARER_MAX];
        struct curl_slist *l;
        const char *t;

        for (t = cr->bearer_token; *t; t++) {
                if ((unsigned char)*t <= ' ' || *t == 0x7f) {
                        snprintf(errstr, errstr_size,
                                 "bedrock auth: bearer token holds "
                                 "whitespace or control characters");
                        return NULL;
                }
        }
        snprintf(value, sizeof(value), "%s%s", prefix, cr->bearer_token);
        l = add_line(NULL, "Content-Type", CONTENT_TYPE);
        if (l)
                l = add_line(l, "Authorization", value);
        tg_secret_wipe(value, sizeof(value));
        if (!l)
                snprintf(errstr, errstr_size, "bedrock auth: out of memory");
        return l;
}

struct curl_slist *tg_bedrock_auth_headers(const tg_creds_snapshot_t *creds,
                                           const tg_bedrock_auth_req_t *req,
                                           char *errstr, size_t errstr_size)
{
        if (!req->region || !req->host || !req->method || !req->path ||
            !*req->host) {
                snprintf(errstr, errstr_size,
                         "bedrock auth: region, host, method and path are "
                         "required");
                return NULL;
        }
        if (creds->bearer_token[0])
                return bearer_headers(creds, errstr, errstr_size);
        if (creds->access_key_id[0] && creds->secret_access_key[0])
                return sigv4_headers(creds, req, errstr, errstr_size);
        snprintf(errstr, errstr_size, "bedrock auth: no credentials");
        return NULL;
}
