/*
 * SigV4's hashing and keyed HMACs, with the per-thread state that makes
 * them cheap (see sigv4_crypto.h). The canonicalization is in sigv4.c.
 */
#include "sigv4_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hexdig_lower[] = "0123456789abcdef";

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
        size_t i;

        for (i = 0; i < n; i++) {
                out[2 * i] = hexdig_lower[in[i] >> 4];
                out[2 * i + 1] = hexdig_lower[in[i] & 15];
        }
        out[2 * n] = '\0';
}

/* ---- per-thread crypto state ------------------------------------------ */

/* OpenSSL 3's one-shot SHA256() and HMAC(EVP_sha256(), ...) fetch the
 * algorithm from the provider and allocate a context on every call, and 4
 * of a signature's 5 HMACs depend only on the secret, the date, the region
 * and the service (AWS SDKs cache that derived key too). So each thread
 * keeps the fetched algorithms, a digest context, and an HMAC context keyed
 * with the last derived key, re-initialized (same key) for each signature.
 * Freed, and the secret wiped, when the thread ends. */
typedef struct sigv4_tls {
        EVP_MD *md;
        EVP_MD_CTX *dctx;
        EVP_MAC *mac;
        EVP_MAC_CTX *hctx; /* scratch, for the key derivation */
        EVP_MAC_CTX *kctx; /* keyed with the cached signing key */
        int valid;         /* the fields below describe kctx's key */
        size_t secret_len;
        char secret[TG_SIGV4_MAX_KEY];
        char date[8];
        char region[TG_SIGV4_MAX_SCOPE_PART + 1];
        char service[TG_SIGV4_MAX_SCOPE_PART + 1];
} sigv4_tls_t;

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static int tls_key_ok;
static __thread sigv4_tls_t *tls_state;

static void tls_free(void *arg)
{
        sigv4_tls_t *t = arg;

        if (!t)
                return;
        EVP_MAC_CTX_free(t->kctx); /* wipes the keyed state */
        EVP_MAC_CTX_free(t->hctx);
        EVP_MAC_free(t->mac);
        EVP_MD_CTX_free(t->dctx);
        EVP_MD_free(t->md);
        OPENSSL_cleanse(t, sizeof(*t));
        free(t);
}

static void tls_key_create(void)
{
        tls_key_ok = pthread_key_create(&tls_key, tls_free) == 0;
}

static EVP_MAC_CTX *hmac_ctx_new(EVP_MAC *mac)
{
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(
                                   OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                               OSSL_PARAM_construct_end()};
        EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);

        if (c && !EVP_MAC_CTX_set_params(c, params)) {
                EVP_MAC_CTX_free(c);
                c = NULL;
        }
        return c;
}

/* This thread's state, made on first use; NULL when out of memory. */
static sigv4_tls_t *tls_get(void)
{
        sigv4_tls_t *t = tls_state;

        if (t)
                return t;
        pthread_once(&tls_once, tls_key_create);
        if (!tls_key_ok || !(t = calloc(1, sizeof(*t))))
                return NULL;
        t->md = EVP_MD_fetch(NULL, "SHA256", NULL);
        t->dctx = EVP_MD_CTX_new();
        t->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (t->mac) {
                t->hctx = hmac_ctx_new(t->mac);
                t->kctx = hmac_ctx_new(t->mac);
        }
        if (!t->md || !t->dctx || !t->hctx || !t->kctx ||
            pthread_setspecific(tls_key, t) != 0) {
                tls_free(t);
                return NULL;
        }
        tls_state = t;
        return t;
}

static int sha256(const void *data, size_t len, unsigned char out[32])
{
        sigv4_tls_t *t = tls_get();
        unsigned int n = 0;

        if (!t) /* out of memory: the slow one-shot still works */
                return SHA256(data, len, out) ? 0 : -1;
        return EVP_DigestInit_ex2(t->dctx, t->md, NULL) &&
                       EVP_DigestUpdate(t->dctx, data, len) &&
                       EVP_DigestFinal_ex(t->dctx, out, &n)
                   ? 0
                   : -1;
}

void tg_sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char md[SHA256_DIGEST_LENGTH];

        if (sha256(data ? data : (const void *)"", len, md) < 0) {
                out[0] = '\0'; /* never signs: a hash is 64 characters */
                return;
        }
        hex_encode(md, sizeof(md), out);
}

/* One HMAC with ctx; key NULL re-uses the key ctx already holds. */
static int hmac256(EVP_MAC_CTX *ctx, const void *key, size_t klen,
                   const void *data, size_t dlen, unsigned char out[32])
{
        size_t olen = 0;

        return EVP_MAC_init(ctx, key, klen, NULL) &&
                       EVP_MAC_update(ctx, data, dlen) &&
                       EVP_MAC_final(ctx, out, &olen, 32) && olen == 32
                   ? 0
                   : -1;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"); every intermediate is wiped. */
static int signing_key(EVP_MAC_CTX *ctx, const tg_sigv4_params_t *p,
                       unsigned char key[32])
{
        unsigned char k0[4 + TG_SIGV4_MAX_KEY], a[32], b[32];
        size_t n = strlen(p->secret_access_key);
        int r;

        memcpy(k0, "AWS4", 4);
        memcpy(k0 + 4, p->secret_access_key, n);
        r = hmac256(ctx, k0, 4 + n, p->amz_date, 8, a);
        r |= hmac256(ctx, a, 32, p->region, strlen(p->region), b);
        r |= hmac256(ctx, b, 32, p->service, strlen(p->service), a);
        r |= hmac256(ctx, a, 32, "aws4_request", 12, key);
        OPENSSL_cleanse(k0, sizeof(k0));
        OPENSSL_cleanse(a, sizeof(a));
        OPENSSL_cleanse(b, sizeof(b));
        return r;
}

/* Whether t->kctx holds the key of p. The secret is compared in constant
 * time; params_check() capped every length already. */
static int key_cached(const sigv4_tls_t *t, const tg_sigv4_params_t *p)
{
        size_t n = strlen(p->secret_access_key);

        return t->valid && n == t->secret_len &&
               CRYPTO_memcmp(t->secret, p->secret_access_key, n) == 0 &&
               memcmp(t->date, p->amz_date, 8) == 0 &&
               strcmp(t->region, p->region) == 0 &&
               strcmp(t->service, p->service) == 0;
}

/* Derives p's key into t->kctx and remembers what it was derived from;
 * the previous secret is wiped first. */
static int key_refresh(sigv4_tls_t *t, const tg_sigv4_params_t *p)
{
        unsigned char key[32];
        size_t n = strlen(p->secret_access_key);
        int r;

        OPENSSL_cleanse(t->secret, sizeof(t->secret));
        t->valid = 0;
        r = signing_key(t->hctx, p, key);
        if (!r)
                r = EVP_MAC_init(t->kctx, key, sizeof(key), NULL) ? 0 : -1;
        OPENSSL_cleanse(key, sizeof(key));
        if (r)
                return -1;
        memcpy(t->secret, p->secret_access_key, n);
        t->secret_len = n;
        memcpy(t->date, p->amz_date, 8);
        snprintf(t->region, sizeof(t->region), "%s", p->region);
        snprintf(t->service, sizeof(t->service), "%s", p->service);
        t->valid = 1;
        return 0;
}

int tg_sigv4_sign_sts(const char *sts, size_t sts_len,
                      const tg_sigv4_params_t *params, char signature[65])
{
        sigv4_tls_t *t = tls_get();
        unsigned char sig[32];

        if (!t || (!key_cached(t, params) && key_refresh(t, params) < 0))
                return -1;
        if (hmac256(t->kctx, NULL, 0, sts, sts_len, sig) < 0) {
                t->valid = 0; /* unknown state: derive again next time */
                return -1;
        }
        hex_encode(sig, 32, signature);
        return 0;
}
