/*
 * AWS Signature Version 4, header signing. See sigv4.h.
 *
 * The canonical request follows AWS's rules for every service but S3: the
 * path is normalized and encoded once more than on the wire, query
 * parameters are decoded and re-encoded strictly so that two spellings of
 * the same query sign alike, and headers are lowercased, trimmed, merged
 * and sorted.
 */
#include "sigv4.h"
#include "sigv4_crypto.h"

#include <openssl/crypto.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"

static const char hexdig_upper[] = "0123456789ABCDEF";

static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
        va_list ap;

        if (!errstr || !errstr_size)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
}

/* A growing string; one allocation failure sticks so callers check once. */
typedef struct sb {
        char *p;
        size_t len;
        size_t cap;
        int oom;
} sb_t;

static void sb_putn(sb_t *b, const char *s, size_t n)
{
        size_t cap;
        char *p;

        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                cap = b->cap ? b->cap : 512;
                while (cap < b->len + n + 1)
                        cap *= 2;
                p = realloc(b->p, cap);
                if (!p) {
                        b->oom = 1;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void sb_puts(sb_t *b, const char *s)
{
        sb_putn(b, s, strlen(s));
}

static int is_unreserved(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
               c == '~';
}

static void sb_put_encoded(sb_t *b, const char *s, size_t n, int keep_slash)
{
        char esc[3];
        size_t i;

        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (is_unreserved(c) || (keep_slash && c == '/')) {
                        sb_putn(b, (const char *)&s[i], 1);
                        continue;
                }
                esc[0] = '%';
                esc[1] = hexdig_upper[c >> 4];
                esc[2] = hexdig_upper[c & 15];
                sb_putn(b, esc, 3);
        }
}

long tg_sigv4_uri_encode(const char *in, size_t len, int keep_slash, char *out,
                         size_t out_size)
{
        size_t i, o = 0;

        if (!out_size)
                return -1;
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)in[i];

                if (is_unreserved(c) || (keep_slash && c == '/')) {
                        if (o + 1 >= out_size)
                                return -1;
                        out[o++] = (char)c;
                        continue;
                }
                if (o + 3 >= out_size)
                        return -1;
                out[o++] = '%';
                out[o++] = hexdig_upper[c >> 4];
                out[o++] = hexdig_upper[c & 15];
        }
        out[o] = '\0';
        return (long)o;
}

void tg_sigv4_amz_date(time_t t, char out[17])
{
        struct tm tm;

        if (!gmtime_r(&t, &tm) || !strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm))
                out[0] = '\0';
}

/* ---- path -------------------------------------------------------------- */

/* Drops the last segment written to out (for ".."), never the root. */
static void path_pop(sb_t *out)
{
        while (out->len > 0 && out->p[out->len - 1] != '/')
                out->len--;
        if (out->len > 0)
                out->len--;
        if (out->p)
                out->p[out->len] = '\0';
}

/* RFC 3986 dot-segment removal plus collapsing of empty segments; a path
 * that ends in '/', '.' or '..' keeps its trailing slash. */
static void path_normalize(const char *path, sb_t *out)
{
        const char *seg = path, *end;
        size_t n;
        int trailing = 0;

        while (*seg) {
                while (*seg == '/')
                        seg++;
                if (!*seg)
                        break;
                end = strchr(seg, '/');
                n = end ? (size_t)(end - seg) : strlen(seg);
                trailing = end != NULL || (n == 1 && seg[0] == '.') ||
                           (n == 2 && seg[0] == '.' && seg[1] == '.');
                if (n == 2 && seg[0] == '.' && seg[1] == '.') {
                        path_pop(out);
                } else if (n > 0 && !(n == 1 && seg[0] == '.')) {
                        sb_putn(out, "/", 1);
                        sb_putn(out, seg, n);
                }
                seg += n;
        }
        if (out->len == 0 || trailing)
                sb_putn(out, "/", 1);
}

static int canonical_path(const char *path, const tg_sigv4_params_t *params,
                          sb_t *out, char *errstr, size_t errstr_size)
{
        sb_t norm = {0};
        size_t len = path ? strlen(path) : 0;

        if (len > TG_SIGV4_MAX_PATH || (len && path[0] != '/')) {
                set_err(errstr, errstr_size, "sigv4: path %s",
                        len ? "too long or not absolute" : "empty");
                return -1;
        }
        if (!len) {
                sb_puts(out, "/");
                return 0;
        }
        if (params->s3_path) {
                sb_puts(out, path);
                return 0;
        }
        if (params->no_normalize)
                sb_puts(&norm, path);
        else
                path_normalize(path, &norm);
        if (!norm.oom)
                sb_put_encoded(out, norm.p, norm.len, 1);
        out->oom |= norm.oom;
        free(norm.p);
        return 0;
}

/* ---- query ------------------------------------------------------------- */

typedef struct qparam {
        char *key;
        char *value;
} qparam_t;

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes %XX (a stray '%' stays literal, '+' stays '+', as AWS reads
 * query strings) and re-encodes strictly into a new string. */
static char *query_recode(const char *s, size_t n)
{
        sb_t dec = {0}, enc = {0};
        size_t i;
        char c;

        for (i = 0; i < n; i++) {
                c = s[i];
                if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
                    hexval(s[i + 2]) >= 0) {
                        c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                        i += 2;
                }
                sb_putn(&dec, &c, 1);
        }
        sb_put_encoded(&enc, dec.p ? dec.p : "", dec.len, 0);
        sb_putn(&enc, "", 0);
        free(dec.p);
        if (dec.oom || enc.oom) {
                free(enc.p);
                return NULL;
        }
        return enc.p;
}

static int qparam_cmp(const void *a, const void *b)
{
        const qparam_t *x = a, *y = b;
        int r = strcmp(x->key, y->key);

        return r ? r : strcmp(x->value, y->value);
}

static void qparams_free(qparam_t *qp, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++) {
                free(qp[i].key);
                free(qp[i].value);
        }
        free(qp);
}

/* Splits on '&' into recoded key/value pairs; empty pairs are dropped. */
static long query_split(const char *query, qparam_t *qp, char *errstr,
                        size_t errstr_size)
{
        const char *p = query, *amp, *eq;
        size_t n, klen;
        long cnt = 0;

        while (*p) {
                amp = strchr(p, '&');
                n = amp ? (size_t)(amp - p) : strlen(p);
                if (n > 0) {
                        if (cnt == TG_SIGV4_MAX_QUERY_PARAMS) {
                                set_err(errstr, errstr_size,
                                        "sigv4: too many query parameters");
                                return -1;
                        }
                        eq = memchr(p, '=', n);
                        klen = eq ? (size_t)(eq - p) : n;
                        qp[cnt].key = query_recode(p, klen);
                        qp[cnt].value = eq ? query_recode(eq + 1, n - klen - 1)
                                           : query_recode("", 0);
                        cnt++;
                        if (!qp[cnt - 1].key || !qp[cnt - 1].value) {
                                set_err(errstr, errstr_size,
                                        "sigv4: out of memory");
                                return -1;
                        }
                }
                p += n + (amp ? 1 : 0);
        }
        return cnt;
}

static int canonical_query(const char *query, sb_t *out, char *errstr,
                           size_t errstr_size)
{
        qparam_t *qp;
        long cnt, i;

        if (!query || !*query)
                return 0;
        if (strlen(query) > TG_SIGV4_MAX_QUERY) {
                set_err(errstr, errstr_size, "sigv4: query too long");
                return -1;
        }
        qp = calloc(TG_SIGV4_MAX_QUERY_PARAMS, sizeof(*qp));
        if (!qp) {
                set_err(errstr, errstr_size, "sigv4: out of memory");
                return -1;
        }
        cnt = query_split(query, qp, errstr, errstr_size);
        if (cnt < 0) {
                qparams_free(qp, TG_SIGV4_MAX_QUERY_PARAMS);
                return -1;
        }
        qsort(qp, (size_t)cnt, sizeof(*qp), qparam_cmp);
        for (i = 0; i < cnt; i++) {
                if (i)
                        sb_putn(out, "&", 1);
                sb_puts(out, qp[i].key);
                sb_putn(out, "=", 1);
                sb_puts(out, qp[i].value);
        }
        qparams_free(qp, TG_SIGV4_MAX_QUERY_PARAMS);
        return 0;
}

/* ---- headers ----------------------------------------------------------- */

typedef struct hdr {
        char *name;  /* lowercased */
        char *value; /* trimmed, inner runs of blanks collapsed */
        size_t order;
} hdr_t;

static int is_tchar(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The value is never quoted in an error: it may be a token. */
static char *hdr_name(const char *name, char *errstr, size_t errstr_size)
{
        size_t i, n = name ? strlen(name) : 0;
        char *out;

        for (i = 0; i < n; i++)
                if (!is_tchar((unsigned char)name[i]))
                        break;
        if (!n || n > TG_SIGV4_MAX_HEADER_NAME || i < n) {
                set_err(errstr, errstr_size, "sigv4: bad header name");
                return NULL;
        }
        if (!(out = malloc(n + 1))) {
                set_err(errstr, errstr_size, "sigv4: out of memory");
                return NULL;
        }
        for (i = 0; i <= n; i++)
                out[i] = (name[i] >= 'A' && name[i] <= 'Z')
                             ? (char)(name[i] - 'A' + 'a')
                             : name[i];
        return out;
}

static char *hdr_value(const char *v, const char *name, char *errstr,
                       size_t errstr_size)
{
        size_t i, o = 0, n = v ? strlen(v) : 0;
        int blank = 0;
        char *out;

        if (n > TG_SIGV4_MAX_HEADER_VALUE || !(out = malloc(n + 1))) {
                set_err(errstr, errstr_size, "sigv4: header %s too long", name);
                return NULL;
        }
        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)v[i];

                if ((c < 0x20 && c != '\t') || c == 0x7f) {
                        set_err(errstr, errstr_size,
                                "sigv4: control character in header %s", name);
                        free(out);
                        return NULL;
                }
                if (c == ' ' || c == '\t') {
                        blank = o > 0;
                        continue;
                }
                if (blank)
                        out[o++] = ' ';
                blank = 0;
                out[o++] = (char)c;
        }
        out[o] = '\0';
        return out;
}

static int hdr_cmp(const void *a, const void *b)
{
        const hdr_t *x = a, *y = b;
        int r = strcmp(x->name, y->name);

        if (r)
                return r;
        return x->order < y->order ? -1 : x->order > y->order;
}

static void hdrs_free(hdr_t *h, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++) {
                free(h[i].name);
                if (h[i].value)
                        OPENSSL_cleanse(h[i].value, strlen(h[i].value));
                free(h[i].value);
        }
}

/* Writes "name:v1,v2\n" lines in name order (duplicates merged in the
 * order given) and the ';'-joined names into signed_headers. */
static int hdrs_emit(const hdr_t *h, size_t n, sb_t *out, char *signed_headers,
                     size_t sh_size, char *errstr, size_t errstr_size)
{
        sb_t sh = {0};
        size_t i;
        int ret = 0;

        for (i = 0; i < n; i++) {
                if (i && !strcmp(h[i].name, h[i - 1].name)) {
                        sb_putn(out, ",", 1);
                        sb_puts(out, h[i].value);
                        continue;
                }
                if (i) {
                        sb_putn(out, "\n", 1);
                        sb_putn(&sh, ";", 1);
                }
                sb_puts(out, h[i].name);
                sb_putn(out, ":", 1);
                sb_puts(out, h[i].value);
                sb_puts(&sh, h[i].name);
        }
        sb_putn(out, "\n", 1);
        if (sh.oom || sh.len >= sh_size) {
                set_err(errstr, errstr_size, "sigv4: signed headers too long");
                ret = -1;
        } else {
                memcpy(signed_headers, sh.p, sh.len + 1);
        }
        free(sh.p);
        return ret;
}

static int canonical_headers(const tg_sigv4_request_t *req, sb_t *out,
                             char *signed_headers, size_t sh_size, char *errstr,
                             size_t errstr_size)
{
        hdr_t h[TG_SIGV4_MAX_HEADERS];
        size_t i, n = req->n_headers;
        int ret = -1;

        if (!n || n > TG_SIGV4_MAX_HEADERS || !req->headers) {
                set_err(errstr, errstr_size, "sigv4: %zu headers (1-%d)", n,
                        TG_SIGV4_MAX_HEADERS);
                return -1;
        }
        memset(h, 0, sizeof(h));
        for (i = 0; i < n; i++) {
                h[i].order = i;
                h[i].name = hdr_name(req->headers[i].name, errstr, errstr_size);
                if (!h[i].name)
                        goto err;
                h[i].value = hdr_value(req->headers[i].value, h[i].name, errstr,
                                       errstr_size);
                if (!h[i].value)
                        goto err;
        }
        qsort(h, n, sizeof(*h), hdr_cmp);
        ret =
            hdrs_emit(h, n, out, signed_headers, sh_size, errstr, errstr_size);
err:
        hdrs_free(h, n);
        return ret;
}

/* ---- canonical request, string to sign, signature ---------------------- */

static int method_ok(const char *m)
{
        size_t i, n = m ? strlen(m) : 0;

        for (i = 0; i < n; i++)
                if (m[i] < 'A' || m[i] > 'Z')
                        return 0;
        return n > 0 && n <= 16;
}

static int payload_hash_ok(const char *h)
{
        size_t i, n = strlen(h);

        for (i = 0; i < n; i++)
                if (h[i] <= ' ' || h[i] == 0x7f)
                        return 0;
        return n > 0 && n <= 64;
}

static char *build_canonical(const tg_sigv4_request_t *req,
                             const tg_sigv4_params_t *params,
                             char *signed_headers, size_t sh_size, char *errstr,
                             size_t errstr_size)
{
        sb_t b = {0};
        char hash[65];

        if (!method_ok(req->method)) {
                set_err(errstr, errstr_size, "sigv4: bad method");
                return NULL;
        }
        if (req->payload_hash && !payload_hash_ok(req->payload_hash)) {
                set_err(errstr, errstr_size, "sigv4: bad payload hash");
                return NULL;
        }
        sb_puts(&b, req->method);
        sb_putn(&b, "\n", 1);
        if (canonical_path(req->path, params, &b, errstr, errstr_size) < 0)
                goto err;
        sb_putn(&b, "\n", 1);
        if (canonical_query(req->query, &b, errstr, errstr_size) < 0)
                goto err;
        sb_putn(&b, "\n", 1);
        if (canonical_headers(req, &b, signed_headers, sh_size, errstr,
                              errstr_size) < 0)
                goto err;
        sb_putn(&b, "\n", 1);
        sb_puts(&b, signed_headers);
        sb_putn(&b, "\n", 1);
        if (!req->payload_hash)
                tg_sha256_hex(req->body, req->body ? req->body_len : 0, hash);
        sb_puts(&b, req->payload_hash ? req->payload_hash : hash);
        if (b.oom) {
                set_err(errstr, errstr_size, "sigv4: out of memory");
                goto err;
        }
        return b.p;
err:
        if (b.p)
                OPENSSL_cleanse(b.p, b.len);
        free(b.p);
        return NULL;
}

char *tg_sigv4_canonical_request(const tg_sigv4_request_t *req,
                                 const tg_sigv4_params_t *params, char *errstr,
                                 size_t errstr_size)
{
        char signed_headers[sizeof(((tg_sigv4_result_t *)0)->signed_headers)];

        return build_canonical(req, params, signed_headers,
                               sizeof(signed_headers), errstr, errstr_size);
}

static int amz_date_ok(const char *d)
{
        size_t i;

        if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
                return 0;
        for (i = 0; i < 15; i++)
                if (i != 8 && (d[i] < '0' || d[i] > '9'))
                        return 0;
        return 1;
}

static int scope_part_ok(const char *s)
{
        size_t i, n = s ? strlen(s) : 0;

        for (i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return 0;
        return n > 0 && n <= TG_SIGV4_MAX_SCOPE_PART;
}

static int key_ok(const char *k)
{
        size_t i, n = k ? strlen(k) : 0;

        for (i = 0; i < n; i++)
                if ((unsigned char)k[i] <= ' ' || k[i] == 0x7f)
                        return 0;
        return n > 0 && n <= TG_SIGV4_MAX_KEY;
}

/* Secrets are checked but never named in the message. */
static int params_check(const tg_sigv4_params_t *p, char *errstr,
                        size_t errstr_size)
{
        const char *what = NULL;

        if (!amz_date_ok(p->amz_date))
                what = "amz_date (want YYYYMMDDTHHMMSSZ)";
        else if (!scope_part_ok(p->region))
                what = "region";
        else if (!scope_part_ok(p->service))
                what = "service";
        else if (!key_ok(p->access_key_id))
                what = "access key id";
        else if (!key_ok(p->secret_access_key))
                what = "secret access key";
        if (what)
                set_err(errstr, errstr_size, "sigv4: bad %s", what);
        return what ? -1 : 0;
}

/* "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hash>": at most 17 + 17 + 9 +
 * 2 * (TG_SIGV4_MAX_SCOPE_PART + 1) + 13 + 64 characters. */
#define STS_MAX 256

static size_t put(char *out, size_t o, const char *s, size_t n)
{
        memcpy(out + o, s, n);
        return o + n;
}

/* Writes the string to sign into out[STS_MAX] (NUL-terminated; no
 * snprintf: this runs once per request); its length, or -1 on bad params
 * or a failed hash. The checks below bound every part. */
static long sts_build(const char *creq, size_t creq_len,
                      const tg_sigv4_params_t *params, char out[STS_MAX])
{
        char hash[65];
        size_t o = 0;

        if (!amz_date_ok(params->amz_date) || !scope_part_ok(params->region) ||
            !scope_part_ok(params->service))
                return -1;
        tg_sha256_hex(creq, creq_len, hash);
        if (!hash[0])
                return -1;
        o = put(out, o, ALGORITHM "\n", sizeof(ALGORITHM "\n") - 1);
        o = put(out, o, params->amz_date, 16);
        o = put(out, o, "\n", 1);
        o = put(out, o, params->amz_date, 8);
        o = put(out, o, "/", 1);
        o = put(out, o, params->region, strlen(params->region));
        o = put(out, o, "/", 1);
        o = put(out, o, params->service, strlen(params->service));
        o = put(out, o, "/aws4_request\n", 14);
        o = put(out, o, hash, 64);
        out[o] = '\0';
        return (long)o;
}

char *tg_sigv4_string_to_sign(const char *canonical_request,
                              const tg_sigv4_params_t *params)
{
        char sts[STS_MAX];

        if (!canonical_request ||
            sts_build(canonical_request, strlen(canonical_request), params,
                      sts) < 0)
                return NULL;
        return strdup(sts);
}

static int format_authz(const tg_sigv4_params_t *p, tg_sigv4_result_t *out,
                        char *errstr, size_t errstr_size)
{
        int n;

        n = snprintf(out->authorization, sizeof(out->authorization),
                     ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, "
                               "SignedHeaders=%s, Signature=%s",
                     p->access_key_id, p->amz_date, p->region, p->service,
                     out->signed_headers, out->signature);
        if (n < 0 || (size_t)n >= sizeof(out->authorization)) {
                set_err(errstr, errstr_size,
                        "sigv4: authorization header too long");
                return -1;
        }
        return 0;
}

int tg_sigv4_sign(const tg_sigv4_request_t *req,
                  const tg_sigv4_params_t *params, tg_sigv4_result_t *out,
                  char *errstr, size_t errstr_size)
{
        char *creq = NULL, sts[STS_MAX];
        long sts_len;
        int ret = -1;

        memset(out, 0, sizeof(*out));
        if (params_check(params, errstr, errstr_size) < 0)
                return -1;
        creq =
            build_canonical(req, params, out->signed_headers,
                            sizeof(out->signed_headers), errstr, errstr_size);
        if (!creq)
                goto err;
        sts_len = sts_build(creq, strlen(creq), params, sts);
        if (sts_len < 0 || tg_sigv4_sign_sts(sts, (size_t)sts_len, params,
                                             out->signature) < 0) {
                set_err(errstr, errstr_size, "sigv4: HMAC failed");
                goto err;
        }
        ret = format_authz(params, out, errstr, errstr_size);
err:
        if (creq)
                OPENSSL_cleanse(creq, strlen(creq));
        free(creq);
        return ret;
}
