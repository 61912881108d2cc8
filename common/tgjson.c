#include "tgjson.h"

#include <stdint.h>
#include <string.h>

int tg_json_depth_ok(const char *buf, size_t len, int max_depth)
{
        int depth = 0, in_str = 0;

        for (size_t i = 0; i < len; i++) {
                char c = buf[i];
                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = 0;
                } else if (c == '"') {
                        in_str = 1;
                } else if (c == '{' || c == '[') {
                        if (++depth > max_depth)
                                return 0;
                } else if (c == '}' || c == ']') {
                        depth--;
                }
        }
        return 1;
}

int tg_utf8_seq(const unsigned char *p, size_t left)
{
        unsigned c = p[0];
        int n = c < 0x80         ? 1
                : (c >> 5) == 6  ? 2
                : (c >> 4) == 14 ? 3
                : (c >> 3) == 30 ? 4
                                 : 0;
        uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;

        if (n <= 1)
                return n;
        if ((size_t)n > left)
                return 0;
        for (int i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
            (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

void tg_utf8_sanitize(char *s)
{
        unsigned char *p = (unsigned char *)s;
        size_t left = strlen(s);

        while (*p) {
                /* a NUL stops a sequence early: it is never a continuation */
                int n = tg_utf8_seq(p, left);
                if (n == 0) {
                        *p++ = '?';
                        left--;
                        continue;
                }
                p += n;
                left -= (size_t)n;
        }
}
