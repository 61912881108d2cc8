/*
 * SigV4 query presigning (sigv4.h): the X-Amz-* parameters go in the query
 * instead of an Authorization header, and the signature is appended last.
 * The parameters are written in the order botocore's SigV4QueryAuth writes
 * them, so a presigned URL (the MSK IAM token) is byte for byte the one
 * AWS's own signers make; the canonical request sorts them anyway.
 */
#include "sigv4.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PS_ALGORITHM   "AWS4-HMAC-SHA256"
#define PS_EXPIRES_MAX 604800L /* 7 days: AWS refuses longer */

static int ps_fail(char *errstr, size_t size, const char *msg)
{
        if (errstr && size)
                snprintf(errstr, size, "sigv4 presign: %s", msg);
        return -1;
}

/* Appends s (n bytes) at *o; -1 when out is full. */
static int ps_put(char *out, size_t size, size_t *o, const char *s, size_t n)
{
        if (*o + n >= size)
                return -1;
        memcpy(out + *o, s, n);
        *o += n;
        out[*o] = '\0';
        return 0;
}

/* Appends "&name=" and value percent-encoded (AWS's strict set). */
static int ps_param(char *out, size_t size, size_t *o, const char *name,
                    const char *value)
{
        long n;

        if ((*o && ps_put(out, size, o, "&", 1)) ||
            ps_put(out, size, o, name, strlen(name)) ||
            ps_put(out, size, o, "=", 1))
                return -1;
        n = tg_sigv4_uri_encode(value, strlen(value), 0, out + *o, size - *o);
        if (n < 0)
                return -1;
        *o += (size_t)n;
        return 0;
}

static int ps_name_cmp(const void *a, const void *b)
{
        return strcmp((const char *)a, (const char *)b);
}

/* "host;x-amz-foo": the lowercased header names, sorted, each once, as the
 * canonical request lists them (sigv4.c checks the names themselves). */
static int ps_signed_headers(const tg_sigv4_request_t *req, char *out,
                             size_t size)
{
        static _Thread_local char names[TG_SIGV4_MAX_HEADERS]
                                       [TG_SIGV4_MAX_HEADER_NAME + 1];
        size_t i, j, n = req->n_headers, o = 0;

        if (!n || n > TG_SIGV4_MAX_HEADERS || !req->headers)
                return -1;
        for (i = 0; i < n; i++) {
                const char *s = req->headers[i].name;
                if (!s || strlen(s) > TG_SIGV4_MAX_HEADER_NAME)
                        return -1;
                for (j = 0; s[j]; j++)
                        names[i][j] = (s[j] >= 'A' && s[j] <= 'Z')
                                          ? (char)(s[j] - 'A' + 'a')
                                          : s[j];
                names[i][j] = '\0';
        }
        qsort(names, n, sizeof(names[0]), ps_name_cmp);
        out[0] = '\0';
        for (i = 0; i < n; i++) {
                if (i && !strcmp(names[i], names[i - 1]))
                        continue;
                if ((o && ps_put(out, size, &o, ";", 1)) ||
                    ps_put(out, size, &o, names[i], strlen(names[i])))
                        return -1;
        }
        return 0;
}

long tg_sigv4_presign_query(const tg_sigv4_presign_t *ps,
                            const tg_sigv4_params_t *p, char *out, size_t size,
                            char *errstr, size_t errstr_size)
{
        const tg_sigv4_request_t *r = ps->req;
        char sh[1024],
            cred[TG_SIGV4_MAX_KEY + 2 * TG_SIGV4_MAX_SCOPE_PART + 32];
        char expires[24];
        size_t o = 0;
        int bad = 0;

        if (!size || !p->amz_date || strlen(p->amz_date) != 16 ||
            !p->access_key_id || !p->region || !p->service)
                return ps_fail(errstr, errstr_size, "bad parameters");
        if (ps->expires_s < 1 || ps->expires_s > PS_EXPIRES_MAX)
                return ps_fail(errstr, errstr_size,
                               "expiry must be 1-604800 seconds");
        if (ps_signed_headers(r, sh, sizeof(sh)))
                return ps_fail(errstr, errstr_size, "bad headers");
        snprintf(cred, sizeof(cred), "%s/%.8s/%s/%s/aws4_request",
                 p->access_key_id, p->amz_date, p->region, p->service);
        snprintf(expires, sizeof(expires), "%ld", ps->expires_s);
        out[0] = '\0';
        if (r->query && *r->query)
                bad |= ps_put(out, size, &o, r->query, strlen(r->query));
        bad |= ps_param(out, size, &o, "X-Amz-Algorithm", PS_ALGORITHM);
        bad |= ps_param(out, size, &o, "X-Amz-Credential", cred);
        bad |= ps_param(out, size, &o, "X-Amz-Date", p->amz_date);
        bad |= ps_param(out, size, &o, "X-Amz-Expires", expires);
        bad |= ps_param(out, size, &o, "X-Amz-SignedHeaders", sh);
        if (ps->session_token && *ps->session_token && !ps->omit_session_token)
                bad |= ps_param(out, size, &o, "X-Amz-Security-Token",
                                ps->session_token);
        if (bad) {
                OPENSSL_cleanse(out, size);
                return ps_fail(errstr, errstr_size, "query too long");
        }
        return (long)o;
}

long tg_sigv4_presign(const tg_sigv4_presign_t *ps, const tg_sigv4_params_t *p,
                      char *out, size_t size, char *errstr, size_t errstr_size)
{
        tg_sigv4_request_t req = *ps->req;
        tg_sigv4_result_t res;
        long n = tg_sigv4_presign_query(ps, p, out, size, errstr, errstr_size);
        size_t o;
        int bad = 0;

        if (n < 0)
                return -1;
        req.query = out;
        if (tg_sigv4_sign(&req, p, &res, errstr, errstr_size) < 0) {
                OPENSSL_cleanse(out, size);
                return -1;
        }
        o = (size_t)n;
        if (ps->session_token && *ps->session_token && ps->omit_session_token)
                bad |= ps_param(out, size, &o, "X-Amz-Security-Token",
                                ps->session_token);
        bad |= ps_param(out, size, &o, "X-Amz-Signature", res.signature);
        OPENSSL_cleanse(&res, sizeof(res));
        if (bad) {
                OPENSSL_cleanse(out, size);
                return ps_fail(errstr, errstr_size, "query too long");
        }
        return (long)o;
}
