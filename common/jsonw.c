/*
 * The capped JSON writer (jsonw.h). Its escaping and number formats copy
 * jansson 2.14's dump.c and strconv.c (jsonp_dtostr) so that replacing a
 * json_dumps by it changes no byte.
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgjson.h"

static void set_err(tg_jsonw_t *w, int err)
{
        if (!w->err)
                w->err = err;
}

/* Room for n more bytes and the final NUL; 0 or -1 with w->err set. */
static int reserve(tg_jsonw_t *w, size_t n)
{
        size_t need, cap;
        char *p;

        if (w->err)
                return -1;
        if (n > w->max - w->len) {
                set_err(w, TG_JSONW_ETOOBIG);
                return -1;
        }
        need = w->len + n + 1;
        if (need <= w->cap)
                return 0;
        cap = w->cap ? w->cap : 256;
        while (cap < need)
                cap *= 2;
        if (cap > w->max + 1)
                cap = w->max + 1;
        p = realloc(w->buf, cap);
        if (!p) {
                set_err(w, TG_JSONW_ENOMEM);
                return -1;
        }
        w->buf = p;
        w->cap = cap;
        return 0;
}

static void put(tg_jsonw_t *w, const void *s, size_t n)
{
        if (reserve(w, n))
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
}

static void put_c(tg_jsonw_t *w, char c)
{
        if (reserve(w, 1))
                return;
        w->buf[w->len++] = c;
}

/* The separator a new key or array element needs. */
static void sep(tg_jsonw_t *w)
{
        if (w->comma)
                put_c(w, ',');
}

void tg_jsonw_init(tg_jsonw_t *w, size_t initial, size_t max, int lossy)
{
        memset(w, 0, sizeof(*w));
        w->max = max;
        w->lossy = lossy;
        if (initial > max)
                initial = max;
        w->buf = malloc(initial + 1); /* as asked: reserve() would round up */
        if (!w->buf)
                set_err(w, TG_JSONW_ENOMEM);
        else
                w->cap = initial + 1;
}

char *tg_jsonw_finish(tg_jsonw_t *w, size_t *len)
{
        char *out;

        if (reserve(w, 0)) {
                tg_jsonw_free(w);
                return NULL;
        }
        out = w->buf;
        out[w->len] = '\0';
        if (len)
                *len = w->len;
        w->buf = NULL;
        w->cap = w->len = 0;
        return out;
}

void tg_jsonw_free(tg_jsonw_t *w)
{
        free(w->buf);
        w->buf = NULL;
        w->cap = w->len = 0;
}

void tg_jsonw_obj_open(tg_jsonw_t *w)
{
        sep(w);
        put_c(w, '{');
        w->comma = 0;
}

void tg_jsonw_obj_close(tg_jsonw_t *w)
{
        put_c(w, '}');
        w->comma = 1;
}

void tg_jsonw_arr_open(tg_jsonw_t *w)
{
        sep(w);
        put_c(w, '[');
        w->comma = 0;
}

void tg_jsonw_arr_close(tg_jsonw_t *w)
{
        put_c(w, ']');
        w->comma = 1;
}

int tg_jsonw_utf8_valid(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s, *end = p + len;

        while (p < end) {
                int n = *p < 0x80 ? 1 : tg_utf8_seq(p, (size_t)(end - p));
                if (!n)
                        return 0;
                p += n;
        }
        return 1;
}

/* A character jansson escapes (always below 0x80). */
static void put_escape(tg_jsonw_t *w, unsigned c)
{
        static const char hex[] = "0123456789ABCDEF";
        char seq[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

        switch (c) {
        case '"':
                put(w, "\\\"", 2);
                return;
        case '\\':
                put(w, "\\\\", 2);
                return;
        case '\b':
                put(w, "\\b", 2);
                return;
        case '\f':
                put(w, "\\f", 2);
                return;
        case '\n':
                put(w, "\\n", 2);
                return;
        case '\r':
                put(w, "\\r", 2);
                return;
        case '\t':
                put(w, "\\t", 2);
                return;
        }
        put(w, seq, sizeof(seq));
}

/* 1 for the bytes a string holds as they are: printable ASCII but '"' and
 * '\\'. The rest are escaped (below 0x20) or start a UTF-8 sequence. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* f0 */
};

/* The rest of a string from p, its first byte that is not plain: runs of
 * plain bytes are copied at once. */
static void put_string_slow(tg_jsonw_t *w, const unsigned char *run,
                            const unsigned char *p, const unsigned char *end)
{
        while (p < end) {
                unsigned c = *p;
                int n;

                if (plain[c]) {
                        p++;
                        continue;
                }
                if (c >= 0x80 && (n = tg_utf8_seq(p, (size_t)(end - p)))) {
                        p += n;
                        continue;
                }
                if (c >= 0x80 && !w->lossy) {
                        set_err(w, TG_JSONW_EUTF8);
                        return;
                }
                put(w, run, (size_t)(p - run));
                if (c >= 0x80)
                        put_c(w, '?');
                else
                        put_escape(w, c);
                run = ++p;
        }
        put(w, run, (size_t)(p - run));
        put_c(w, '"');
}

/* A quoted string with its separator. Most strings (ids, keys, dates) are
 * printable ASCII: one reservation, one scan, one copy. */
static void put_string(tg_jsonw_t *w, const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s, *end = p + len;

        if (reserve(w, len + 2 + (w->comma != 0)))
                return;
        if (w->comma)
                w->buf[w->len++] = ',';
        w->buf[w->len++] = '"';
        while (p < end && plain[*p])
                p++;
        if (p < end) {
                put_string_slow(w, (const unsigned char *)s, p, end);
                return;
        }
        memcpy(w->buf + w->len, s, len);
        w->len += len;
        w->buf[w->len++] = '"';
}

void tg_jsonw_key(tg_jsonw_t *w, const char *key)
{
        put_string(w, key, strlen(key));
        put_c(w, ':');
        w->comma = 0;
}

void tg_jsonw_strn(tg_jsonw_t *w, const char *s, size_t len)
{
        put_string(w, s, len);
        w->comma = 1;
}

void tg_jsonw_str(tg_jsonw_t *w, const char *s)
{
        if (!s) {
                tg_jsonw_null(w);
                return;
        }
        tg_jsonw_strn(w, s, strlen(s));
}

/* A value's text, with its separator. */
static void put_value(tg_jsonw_t *w, const char *s, size_t n)
{
        if (reserve(w, n + (w->comma != 0)))
                return;
        if (w->comma)
                w->buf[w->len++] = ',';
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->comma = 1;
}

void tg_jsonw_int(tg_jsonw_t *w, int64_t v)
{
        char tmp[24], *end = tmp + sizeof(tmp), *q = end;
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

        do {
                *--q = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                *--q = '-';
        put_value(w, q, (size_t)(end - q));
}

void tg_jsonw_null(tg_jsonw_t *w)
{
        put_value(w, "null", 4);
}

void tg_jsonw_bool(tg_jsonw_t *w, int v)
{
        if (v)
                put_value(w, "true", 4);
        else
                put_value(w, "false", 5);
}

/* jansson's jsonp_dtostr: %.*g, then ".0" when it would read back as an
 * integer, then no '+' and no leading zeros in the exponent. */
void tg_jsonw_real(tg_jsonw_t *w, double v, int precision)
{
        char tmp[64], *start, *end;
        int n;

        if (!isfinite(v)) {
                set_err(w, TG_JSONW_EREAL);
                return;
        }
        if (precision <= 0 || precision > 31)
                precision = 17;
        n = snprintf(tmp, sizeof(tmp) - 2, "%.*g", precision, v);
        if (n < 0 || (size_t)n >= sizeof(tmp) - 2) {
                set_err(w, TG_JSONW_EREAL);
                return;
        }
        if (!strchr(tmp, '.') && !strchr(tmp, 'e')) {
                memcpy(tmp + n, ".0", 3);
                n += 2;
        }
        start = strchr(tmp, 'e');
        if (start) {
                start++;
                end = start + 1;
                if (*start == '-')
                        start++;
                while (*end == '0')
                        end++;
                if (end != start) {
                        memmove(start, end, (size_t)(n - (end - tmp)) + 1);
                        n -= (int)(end - start);
                }
        }
        put_value(w, tmp, (size_t)n);
}

void tg_jsonw_kstr(tg_jsonw_t *w, const char *key, const char *s)
{
        tg_jsonw_key(w, key);
        tg_jsonw_str(w, s);
}

void tg_jsonw_kint(tg_jsonw_t *w, const char *key, int64_t v)
{
        tg_jsonw_key(w, key);
        tg_jsonw_int(w, v);
}
