/*
 * EC2 instance metadata, IMDSv2 only: PUT /latest/api/token with
 * X-aws-ec2-metadata-token-ttl-seconds, then, with X-aws-ec2-metadata-token,
 * GET /latest/meta-data/iam/security-credentials/ (the role name) and
 * .../<role> (the JSON credentials). botocore falls back to IMDSv1 when
 * the token PUT is refused; we do not: IMDSv1 is what SSRF attacks use,
 * and an instance that still allows only it is misconfigured, which we
 * say. From a container the PUT's reply needs a hop limit of 2
 * (docs/operations.md). Token and role name are capped at
 * TG_CREDS_IMDS_SMALL_MAX bytes, the credentials at TG_CREDS_HTTP_BODY_MAX.
 */
#include "creds_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_TTL_S "21600"
#define CREDS_PATH  "latest/meta-data/iam/security-credentials/"

static int get(const tg_creds_src_t *s, const char *method, const char *path,
               const char *header, size_t cap, char **body, size_t *len,
               char *errstr, size_t errstr_size)
{
        char url[TG_CREDS_URL_MAX + 512];
        const char *hdrs[2] = {header, NULL};
        size_t n = strlen(s->url);
        tg_creds_http_req_t rq = {.what = "IMDS",
                                  .method = method,
                                  .url = url,
                                  .headers = hdrs,
                                  .timeout_ms = s->timeout_ms,
                                  .no_proxy = 1,
                                  .cap = cap};
        long status = 0;

        if ((size_t)snprintf(url, sizeof(url), "%s%s%s", s->url,
                             n && s->url[n - 1] == '/' ? "" : "/",
                             path) >= sizeof(url)) {
                snprintf(errstr, errstr_size, "IMDS: URL too long");
                return -1;
        }
        if (tg_creds_http(&rq, body, len, &status, errstr, errstr_size))
                return -1;
        if (status == 200 && *len)
                return 0;
        snprintf(errstr, errstr_size, "IMDS %s /%s: HTTP status %ld%s", method,
                 path, status,
                 !strcmp(method, "PUT")
                     ? " (IMDSv2 token refused; tollgate does not fall back "
                       "to IMDSv1)"
                 : status == 404 ? " (no IAM role attached to the instance?)"
                                 : "");
        tg_secret_wipe(*body, *len);
        free(*body);
        *body = NULL;
        return -1;
}

static void drop(char **p, size_t len)
{
        if (*p) {
                tg_secret_wipe(*p, len);
                free(*p);
                *p = NULL;
        }
}

int tg_creds_imds_fetch(const tg_creds_src_t *s, tg_creds_snapshot_t *out,
                        char *errstr, size_t errstr_size)
{
        char hdr[TG_CREDS_IMDS_SMALL_MAX + 64],
            path[TG_CREDS_IMDS_SMALL_MAX + 64];
        char *tok = NULL, *role = NULL, *body = NULL;
        size_t tlen = 0, rlen = 0, blen = 0;
        int ret = -1;

        tg_secret_wipe(out, sizeof(*out));
        if (get(s, "PUT", "latest/api/token",
                "X-aws-ec2-metadata-token-ttl-seconds: " TOKEN_TTL_S,
                TG_CREDS_IMDS_SMALL_MAX, &tok, &tlen, errstr, errstr_size))
                return -1;
        tok[strcspn(tok, "\r\n")] = '\0';
        snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", tok);
        if (get(s, "GET", CREDS_PATH, hdr, TG_CREDS_IMDS_SMALL_MAX, &role,
                &rlen, errstr, errstr_size))
                goto done;
        role[strcspn(role, "\r\n")] = '\0';
        if (!*role || strchr(role, '/') || strchr(role, '?') ||
            strchr(role, '#') || strchr(role, ' ')) {
                snprintf(errstr, errstr_size, "IMDS: bad role name");
                goto done;
        }
        snprintf(path, sizeof(path), CREDS_PATH "%s", role);
        if (get(s, "GET", path, hdr, TG_CREDS_HTTP_BODY_MAX, &body, &blen,
                errstr, errstr_size))
                goto done;
        ret = tg_creds_parse_json("IMDS", body, blen, out, errstr, errstr_size);
        if (ret == 0 && (!out->session_token[0] || !out->expires_at)) {
                snprintf(errstr, errstr_size,
                         "IMDS: credentials lack Token or Expiration");
                ret = -1;
        }
done:
        tg_secret_wipe(hdr, sizeof(hdr));
        drop(&tok, tlen);
        drop(&role, rlen);
        drop(&body, blen);
        if (ret < 0)
                tg_secret_wipe(out, sizeof(*out));
        return ret;
}
