/*
 * The lookups over a text tg_jsonr_check accepted (jsonr.h): each walks
 * the bytes from the value it is given, and stops at `end` whatever they
 * say.
 */
#include "jsonr.h"

#include <stdlib.h>
#include <string.h>

static const char *ws(const char *p, const char *end)
{
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        return p;
}

/* Past the closing quote of the string whose opening quote is at p: the
 * next quote not escaped, i.e. after an even run of backslashes. */
static const char *skip_string(const char *p, const char *end)
{
        for (p++; p < end;) {
                const char *q = memchr(p, '"', (size_t)(end - p)), *b;

                if (!q)
                        return end;
                for (b = q; b > p && b[-1] == '\\';)
                        b--;
                if ((q - b) % 2 == 0)
                        return q + 1;
                p = q + 1;
        }
        return end;
}

static const char *skip(const char *p, const char *end)
{
        int depth = 0;

        if (*p != '{' && *p != '[' && *p != '"') {
                while (p < end && !strchr(",]} \t\n\r", *p))
                        p++;
                return p;
        }
        do {
                switch (*p) {
                case '"':
                        p = skip_string(p, end);
                        continue;
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        depth--;
                        break;
                }
                p++;
        } while (depth > 0 && p < end);
        return p;
}

static int key_is(const char *s, size_t n, const char *key)
{
        size_t want = strlen(key);
        char small[256], *buf = small;
        int same;

        if (!memchr(s, '\\', n))
                return n == want && memcmp(s, key, n) == 0;
        /* Each byte of the key takes at most 6 escaped. */
        if (n > 6 * want + 6)
                return 0;
        if (n > sizeof(small) && !(buf = malloc(n)))
                return 0;
        same =
            tg_jsonr_unescape(s, n, buf) == want && memcmp(buf, key, want) == 0;
        if (buf != small)
                free(buf);
        return same;
}

const char *tg_jsonr_root(const char *buf, const char *end)
{
        return ws(buf, end);
}

void tg_jsonr_fields(const char *obj, const char *end, const char *const *keys,
                     size_t n, const char **vals)
{
        const char *p;
        size_t found = 0;

        for (size_t i = 0; i < n; i++)
                vals[i] = NULL;
        if (!obj || obj >= end || *obj != '{')
                return;
        for (p = ws(obj + 1, end); p < end && *p == '"' && found < n;) {
                const char *k = p + 1, *v;

                p = skip_string(p, end);
                v = ws(ws(p, end) + 1, end); /* past ':' */
                if (v >= end)
                        return;
                for (size_t i = 0; i < n; i++) {
                        if (!vals[i] &&
                            key_is(k, (size_t)(p - 1 - k), keys[i])) {
                                vals[i] = v;
                                found++;
                                break;
                        }
                }
                p = ws(skip(v, end), end);
                if (p >= end || *p != ',')
                        return;
                p = ws(p + 1, end);
        }
}

const char *tg_jsonr_get(const char *obj, const char *end, const char *key)
{
        const char *v;

        tg_jsonr_fields(obj, end, &key, 1, &v);
        return v;
}

const char *tg_jsonr_member(const char *obj, const char *end, const char *prev,
                            const char **key, size_t *key_len)
{
        const char *p, *q;

        if (!obj || obj >= end || *obj != '{')
                return NULL;
        if (!prev) {
                p = ws(obj + 1, end);
        } else {
                p = ws(skip(prev, end), end);
                if (p >= end || *p != ',')
                        return NULL;
                p = ws(p + 1, end);
        }
        if (p >= end || *p != '"')
                return NULL;
        q = skip_string(p, end);
        *key = p + 1;
        *key_len = (size_t)(q - 1 - (p + 1));
        p = ws(ws(q, end) + 1, end); /* past ':' */
        return p < end ? p : NULL;
}

const char *tg_jsonr_first(const char *arr, const char *end)
{
        const char *p;

        if (!arr || arr >= end || *arr != '[')
                return NULL;
        p = ws(arr + 1, end);
        return p < end && *p != ']' ? p : NULL;
}

const char *tg_jsonr_next(const char *elem, const char *end)
{
        const char *p = ws(skip(elem, end), end);

        if (p >= end || *p != ',')
                return NULL;
        p = ws(p + 1, end);
        return p < end ? p : NULL;
}

int tg_jsonr_int(const char *v, const char *end, int64_t *out)
{
        const char *p;
        uint64_t u = 0;

        if (!v || v >= end)
                return 0;
        p = v + (*v == '-');
        if (p >= end || *p < '0' || *p > '9')
                return 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
                u = u * 10 + (uint64_t)(*p - '0');
        if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
                return 0;
        /* In range: tg_jsonr_check refused anything past int64. */
        *out = *v == '-' ? (int64_t)(0 - u) : (int64_t)u;
        return 1;
}

size_t tg_jsonr_raw_len(const char *v, const char *end)
{
        if (!v || v >= end || *v != '"')
                return 0;
        return (size_t)(skip_string(v, end) - 1 - (v + 1));
}

size_t tg_jsonr_str(const char *v, const char *end, char *out)
{
        return tg_jsonr_unescape(v + 1, tg_jsonr_raw_len(v, end), out);
}

static unsigned hex4(const char *p)
{
        unsigned v = 0;

        for (int i = 0; i < 4; i++) {
                unsigned c = (unsigned char)p[i];
                v = v << 4 | (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        return v;
}

static size_t utf8_put(unsigned cp, char *o)
{
        if (cp < 0x80) {
                o[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char)(0xC0 | cp >> 6);
                o[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char)(0xE0 | cp >> 12);
                o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
                o[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

size_t tg_jsonr_unescape(const char *s, size_t n, char *out)
{
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        size_t o = 0;

        for (size_t i = 0; i < n;) {
                const char *bs = memchr(s + i, '\\', n - i), *e;
                size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
                unsigned cp;

                memcpy(out + o, s + i, run);
                o += run;
                i += run;
                if (i + 1 >= n) { /* no escape left (or a stray '\') */
                        if (i < n)
                                out[o++] = s[i++];
                        break;
                }
                if (s[i + 1] != 'u') {
                        e = strchr(from, s[i + 1]);
                        out[o++] = e && *e ? to[e - from] : s[i + 1];
                        i += 2;
                        continue;
                }
                if (i + 6 > n)
                        break;
                cp = hex4(s + i + 2);
                i += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n &&
                    s[i] == '\\' && s[i + 1] == 'u') {
                        cp = 0x10000 + ((cp - 0xD800) << 10) +
                             (hex4(s + i + 2) - 0xDC00);
                        i += 6;
                }
                o += utf8_put(cp, out + o);
        }
        return o;
}
