/*
 * tg_jsonr_check: recursive descent over the bytes, no tree. Every rule
 * below is one of jansson's (load.c), so both accept the same texts.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonr.h"
#include "tgjson.h"

typedef struct key {
        const char *s;
        size_t n;
        int owned; /* s was unescaped into its own allocation */
} jkey_t;

typedef struct rd {
        const unsigned char *p, *start, *end;
        int dups;
        jkey_t *keys; /* of the objects open now, innermost last */
        size_t n_keys, cap_keys;
        jkey_t few[32]; /* keys live here until there are more */
        int max_depth, too_deep;
        char *err;
        size_t err_size;
} rd_t;

static int fail(rd_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(rd_t *r, const char *fmt, ...)
{
        va_list ap;
        int n = 0;

        if (r->err && r->err_size) {
                va_start(ap, fmt);
                n = vsnprintf(r->err, r->err_size, fmt, ap);
                va_end(ap);
                if (n >= 0 && (size_t)n < r->err_size)
                        snprintf(r->err + n, r->err_size - (size_t)n,
                                 " at byte %zu", (size_t)(r->p - r->start));
        }
        return -1;
}

static void ws(rd_t *r)
{
        while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
                                 *r->p == '\n' || *r->p == '\r'))
                r->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
        unsigned v = 0;

        for (int i = 0; i < 4; i++) {
                unsigned c = p[i], d = c >= '0' && c <= '9'   ? c - '0'
                                       : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                              : 16;
                if (d == 16)
                        return -1;
                v = v << 4 | d;
        }
        *out = v;
        return 0;
}

/* \uXXXX at p (after the backslash): a code point other than U+0000, a
 * high surrogate only with its low one right after. Returns bytes used. */
static int uescape(rd_t *r, const unsigned char *p)
{
        unsigned hi, lo;

        if (r->end - p < 5 || hex4(p + 1, &hi))
                return fail(r, "invalid \\u escape");
        if (hi == 0)
                return fail(r, "\\u0000 is not allowed");
        if (hi >= 0xDC00 && hi <= 0xDFFF)
                return fail(r, "lone low surrogate");
        if (hi < 0xD800 || hi > 0xDBFF)
                return 5;
        if (r->end - p < 11 || p[5] != '\\' || p[6] != 'u' ||
            hex4(p + 7, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return fail(r, "high surrogate without its low one");
        return 11;
}

/* Bytes a string cannot hold as they are: controls, the quote, the
 * backslash, and non-ASCII (checked as UTF-8). */
static const unsigned char special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* One escape or UTF-8 sequence or control at r->p: its length, or -1. */
static int special_len(rd_t *r, int *esc)
{
        unsigned c = *r->p;
        int k;

        if (c < 0x20)
                return fail(r, "control character 0x%x in a string", c);
        if (c >= 0x80) {
                k = tg_utf8_seq(r->p, (size_t)(r->end - r->p));
                return k ? k : fail(r, "unable to decode byte 0x%x", c);
        }
        *esc = 1;
        if (r->p + 1 >= r->end)
                return fail(r, "unterminated string");
        if (r->p[1] == 'u')
                return (k = uescape(r, r->p + 1)) < 0 ? -1 : k + 1;
        if (r->p[1] && strchr("\"\\/bfnrt", r->p[1]))
                return 2;
        return fail(r, "invalid escape");
}

/* A string at r->p (the quote); *s, *n its raw bytes, *esc whether any
 * backslash is among them. r->p ends past the closing quote, or at the
 * fault. */
static int string(rd_t *r, const char **s, size_t *n, int *esc)
{
        const unsigned char *s0 = r->p + 1;
        int k;

        *esc = 0;
        r->p = s0;
        for (;;) {
                while (r->p < r->end && !special[*r->p])
                        r->p++;
                if (r->p >= r->end)
                        return fail(r, "unterminated string");
                if (*r->p == '"')
                        break;
                if ((k = special_len(r, esc)) < 0)
                        return -1;
                r->p += k;
        }
        *s = (const char *)s0;
        *n = (size_t)(r->p - s0);
        r->p++;
        return 0;
}

static int digits(rd_t *r)
{
        const unsigned char *p0 = r->p;

        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
                r->p++;
        return r->p > p0 ? 0 : fail(r, "invalid token");
}

/* jansson reads integers with strtoll and reals with strtod, and refuses
 * what overflows either. */
static int in_range(rd_t *r, const unsigned char *t, int real)
{
        const unsigned char *d = t + (*t == '-');
        size_t n = (size_t)(r->p - t), nd = (size_t)(r->p - d);
        char small[64], *buf = small;
        double v;

        if (!real) {
                if (nd < 19)
                        return 0;
                if (nd > 19 || memcmp(d,
                                      *t == '-' ? "9223372036854775808"
                                                : "9223372036854775807",
                                      19) > 0)
                        return fail(r, *t == '-' ? "too big negative integer"
                                                 : "too big integer");
                return 0;
        }
        if (n >= sizeof(small) && !(buf = malloc(n + 1)))
                return fail(r, "out of memory");
        memcpy(buf, t, n);
        buf[n] = '\0';
        errno = 0;
        v = strtod(buf, NULL);
        if (buf != small)
                free(buf);
        if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
                return fail(r, "real number overflow");
        return 0;
}

static int number(rd_t *r)
{
        const unsigned char *t = r->p;
        int real = 0;

        if (r->p < r->end && *r->p == '-')
                r->p++;
        if (r->p < r->end && *r->p == '0') {
                r->p++;
                if (r->p < r->end && *r->p >= '0' && *r->p <= '9')
                        return fail(r, "invalid token");
        } else if (digits(r)) {
                return -1;
        }
        if (r->p < r->end && *r->p == '.') {
                real = 1;
                r->p++;
                if (digits(r))
                        return -1;
        }
        if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
                real = 1;
                r->p++;
                if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
                        r->p++;
                if (digits(r))
                        return -1;
        }
        return in_range(r, t, real);
}

static int literal(rd_t *r, const char *word)
{
        size_t n = strlen(word);

        if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
                return fail(r, "invalid token");
        r->p += n;
        return 0;
}

static int key_push(rd_t *r, const char *s, size_t n, int esc)
{
        jkey_t *k;

        if (r->n_keys == r->cap_keys) {
                size_t cap = 2 * r->cap_keys;
                jkey_t *nk = r->keys == r->few
                                 ? malloc(cap * sizeof(*nk))
                                 : realloc(r->keys, cap * sizeof(*nk));

                if (!nk)
                        return fail(r, "out of memory");
                if (r->keys == r->few)
                        memcpy(nk, r->few, sizeof(r->few));
                r->keys = nk;
                r->cap_keys = cap;
        }
        k = &r->keys[r->n_keys];
        k->s = s;
        k->n = n;
        k->owned = 0;
        if (esc) {
                char *u = malloc(n ? n : 1);

                if (!u)
                        return fail(r, "out of memory");
                k->n = tg_jsonr_unescape(s, n, u);
                k->s = u;
                k->owned = 1;
        }
        r->n_keys++;
        return 0;
}

static int key_cmp(const void *a, const void *b)
{
        const jkey_t *x = a, *y = b;

        if (x->n != y->n)
                return x->n < y->n ? -1 : 1;
        return memcmp(x->s, y->s, x->n);
}

/* The keys of one object, compared once it is read; sorted when there are
 * many, so a hostile object of n keys costs n log n, not n^2. */
static int keys_unique(rd_t *r, size_t base)
{
        jkey_t *k = r->keys + base;
        size_t n = r->n_keys - base;

        if (n > 8) {
                qsort(k, n, sizeof(*k), key_cmp);
                for (size_t i = 1; i < n; i++)
                        if (!key_cmp(&k[i - 1], &k[i]))
                                return fail(r, "duplicate object key");
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (!key_cmp(&k[i], &k[j]))
                                return fail(r, "duplicate object key");
        return 0;
}

static void keys_pop(rd_t *r, size_t base)
{
        while (r->n_keys > base) {
                jkey_t *k = &r->keys[--r->n_keys];
                if (k->owned)
                        free((char *)k->s);
        }
}

static int value(rd_t *r, int depth);

static int object(rd_t *r, int depth)
{
        size_t base = r->n_keys;
        int rc = -1, esc;
        const char *s;
        size_t n;

        r->p++;
        ws(r);
        if (r->p < r->end && *r->p == '}') {
                r->p++;
                return 0;
        }
        for (;;) {
                if (r->p >= r->end || *r->p != '"') {
                        fail(r, "string or '}' expected");
                        goto out;
                }
                if (string(r, &s, &n, &esc) ||
                    (r->dups && key_push(r, s, n, esc)))
                        goto out;
                ws(r);
                if (r->p >= r->end || *r->p != ':') {
                        fail(r, "':' expected");
                        goto out;
                }
                r->p++;
                ws(r);
                if (value(r, depth))
                        goto out;
                ws(r);
                if (r->p < r->end && *r->p == '}')
                        break;
                if (r->p >= r->end || *r->p != ',') {
                        fail(r, "',' or '}' expected");
                        goto out;
                }
                r->p++;
                ws(r);
        }
        r->p++;
        rc = r->dups ? keys_unique(r, base) : 0;
out:
        keys_pop(r, base);
        return rc;
}

static int array(rd_t *r, int depth)
{
        r->p++;
        ws(r);
        if (r->p < r->end && *r->p == ']') {
                r->p++;
                return 0;
        }
        for (;;) {
                if (value(r, depth))
                        return -1;
                ws(r);
                if (r->p < r->end && *r->p == ']') {
                        r->p++;
                        return 0;
                }
                if (r->p >= r->end || *r->p != ',')
                        return fail(r, "',' or ']' expected");
                r->p++;
                ws(r);
        }
}

static int value(rd_t *r, int depth)
{
        const char *s;
        size_t n;
        int esc;

        if (r->p >= r->end)
                return fail(r, "unexpected end of input");
        switch (*r->p) {
        case '{':
        case '[':
                if (depth >= r->max_depth) {
                        r->too_deep = 1;
                        return fail(r, "nested deeper than %d", r->max_depth);
                }
                return *r->p == '{' ? object(r, depth + 1)
                                    : array(r, depth + 1);
        case '"':
                return string(r, &s, &n, &esc);
        case 't':
                return literal(r, "true");
        case 'f':
                return literal(r, "false");
        case 'n':
                return literal(r, "null");
        default:
                return number(r);
        }
}

int tg_jsonr_check(const char *buf, size_t len, int max_depth,
                   int reject_duplicates, char *errstr, size_t errstr_size)
{
        rd_t r = {.p = (const unsigned char *)buf,
                  .start = (const unsigned char *)buf,
                  .end = (const unsigned char *)buf + len,
                  .dups = reject_duplicates,
                  .cap_keys = sizeof(r.few) / sizeof(r.few[0]),
                  .max_depth = max_depth < 1 || max_depth > TG_JSONR_DEPTH_MAX
                                   ? TG_JSONR_DEPTH_MAX
                                   : max_depth,
                  .err = errstr,
                  .err_size = errstr_size};
        int rc;

        r.keys = r.few;
        if (!buf)
                return fail(&r, "no input");
        ws(&r);
        if (r.p >= r.end || (*r.p != '{' && *r.p != '['))
                rc = fail(&r, "'[' or '{' expected");
        else if (!(rc = value(&r, 0))) {
                ws(&r);
                if (r.p != r.end)
                        rc = fail(&r, "end of input expected");
        }
        if (r.keys != r.few)
                free(r.keys);
        return rc && r.too_deep ? -2 : rc;
}
