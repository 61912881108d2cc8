/* The MSK IAM token (msk_token.h): a presigned URL, base64url-encoded. */
#include "msk_token.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <string.h>

#include "sigv4.h"

#define MSK_SERVICE "kafka-cluster"
#define MSK_ACTION  "Action=kafka-cluster%3AConnect"
#define MSK_UA      "&User-Agent=aws-msk-iam-sasl-signer-python%2F1.0.2"

typedef struct msk_buf {
        char url[TG_MSK_TOKEN_MAX * 3 / 4 - 64];
        char host[128];
} msk_buf_t;

static int msk_fail(char *errstr, size_t size, const char *msg)
{
        snprintf(errstr, size, "msk token: %s", msg);
        return -1;
}

/* base64url without '=' padding (RFC 4648 section 5), as the signer's
 * urlsafe_b64encode(...).rstrip("="). */
static int msk_b64url(const char *in, size_t n, char *out, size_t size)
{
        size_t len, i;

        if ((n + 2) / 3 * 4 + 1 > size)
                return -1;
        len = (size_t)EVP_EncodeBlock((unsigned char *)out,
                                      (const unsigned char *)in, (int)n);
        while (len && out[len - 1] == '=')
                len--;
        out[len] = '\0';
        for (i = 0; i < len; i++)
                out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
        return 0;
}

static int msk_url(msk_buf_t *b, const char *region,
                   const tg_creds_snapshot_t *c, time_t now, long lifetime_s,
                   char *errstr, size_t size)
{
        static const char prefix_fmt[] = "https://%s/?";
        tg_sigv4_header_t h[1] = {{"host", b->host}};
        tg_sigv4_request_t req = {"GET", "/", MSK_ACTION, h, 1, "", 0, NULL};
        tg_sigv4_presign_t ps = {&req, c->session_token, 0, lifetime_s};
        char date[17];
        tg_sigv4_params_t p = {c->access_key_id,
                               c->secret_access_key,
                               region,
                               MSK_SERVICE,
                               date,
                               0,
                               0};
        int pre;
        long q;

        tg_sigv4_amz_date(now, date);
        pre = snprintf(b->url, sizeof(b->url), prefix_fmt, b->host);
        q = tg_sigv4_presign(&ps, &p, b->url + pre,
                             sizeof(b->url) - (size_t)pre, errstr, size);
        if (q < 0)
                return -1;
        if ((size_t)pre + (size_t)q + sizeof(MSK_UA) > sizeof(b->url))
                return msk_fail(errstr, size, "URL too long");
        memcpy(b->url + pre + q, MSK_UA, sizeof(MSK_UA));
        return 0;
}

static int msk_region_ok(const char *r)
{
        size_t i, n = r ? strlen(r) : 0;

        for (i = 0; i < n; i++)
                if (!((r[i] >= 'a' && r[i] <= 'z') ||
                      (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
                        return 0;
        return n > 0 && n <= 64;
}

int tg_msk_token_make(const char *region, const tg_creds_snapshot_t *creds,
                      time_t now, long lifetime_s, tg_msk_token_t *out,
                      char *errstr, size_t errstr_size)
{
        static _Thread_local msk_buf_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (!msk_region_ok(region))
                return msk_fail(errstr, errstr_size,
                                "bad region (want e.g. us-east-1)");
        if (!creds->access_key_id[0] || !creds->secret_access_key[0])
                return msk_fail(errstr, errstr_size,
                                "needs SigV4 credentials (an access key), "
                                "not a Bedrock API key");
        if (lifetime_s < TG_MSK_TOKEN_LIFETIME_MIN ||
            lifetime_s > TG_MSK_TOKEN_LIFETIME_MAX)
                return msk_fail(errstr, errstr_size,
                                "lifetime must be 1-3600 seconds");
        snprintf(b.host, sizeof(b.host), "kafka.%s.amazonaws.com", region);
        if (msk_url(&b, region, creds, now, lifetime_s, errstr, errstr_size))
                goto done;
        if (msk_b64url(b.url, strlen(b.url), out->value, sizeof(out->value))) {
                msk_fail(errstr, errstr_size, "token too long");
                goto done;
        }
        out->expires_ms = ((int64_t)now + lifetime_s) * 1000;
        rc = 0;
done:
        tg_secret_wipe(&b, sizeof(b));
        return rc;
}
