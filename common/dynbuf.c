/*
 * The capped growable buffer (dynbuf.h says the rules). OpenSSL's
 * OPENSSL_cleanse wipes secret memory: a plain memset before free may be
 * optimised away.
 */
#include "dynbuf.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_ALLOC 256

void tg_dynbuf_init(tg_dynbuf_t *b, size_t cap)
{
        memset(b, 0, sizeof(*b));
        b->cap = cap;
}

void tg_dynbuf_init_secret(tg_dynbuf_t *b, size_t cap)
{
        tg_dynbuf_init(b, cap);
        b->secret = 1;
}

static size_t grown_size(const tg_dynbuf_t *b, size_t need)
{
        size_t a = b->alloc ? b->alloc : FIRST_ALLOC;

        while (a < need && a <= (b->cap + 1) / 2)
                a *= 2;
        /* need <= cap + 1 (tg_dynbuf_add checked): the cap bounds growth */
        if (a < need || a > b->cap + 1)
                a = b->cap + 1;
        return a;
}

/* Makes room for need bytes (content and NUL). A secret buffer never goes
 * through realloc, which could leave a copy behind unwiped. */
static int grow(tg_dynbuf_t *b, size_t need)
{
        size_t a = grown_size(b, need);
        char *p;

        if (!b->secret) {
                if (!(p = realloc(b->p, a)))
                        return TG_DYNBUF_NOMEM;
        } else {
                if (!(p = malloc(a)))
                        return TG_DYNBUF_NOMEM;
                if (b->p) {
                        memcpy(p, b->p, b->len + 1);
                        OPENSSL_cleanse(b->p, b->alloc);
                        free(b->p);
                }
        }
        if (!b->p)
                p[0] = '\0';
        b->p = p;
        b->alloc = a;
        return TG_DYNBUF_OK;
}

int tg_dynbuf_add(tg_dynbuf_t *b, const void *p, size_t n)
{
        int rc;

        if (b->err)
                return b->err;
        if (n > b->cap - b->len)
                return b->err = TG_DYNBUF_TOO_BIG;
        if (b->len + n + 1 > b->alloc && (rc = grow(b, b->len + n + 1)))
                return b->err = rc;
        if (n)
                memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = '\0';
        return TG_DYNBUF_OK;
}

int tg_dynbuf_addf(tg_dynbuf_t *b, const char *fmt, ...)
{
        char small[256], *big = NULL;
        va_list ap;
        int n, rc;

        va_start(ap, fmt);
        n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return b->err ? b->err : (b->err = TG_DYNBUF_NOMEM);
        if ((size_t)n < sizeof(small))
                return tg_dynbuf_add(b, small, (size_t)n);
        if (b->err || (size_t)n > b->cap - b->len)
                return tg_dynbuf_add(b, NULL, (size_t)n); /* sets the error */
        if (!(big = malloc((size_t)n + 1)))
                return b->err = TG_DYNBUF_NOMEM;
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        rc = tg_dynbuf_add(b, big, (size_t)n);
        if (b->secret)
                OPENSSL_cleanse(big, (size_t)n + 1);
        free(big);
        return rc;
}

void tg_dynbuf_reset(tg_dynbuf_t *b)
{
        if (b->p) {
                if (b->secret)
                        OPENSSL_cleanse(b->p, b->len);
                b->p[0] = '\0';
        }
        b->len = 0;
        b->err = TG_DYNBUF_OK;
}

void tg_dynbuf_free(tg_dynbuf_t *b)
{
        if (b->p && b->secret)
                OPENSSL_cleanse(b->p, b->alloc);
        free(b->p);
        b->p = NULL;
        b->len = b->alloc = 0;
        b->err = TG_DYNBUF_OK;
}

const char *tg_dynbuf_ptr(const tg_dynbuf_t *b)
{
        return b->p ? b->p : "";
}

size_t tg_dynbuf_len(const tg_dynbuf_t *b)
{
        return b->len;
}

size_t tg_dynbuf_cap(const tg_dynbuf_t *b)
{
        return b->cap;
}

int tg_dynbuf_error(const tg_dynbuf_t *b)
{
        return b->err;
}

const char *tg_dynbuf_strerror(const tg_dynbuf_t *b, char *buf, size_t size)
{
        if (b->err == TG_DYNBUF_TOO_BIG)
                snprintf(buf, size, "over the %zu-byte limit", b->cap);
        else if (b->err == TG_DYNBUF_NOMEM)
                snprintf(buf, size, "out of memory");
        else
                snprintf(buf, size, "ok");
        return buf;
}

char *tg_dynbuf_take(tg_dynbuf_t *b, size_t *len)
{
        char *p = b->p;

        if (!p && !(p = calloc(1, 1)))
                return NULL;
        if (len)
                *len = b->len;
        b->p = NULL;
        b->len = b->alloc = 0;
        b->err = TG_DYNBUF_OK;
        return p;
}
