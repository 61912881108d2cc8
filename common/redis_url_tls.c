/* The redis-tls-* options folded into the Redis URL (redis_url.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

typedef struct part {
        const char *param; /* tls-NAME in the URL */
        const char *value;
} part_t;

/* Percent-encodes what a query value must not hold raw. */
static size_t put_value(char *out, const char *v)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
                if (*p == '%' || *p == '&' || *p == '=' || *p == '#' ||
                    *p == '+' || *p <= ' ' || *p >= 0x7f) {
                        out[n++] = '%';
                        out[n++] = hex[*p >> 4];
                        out[n++] = hex[*p & 15];
                } else {
                        out[n++] = (char)*p;
                }
        }
        return n;
}

static size_t collect(const tg_redis_tls_args_t *a, part_t *parts)
{
        const part_t all[] = {
            {"tls-ca-file", a->ca_file},
            {"tls-ca-dir", a->ca_dir},
            {"tls-cert", a->cert},
            {"tls-key", a->key},
            {"tls-server-name", a->server_name},
            {"tls-insecure", a->insecure ? "1" : NULL},
        };
        size_t n = 0;

        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                if (all[i].value && all[i].value[0])
                        parts[n++] = all[i];
        return n;
}

char *tg_redis_url_with_tls(const char *url, const tg_redis_tls_args_t *a,
                            char *errstr, size_t errstr_size)
{
        part_t parts[6];
        size_t n = collect(a, parts), len = strlen(url), cap = len + 1;
        char *out, *o;

        if (n > 0 && !tg_redis_tls_available()) {
                snprintf(errstr, errstr_size, "--redis-%s: %s", parts[0].param,
                         tg_redis_tls_missing());
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                cap += 2 + strlen(parts[i].param) + 3 * strlen(parts[i].value);
        out = malloc(cap);
        if (!out) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        memcpy(out, url, len);
        o = out + len;
        for (size_t i = 0; i < n; i++) {
                *o++ = (i == 0 && !strchr(url, '?')) ? '?' : '&';
                memcpy(o, parts[i].param, strlen(parts[i].param));
                o += strlen(parts[i].param);
                *o++ = '=';
                o += put_value(o, parts[i].value);
        }
        *o = '\0';
        return out;
}
