/*
 * AWS STS over its Query API, as botocore calls it: a form POST
 * (Action=AssumeRole|AssumeRoleWithWebIdentity&Version=2011-06-15&...) to
 * the STS endpoint, AssumeRole signed with SigV4 (service "sts", our own
 * signer, common/aws/sigv4.c) using the source credentials,
 * AssumeRoleWithWebIdentity unsigned (the token is the proof). The answer
 * is XML; only the few leaf elements we need are read, so a small
 * extractor does instead of an XML library (which would be a new
 * dependency on both platforms for four fields): it finds
 * <Credentials>...</Credentials> and, in it, the elements by name, and
 * decodes the five predefined entities (any other '&' is refused). Replies
 * are capped at TG_CREDS_HTTP_BODY_MAX.
 */
#include "creds_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

#define FORM_MAX (TG_CREDS_WEB_TOKEN_MAX * 3 + 8192)

/* ---- the XML reply ----------------------------------------------------- */

/* The content of the first <name ...>...</name> in [p, end), or NULL. */
static const char *xml_elem(const char *p, const char *end, const char *name,
                            size_t *len)
{
        size_t n = strlen(name);
        char close[80];
        const char *c, *gt;

        snprintf(close, sizeof(close), "</%s>", name);
        while (p && p < end && (p = memchr(p, '<', (size_t)(end - p)))) {
                p++;
                if ((size_t)(end - p) > n && !memcmp(p, name, n) &&
                    (p[n] == '>' || p[n] == ' ' || p[n] == '\t' ||
                     p[n] == '\n' || p[n] == '\r')) {
                        gt = memchr(p, '>', (size_t)(end - p));
                        if (!gt)
                                return NULL;
                        gt++;
                        for (c = gt; c + strlen(close) <= end; c++)
                                if (!memcmp(c, close, strlen(close))) {
                                        *len = (size_t)(c - gt);
                                        return gt;
                                }
                        return NULL;
                }
        }
        return NULL;
}

/* Decodes text with the five predefined entities into dst. -1 when it does
 * not fit or holds another '&' or a '<'. */
static int xml_text(const char *s, size_t len, char *dst, size_t size)
{
        static const struct {
                const char *ent;
                char c;
        } ents[] = {{"&amp;", '&'},
                    {"&lt;", '<'},
                    {"&gt;", '>'},
                    {"&quot;", '"'},
                    {"&apos;", '\''}};
        size_t o = 0, i = 0, k;

        while (i < len) {
                char c = s[i];
                size_t step = 1;

                if (c == '<')
                        return -1;
                if (c == '&') {
                        for (k = 0; k < 5; k++) {
                                size_t el = strlen(ents[k].ent);
                                if (len - i >= el &&
                                    !memcmp(s + i, ents[k].ent, el))
                                        break;
                        }
                        if (k == 5)
                                return -1;
                        c = ents[k].c;
                        step = strlen(ents[k].ent);
                }
                if (o + 1 >= size)
                        return -1;
                dst[o++] = c;
                i += step;
        }
        dst[o] = '\0';
        return 0;
}

static int xml_field(const char *p, const char *end, const char *name,
                     char *dst, size_t size)
{
        size_t len = 0;
        const char *v = xml_elem(p, end, name, &len);

        return v ? xml_text(v, len, dst, size) : -1;
}

static void sts_error(const char *xml, size_t len, long status, char *errstr,
                      size_t errstr_size)
{
        const char *end = xml + len, *e;
        char code[128] = "", msg[512] = "";
        size_t elen = 0;
        char *cut;

        e = xml_elem(xml, end, "Error", &elen);
        if (e) {
                xml_field(e, e + elen, "Code", code, sizeof(code));
                xml_field(e, e + elen, "Message", msg, sizeof(msg));
        }
        /* A signature mismatch may be explained with the canonical
         * request, which holds the session token: never repeat that. */
        if ((cut = strstr(msg, "The Canonical String")))
                *cut = '\0';
        snprintf(errstr, errstr_size, "HTTP status %ld%s%s%s%.300s", status,
                 *code ? ", " : "", code, *msg ? ": " : "", msg);
}

int tg_creds_sts_parse(const char *xml, size_t len, long status,
                       tg_creds_snapshot_t *out, char *errstr,
                       size_t errstr_size)
{
        const char *end = xml + len, *c;
        size_t clen = 0;

        if (status != 200) {
                sts_error(xml, len, status, errstr, errstr_size);
                return -1;
        }
        c = xml_elem(xml, end, "Credentials", &clen);
        if (!c ||
            xml_field(c, c + clen, "AccessKeyId", out->access_key_id,
                      sizeof(out->access_key_id)) ||
            xml_field(c, c + clen, "SecretAccessKey", out->secret_access_key,
                      sizeof(out->secret_access_key)) ||
            xml_field(c, c + clen, "SessionToken", out->session_token,
                      sizeof(out->session_token)) ||
            xml_field(c, c + clen, "Expiration", out->expiration,
                      sizeof(out->expiration)) ||
            !*out->access_key_id || !*out->secret_access_key) {
                snprintf(errstr, errstr_size,
                         "reply lacks Credentials (AccessKeyId, "
                         "SecretAccessKey, SessionToken, Expiration), or one "
                         "is too long");
                return -1;
        }
        if (tg_creds_parse_time(out->expiration, &out->expires_at)) {
                snprintf(errstr, errstr_size,
                         "reply has a malformed "
                         "Expiration");
                return -1;
        }
        return 0;
}

/* ---- the request ------------------------------------------------------- */

static int form_add(char *form, size_t size, const char *key, const char *val)
{
        size_t n = strlen(form);
        long enc;

        if (!val || !*val)
                return 0;
        if (n + strlen(key) + 3 >= size)
                return -1;
        n += (size_t)snprintf(form + n, size - n, "%s%s=", n ? "&" : "", key);
        enc = tg_sigv4_uri_encode(val, strlen(val), 0, form + n, size - n);
        return enc < 0 ? -1 : 0;
}

static int build_form(const tg_creds_src_t *s, const char *web_token,
                      char *form, size_t size)
{
        char dur[16] = "", name[96];

        if (s->duration_s > 0)
                snprintf(dur, sizeof(dur), "%d", s->duration_s);
        if (s->session_name[0])
                snprintf(name, sizeof(name), "%s", s->session_name);
        else
                snprintf(name, sizeof(name), "tollgate-session-%lld",
                         (long long)time(NULL));
        form[0] = '\0';
        return form_add(form, size, "Action",
                        web_token ? "AssumeRoleWithWebIdentity"
                                  : "AssumeRole") ||
               form_add(form, size, "Version", "2011-06-15") ||
               form_add(form, size, "RoleArn", s->role_arn) ||
               form_add(form, size, "RoleSessionName", name) ||
               form_add(form, size, "WebIdentityToken", web_token) ||
               form_add(form, size, "DurationSeconds", dur) ||
               form_add(form, size, "ExternalId", s->external_id);
}

/* Host header value (with a non-default port, as curl sends it) and path
 * of the endpoint URL. */
static int url_parts(const char *url, char *host, size_t hsize, char *path,
                     size_t psize)
{
        CURLU *u = curl_url();
        char *h = NULL, *port = NULL, *p = NULL, *scheme = NULL;
        int ok = 0;

        if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK) {
                curl_url_get(u, CURLUPART_PORT, &port, 0);
                if (port &&
                    ((!strcmp(scheme, "https") && strcmp(port, "443")) ||
                     (!strcmp(scheme, "http") && strcmp(port, "80"))))
                        ok = snprintf(host, hsize, "%s:%s", h, port) <
                             (int)hsize;
                else
                        ok = snprintf(host, hsize, "%s", h) < (int)hsize;
                ok = ok && snprintf(path, psize, "%s", p) < (int)psize;
        }
        curl_free(h);
        curl_free(port);
        curl_free(p);
        curl_free(scheme);
        curl_url_cleanup(u);
        return ok ? 0 : -1;
}

typedef struct sts_hdrs {
        char host[300], date[17], authz[2100];
        char token[TG_CREDS_TOKEN_MAX + 32];
        char host_line[320], date_line[40];
        const char *lines[8];
} sts_hdrs_t;

#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

static int sign(const tg_creds_src_t *s, const tg_creds_snapshot_t *with,
                const char *form, sts_hdrs_t *h, char *errstr,
                size_t errstr_size)
{
        char path[1024];
        tg_sigv4_header_t sh[4];
        tg_sigv4_result_t res;
        size_t n = 0;
        tg_sigv4_request_t rq = {.method = "POST", .body = form};
        tg_sigv4_params_t p = {.access_key_id = with->access_key_id,
                               .secret_access_key = with->secret_access_key,
                               .region = s->region,
                               .service = "sts",
                               .amz_date = h->date};

        if (url_parts(s->sts_url, h->host, sizeof(h->host), path,
                      sizeof(path))) {
                snprintf(errstr, errstr_size,
                         "STS endpoint %.200s is not a "
                         "valid URL",
                         s->sts_url);
                return -1;
        }
        tg_sigv4_amz_date(time(NULL), h->date);
        sh[n++] = (tg_sigv4_header_t){"content-type", CONTENT_TYPE};
        sh[n++] = (tg_sigv4_header_t){"host", h->host};
        sh[n++] = (tg_sigv4_header_t){"x-amz-date", h->date};
        if (with->session_token[0])
                sh[n++] = (tg_sigv4_header_t){"x-amz-security-token",
                                              with->session_token};
        rq.path = path;
        rq.headers = sh;
        rq.n_headers = n;
        rq.body_len = strlen(form);
        if (tg_sigv4_sign(&rq, &p, &res, errstr, errstr_size))
                return -1;
        snprintf(h->authz, sizeof(h->authz), "Authorization: %s",
                 res.authorization);
        snprintf(h->date_line, sizeof(h->date_line), "X-Amz-Date: %s", h->date);
        snprintf(h->token, sizeof(h->token), "X-Amz-Security-Token: %s",
                 with->session_token);
        tg_secret_wipe(&res, sizeof(res));
        return 0;
}

static int post(const tg_creds_src_t *s, const char *form, sts_hdrs_t *h,
                int signed_, tg_creds_snapshot_t *out, char *errstr,
                size_t errstr_size)
{
        tg_creds_http_req_t rq = {.what = "STS",
                                  .method = "POST",
                                  .url = s->sts_url,
                                  .headers = h->lines,
                                  .body = form,
                                  .body_len = strlen(form),
                                  .timeout_ms = s->timeout_ms,
                                  .cap = TG_CREDS_HTTP_BODY_MAX};
        char *body = NULL;
        size_t len = 0, n = 0;
        long status = 0;
        int ret;

        h->lines[n++] = "Content-Type: " CONTENT_TYPE;
        h->lines[n++] = "Accept: text/xml";
        if (signed_) {
                h->lines[n++] = h->date_line;
                h->lines[n++] = h->authz;
                if (strlen(h->token) > strlen("X-Amz-Security-Token: "))
                        h->lines[n++] = h->token;
        }
        h->lines[n] = NULL;
        ret = tg_creds_http(&rq, &body, &len, &status, errstr, errstr_size);
        if (ret == 0)
                ret = tg_creds_sts_parse(body, len, status, out, errstr,
                                         errstr_size);
        if (body) {
                tg_secret_wipe(body, len);
                free(body);
        }
        return ret;
}

int tg_creds_sts_fetch(const tg_creds_src_t *s, const tg_creds_snapshot_t *with,
                       tg_creds_snapshot_t *out, char *errstr,
                       size_t errstr_size)
{
        char *form = malloc(FORM_MAX), *tok = NULL;
        sts_hdrs_t *h = calloc(1, sizeof(*h));
        char err[400] = "";
        int ret = -1;

        tg_secret_wipe(out, sizeof(*out));
        if (!form || !h || (!with && !(tok = malloc(TG_CREDS_WEB_TOKEN_MAX)))) {
                snprintf(err, sizeof(err), "out of memory");
                goto done;
        }
        if (tok && tg_creds_read_token_file(
                       s->path, tok, TG_CREDS_WEB_TOKEN_MAX, err, sizeof(err)))
                goto done;
        if (build_form(s, tok, form, FORM_MAX)) {
                snprintf(err, sizeof(err), "request too long");
                goto done;
        }
        if (with && sign(s, with, form, h, err, sizeof(err)))
                goto done;
        ret = post(s, form, h, with != NULL, out, err, sizeof(err));
done:
        if (ret < 0)
                snprintf(errstr, errstr_size, "STS %s (%.200s): %s",
                         with ? "AssumeRole" : "AssumeRoleWithWebIdentity",
                         s->role_arn, err);
        if (form) {
                tg_secret_wipe(form, FORM_MAX);
                free(form);
        }
        if (tok) {
                tg_secret_wipe(tok, TG_CREDS_WEB_TOKEN_MAX);
                free(tok);
        }
        if (h) {
                tg_secret_wipe(h, sizeof(*h));
                free(h);
        }
        if (ret < 0)
                tg_secret_wipe(out, sizeof(*out));
        return ret;
}
