/*
 * HTTP for the credential sources (libcurl easy: these run on the refresh
 * thread or at start, never on the event loop): one capped request, and
 * the JSON answer of the container endpoint (ECS task roles, EKS Pod
 * Identity) and of IMDS.
 */
#include "creds_int.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../dynbuf.h"

static int host_allowed_http(const char *host)
{
        static const char *const link_local[] = {
            "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]", NULL};
        struct in_addr a;
        size_t i;

        for (i = 0; link_local[i]; i++)
                if (!strcasecmp(host, link_local[i]))
                        return 1;
        if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]"))
                return 1;
        return inet_pton(AF_INET, host, &a) == 1 &&
               (ntohl(a.s_addr) >> 24) == 127;
}

int tg_creds_container_url_ok(const char *url, char *errstr, size_t errstr_size)
{
        CURLU *u = NULL;
        char *scheme = NULL, *host = NULL;
        int ok = 0;

        if (strlen(url) > TG_CREDS_URL_MAX || !(u = curl_url()) ||
            curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                snprintf(errstr, errstr_size,
                         "container credentials URL is not a valid URL");
                goto err;
        }
        ok = !strcasecmp(scheme, "https") ||
             (!strcasecmp(scheme, "http") && host_allowed_http(host));
        if (!ok)
                snprintf(errstr, errstr_size,
                         "container credentials URL must be https, loopback "
                         "or 169.254.170.2/169.254.170.23/fd00:ec2::23 "
                         "(host %.64s)",
                         host);
err:
        curl_free(scheme);
        curl_free(host);
        curl_url_cleanup(u);
        return ok ? 0 : -1;
}

/* Over the cap or out of memory: 0 aborts the transfer; tg_creds_http
 * reads which from the buffer. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
        size_t n = size * nmemb;

        return tg_dynbuf_add(ud, ptr, n) ? 0 : n;
}

static void slist_wipe_free(struct curl_slist *l)
{
        struct curl_slist *it;

        for (it = l; it; it = it->next)
                tg_secret_wipe(it->data, strlen(it->data));
        curl_slist_free_all(l);
}

static struct curl_slist *slist_of(const char *const *headers)
{
        struct curl_slist *l = NULL, *n;

        for (; headers && *headers; headers++) {
                if (!(n = curl_slist_append(l, *headers))) {
                        slist_wipe_free(l);
                        return NULL;
                }
                l = n;
        }
        /* An empty list would leave curl's defaults: name one header. */
        if (!l)
                l = curl_slist_append(NULL, "Accept: */*");
        return l;
}

static void easy_setup(CURL *h, const tg_creds_http_req_t *rq,
                       struct curl_slist *hdrs, tg_dynbuf_t *b)
{
        curl_easy_setopt(h, CURLOPT_URL, rq->url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        if (rq->no_proxy)
                curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        if (rq->body) {
                curl_easy_setopt(h, CURLOPT_POST, 1L);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)rq->body_len);
        }
        if (strcmp(rq->method, "GET") && strcmp(rq->method, "POST"))
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
}

int tg_creds_http(const tg_creds_http_req_t *rq, char **out, size_t *out_len,
                  long *status, char *errstr, size_t errstr_size)
{
        struct curl_slist *hdrs = slist_of(rq->headers);
        CURL *h = curl_easy_init();
        tg_dynbuf_t b; /* holds credentials: a secret buffer */
        char why[64];
        CURLcode rc;
        int ret = -1;

        *out = NULL;
        *status = 0;
        tg_dynbuf_init_secret(&b, rq->cap);
        if (!h || !hdrs) {
                snprintf(errstr, errstr_size, "%s: out of memory", rq->what);
                goto err;
        }
        easy_setup(h, rq, hdrs, &b);
        rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        if (tg_dynbuf_error(&b))
                snprintf(errstr, errstr_size, "%s: response %s", rq->what,
                         tg_dynbuf_strerror(&b, why, sizeof(why)));
        else if (rc != CURLE_OK)
                snprintf(errstr, errstr_size, "%s unreachable at %.200s: %s",
                         rq->what, rq->url, curl_easy_strerror(rc));
        else
                ret = 0;
err:
        if (h)
                curl_easy_cleanup(h);
        slist_wipe_free(hdrs);
        if (ret == 0 && !(*out = tg_dynbuf_take(&b, out_len))) {
                snprintf(errstr, errstr_size, "%s: out of memory", rq->what);
                ret = -1;
        }
        tg_dynbuf_free(&b); /* wipes */
        return ret;
}

static const char *jstr(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

int tg_creds_parse_json(const char *what, const char *body, size_t len,
                        tg_creds_snapshot_t *out, char *errstr,
                        size_t errstr_size)
{
        const char *id, *secret, *token, *exp;
        json_t *root = json_loadb(body, len, 0, NULL);
        const char *why = NULL;

        id = jstr(root, "AccessKeyId");
        secret = jstr(root, "SecretAccessKey");
        token = jstr(root, "Token");
        exp = jstr(root, "Expiration");
        if (!json_is_object(root))
                why = "response is not a JSON object";
        else if (!id || !*id || !secret || !*secret)
                why = "response lacks AccessKeyId or SecretAccessKey";
        else if (tg_creds_copy(out->access_key_id, TG_CREDS_ID_MAX, id) ||
                 tg_creds_copy(out->secret_access_key, TG_CREDS_SECRET_MAX,
                               secret) ||
                 tg_creds_copy(out->session_token, TG_CREDS_TOKEN_MAX,
                               token ? token : ""))
                why = "a credential in the response is too long";
        else if (exp && (tg_creds_copy(out->expiration, sizeof(out->expiration),
                                       exp) ||
                         tg_creds_parse_time(exp, &out->expires_at)))
                why = "response has a malformed Expiration";
        json_decref(root);
        if (why)
                snprintf(errstr, errstr_size, "%s: %s", what, why);
        return why ? -1 : 0;
}

int tg_creds_container_fetch(const char *url, const char *auth_token,
                             long timeout_ms, tg_creds_snapshot_t *out,
                             char *errstr, size_t errstr_size)
{
        char line[TG_CREDS_AUTH_TOKEN_MAX + 32];
        const char *hdrs[3] = {"Accept: application/json", NULL, NULL};
        tg_creds_http_req_t rq = {.what = "container credentials",
                                  .method = "GET",
                                  .url = url,
                                  .headers = hdrs,
                                  .timeout_ms = timeout_ms,
                                  .no_proxy = 1,
                                  .cap = TG_CREDS_HTTP_BODY_MAX};
        char *body = NULL;
        size_t len = 0;
        long status;
        int ret = -1;

        tg_secret_wipe(out, sizeof(*out));
        if (auth_token && *auth_token) {
                snprintf(line, sizeof(line), "Authorization: %s", auth_token);
                hdrs[1] = line;
        }
        if (tg_creds_http(&rq, &body, &len, &status, errstr, errstr_size)) {
                /* nothing */
        } else if (status != 200) {
                snprintf(errstr, errstr_size,
                         "container credentials: HTTP status %ld", status);
        } else {
                ret = tg_creds_parse_json("container credentials", body, len,
                                          out, errstr, errstr_size);
        }
        tg_secret_wipe(line, sizeof(line));
        if (body) {
                tg_secret_wipe(body, len);
                free(body);
        }
        if (ret < 0)
                tg_secret_wipe(out, sizeof(*out));
        return ret;
}

static int digits(const char *s, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return 0;
        return 1;
}

static int num(const char *s, size_t n)
{
        int v = 0;

        while (n--)
                v = v * 10 + (*s++ - '0');
        return v;
}

int tg_creds_parse_time(const char *s, time_t *out)
{
        struct tm tm = {0};
        const char *p = s + 19;

        if (strlen(s) < 20 || !digits(s, 4) || s[4] != '-' ||
            !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
            (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) ||
            s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
            !digits(s + 17, 2))
                return -1;
        if (*p == '.')
                while (*++p >= '0' && *p <= '9')
                        ;
        if (strcmp(p, "Z") && strcmp(p, "z") && strcmp(p, "+00:00"))
                return -1;
        tm.tm_year = num(s, 4) - 1900;
        tm.tm_mon = num(s + 5, 2) - 1;
        tm.tm_mday = num(s + 8, 2);
        tm.tm_hour = num(s + 11, 2);
        tm.tm_min = num(s + 14, 2);
        tm.tm_sec = num(s + 17, 2);
        if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
            tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
                return -1;
        *out = timegm(&tm);
        return *out == (time_t)-1 ? -1 : 0;
}
