#include "redis_url.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "redis_tls.h"

#ifdef TG_HAVE_REDIS_TLS
int tg_redis_tls_available(void)
{
        return 1;
}

const char *tg_redis_tls_missing(void)
{
        return "";
}
#else
int tg_redis_tls_available(void)
{
        return 0;
}

const char *tg_redis_tls_missing(void)
{
        return "this build has no Redis TLS: " TG_REDIS_TLS_MISSING
               " (docs/operations.md, \"Redis over TLS\")";
}
#endif

__attribute__((format(printf, 3, 4))) static int fail(char *errstr, size_t size,
                                                      const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = snprintf(errstr, size, "redis URL: ");
        if (n >= 0 && (size_t)n < size)
                vsnprintf(errstr + n, size - (size_t)n, fmt, ap);
        va_end(ap);
        return -1;
}

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

/* Percent-decodes s[0..len) into out (cap bytes with the NUL). A NUL byte
 * ("%00") is refused: it would silently cut the credential short. */
static int pct_decode(const char *s, size_t len, char *out, size_t cap)
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                int c = (unsigned char)s[i];
                if (c == '%') {
                        int hi, lo;
                        if (i + 2 >= len)
                                return -1;
                        hi = hexval(s[i + 1]);
                        lo = hexval(s[i + 2]);
                        if (hi < 0 || lo < 0 || (hi | lo) == 0)
                                return -1;
                        c = hi * 16 + lo;
                        i += 2;
                }
                if (o + 1 >= cap)
                        return -1;
                out[o++] = (char)c;
        }
        out[o] = '\0';
        return 0;
}

/* Non-negative decimal of len bytes, at most max. */
static int parse_uint(const char *s, size_t len, long max, long *out)
{
        long v = 0;

        if (len == 0 || len > 10)
                return -1;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        if (v > max)
                return -1;
        *out = v;
        return 0;
}

static int set_db(tg_redis_url_t *u, int *db_seen, const char *s, size_t len,
                  char *errstr, size_t size)
{
        long v;

        if (*db_seen)
                return fail(errstr, size, "database given twice");
        if (parse_uint(s, len, INT_MAX, &v))
                return fail(errstr, size,
                            "database must be a number 0-%d, got \"%.*s\"",
                            INT_MAX, (int)(len > 32 ? 32 : len), s);
        u->db = (int)v;
        *db_seen = 1;
        return 0;
}

static int host_chars_ok(const char *s, size_t len, int bracketed);

static int set_flag(int *dst, const char *v, size_t vlen, char *errstr,
                    size_t size)
{
        static const char *yes[] = {"1", "true", "yes"},
                          *no[] = {"0", "false", "no"};

        for (size_t i = 0; i < 3; i++) {
                if (vlen == strlen(yes[i]) && memcmp(v, yes[i], vlen) == 0) {
                        *dst = 1;
                        return 0;
                }
                if (vlen == strlen(no[i]) && memcmp(v, no[i], vlen) == 0) {
                        *dst = 0;
                        return 0;
                }
        }
        return fail(errstr, size, "tls-insecure must be 1 or 0");
}

/* One tls-* parameter into the string field it names (cap bytes). */
static int set_tls_str(char *dst, size_t cap, const char *name, const char *v,
                       size_t vlen, char *errstr, size_t size)
{
        if (dst[0])
                return fail(errstr, size, "%s given twice", name);
        if (vlen == 0)
                return fail(errstr, size, "%s is empty", name);
        if (pct_decode(v, vlen, dst, cap))
                return fail(errstr, size,
                            "%s: bad %%-escape or longer than %zu bytes", name,
                            cap - 1);
        return 0;
}

/* tls-NAME=value of a rediss:// URL; 1 when p is no tls-* parameter. */
static int query_tls(tg_redis_url_t *u, const char *p, size_t nlen,
                     const char *v, size_t vlen, char *errstr, size_t size)
{
        tg_redis_tls_opts_t *t = &u->tls;
        char name[32];

        if (nlen < 4 || memcmp(p, "tls-", 4) != 0 || nlen >= sizeof(name))
                return 1;
        snprintf(name, sizeof(name), "%.*s", (int)nlen, p);
        if (!tg_redis_tls_available())
                return fail(errstr, size, "%s: %s", name,
                            tg_redis_tls_missing());
        if (u->is_unix || !t->enabled)
                return fail(errstr, size, "%s needs a rediss:// URL", name);
        if (strcmp(name, "tls-ca-file") == 0)
                return set_tls_str(t->ca_file, sizeof(t->ca_file), name, v,
                                   vlen, errstr, size);
        if (strcmp(name, "tls-ca-dir") == 0)
                return set_tls_str(t->ca_dir, sizeof(t->ca_dir), name, v, vlen,
                                   errstr, size);
        if (strcmp(name, "tls-cert") == 0)
                return set_tls_str(t->cert, sizeof(t->cert), name, v, vlen,
                                   errstr, size);
        if (strcmp(name, "tls-key") == 0)
                return set_tls_str(t->key, sizeof(t->key), name, v, vlen,
                                   errstr, size);
        if (strcmp(name, "tls-server-name") == 0) {
                if (set_tls_str(t->server_name, sizeof(t->server_name), name, v,
                                vlen, errstr, size))
                        return -1;
                if (!host_chars_ok(t->server_name, strlen(t->server_name), 0))
                        return fail(errstr, size,
                                    "tls-server-name: bad character");
                return 0;
        }
        if (strcmp(name, "tls-insecure") == 0)
                return set_flag(&t->insecure, v, vlen, errstr, size);
        return 1;
}

static int query_param(tg_redis_url_t *u, int *db_seen, const char *p,
                       size_t len, char *errstr, size_t size)
{
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        const char *v = eq ? eq + 1 : p + len;
        size_t vlen = (size_t)(p + len - v);
        int rc = query_tls(u, p, nlen, v, vlen, errstr, size);

        if (rc <= 0)
                return rc;
        if (nlen == 2 && memcmp(p, "db", 2) == 0)
                return set_db(u, db_seen, v, vlen, errstr, size);
        if (nlen == 8 && memcmp(p, "password", 8) == 0) {
                if (u->password[0])
                        return fail(errstr, size, "password given twice");
                if (pct_decode(v, vlen, u->password, sizeof(u->password)))
                        return fail(errstr, size,
                                    "password: bad %%-escape or longer than "
                                    "%d bytes",
                                    TG_REDIS_PASSWORD_MAX);
                return 0;
        }
        if ((nlen == 4 && memcmp(p, "user", 4) == 0) ||
            (nlen == 8 && memcmp(p, "username", 8) == 0)) {
                if (pct_decode(v, vlen, u->user, sizeof(u->user)))
                        return fail(errstr, size,
                                    "user: bad %%-escape or longer than %d "
                                    "bytes",
                                    TG_REDIS_USER_MAX);
                return 0;
        }
        return fail(errstr, size,
                    "unknown query parameter \"%.*s\" (expected db, "
                    "password, user or, with rediss://, tls-ca-file, "
                    "tls-ca-dir, tls-cert, tls-key, tls-server-name, "
                    "tls-insecure)",
                    (int)(nlen > 32 ? 32 : nlen), p);
}

static int parse_query(tg_redis_url_t *u, int *db_seen, const char *q,
                       char *errstr, size_t size)
{
        while (*q) {
                size_t len = strcspn(q, "&");
                if (len > 0 &&
                    query_param(u, db_seen, q, len, errstr, size) != 0)
                        return -1;
                q += len;
                if (*q == '&')
                        q++;
        }
        return 0;
}

/* "user:password" (user may be empty). A bare "word@" is refused: some
 * clients read it as a user, others as a password. */
static int parse_userinfo(tg_redis_url_t *u, const char *s, size_t len,
                          char *errstr, size_t size)
{
        const char *colon = memchr(s, ':', len);
        size_t ulen;

        if (!colon)
                return fail(errstr, size,
                            "credentials must be \"user:password@\" or "
                            "\":password@\"");
        ulen = (size_t)(colon - s);
        if (pct_decode(s, ulen, u->user, sizeof(u->user)))
                return fail(errstr, size,
                            "user: bad %%-escape or longer than %d bytes",
                            TG_REDIS_USER_MAX);
        if (pct_decode(colon + 1, len - ulen - 1, u->password,
                       sizeof(u->password)))
                return fail(errstr, size,
                            "password: bad %%-escape or longer than %d bytes",
                            TG_REDIS_PASSWORD_MAX);
        return 0;
}

static int host_chars_ok(const char *s, size_t len, int bracketed)
{
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
                        continue;
                if (bracketed && (c == ':' || c == '%'))
                        continue;
                return 0;
        }
        return 1;
}

static int set_host(tg_redis_url_t *u, const char *h, size_t len, int bracketed,
                    char *errstr, size_t size)
{
        if (len == 0)
                return fail(errstr, size, "missing host");
        if (len > TG_REDIS_HOST_MAX)
                return fail(errstr, size, "host longer than %d bytes",
                            TG_REDIS_HOST_MAX);
        if (!host_chars_ok(h, len, bracketed))
                return fail(errstr, size, "bad character in host \"%.*s\"%s",
                            (int)(len > 64 ? 64 : len), h,
                            bracketed ? ""
                                      : " (IPv6 addresses go in brackets)");
        memcpy(u->host, h, len);
        u->host[len] = '\0';
        return 0;
}

static int parse_hostport(tg_redis_url_t *u, const char *s, size_t len,
                          char *errstr, size_t size)
{
        const char *end = s + len, *port = NULL;
        long v;

        if (len > 0 && s[0] == '[') {
                const char *rb = memchr(s, ']', len);
                if (!rb)
                        return fail(errstr, size,
                                    "missing ']' after IPv6 "
                                    "host");
                if (set_host(u, s + 1, (size_t)(rb - s - 1), 1, errstr, size))
                        return -1;
                if (rb + 1 < end && rb[1] != ':')
                        return fail(errstr, size, "junk after ']'");
                port = rb + 1 < end ? rb + 2 : NULL;
        } else {
                const char *colon = memchr(s, ':', len);
                if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
                        return fail(errstr, size,
                                    "IPv6 addresses go in brackets: "
                                    "redis://[::1]:6379");
                if (set_host(u, s, colon ? (size_t)(colon - s) : len, 0, errstr,
                             size))
                        return -1;
                port = colon ? colon + 1 : NULL;
        }
        if (!port)
                return 0;
        if (parse_uint(port, (size_t)(end - port), 65535, &v) || v == 0)
                return fail(errstr, size, "port must be 1-65535, got \"%.*s\"",
                            (int)(end - port > 16 ? 16 : end - port), port);
        u->port = (int)v;
        return 0;
}

/* redis://[[user]:password@]host[:port][/db][?query] */
static int parse_tcp(tg_redis_url_t *u, const char *s, char *errstr,
                     size_t size)
{
        size_t alen = strcspn(s, "/?");
        const char *at = NULL, *hp = s, *rest = s + alen;
        int db_seen = 0;

        for (size_t i = 0; i < alen; i++)
                if (s[i] == '@')
                        at = s + i; /* the last '@': passwords may hold one */
        if (at) {
                if (parse_userinfo(u, s, (size_t)(at - s), errstr, size))
                        return -1;
                hp = at + 1;
        }
        if (parse_hostport(u, hp, (size_t)(s + alen - hp), errstr, size))
                return -1;
        if (*rest == '/') {
                size_t dlen = strcspn(rest + 1, "?");
                if (dlen > 0 &&
                    set_db(u, &db_seen, rest + 1, dlen, errstr, size) != 0)
                        return -1;
                rest += 1 + dlen;
        }
        return *rest == '?' ? parse_query(u, &db_seen, rest + 1, errstr, size)
                            : 0;
}

/* unix:///path/to.sock[?query] */
static int parse_unix(tg_redis_url_t *u, const char *s, char *errstr,
                      size_t size)
{
        size_t plen = strcspn(s, "?");
        int db_seen = 0;

        if (s[0] != '/')
                return fail(errstr, size,
                            "unix socket path must be absolute: "
                            "unix:///path/to.sock");
        if (plen > TG_REDIS_PATH_MAX)
                return fail(errstr, size,
                            "unix socket path longer than %d bytes",
                            TG_REDIS_PATH_MAX);
        memcpy(u->path, s, plen);
        u->path[plen] = '\0';
        u->is_unix = 1;
        return s[plen] == '?'
                   ? parse_query(u, &db_seen, s + plen + 1, errstr, size)
                   : 0;
}

/* A client certificate needs its key and the other way round. */
static int tls_check(const tg_redis_tls_opts_t *t, char *errstr, size_t size)
{
        if (!t->cert[0] != !t->key[0])
                return fail(errstr, size,
                            "mutual TLS needs both tls-cert and tls-key "
                            "(--redis-tls-cert, --redis-tls-key)");
        return 0;
}

int tg_redis_url_parse(const char *url, tg_redis_url_t *out, char *errstr,
                       size_t errstr_size)
{
        memset(out, 0, sizeof(*out));
        out->port = TG_REDIS_DEFAULT_PORT;
        if (!url || !*url)
                return fail(errstr, errstr_size, "empty");
        if (strlen(url) > TG_REDIS_URL_MAX)
                return fail(errstr, errstr_size, "longer than %d bytes",
                            TG_REDIS_URL_MAX);
        if (strncmp(url, "redis://", 8) == 0)
                return parse_tcp(out, url + 8, errstr, errstr_size);
        if (strncmp(url, "unix://", 7) == 0)
                return parse_unix(out, url + 7, errstr, errstr_size);
        if (strncmp(url, "rediss://", 9) == 0) {
                if (!tg_redis_tls_available())
                        return fail(errstr, errstr_size, "rediss://: %s",
                                    tg_redis_tls_missing());
                out->tls.enabled = 1;
                if (parse_tcp(out, url + 9, errstr, errstr_size))
                        return -1;
                return tls_check(&out->tls, errstr, errstr_size);
        }
        /* Do not echo the URL: it may be "host:password" typed by mistake. */
        return fail(errstr, errstr_size,
                    "must start with redis://, rediss:// or unix:// "
                    "(e.g. redis://127.0.0.1:6379/0)");
}

void tg_redis_url_describe(const tg_redis_url_t *u, char *out, size_t size)
{
        const char *cred = u->password[0] ? ":***@" : "";

        if (u->is_unix) {
                snprintf(out, size, "unix://%s?db=%d%s", u->path, u->db,
                         u->password[0] ? "&password=***" : "");
                return;
        }
        const char *scheme = u->tls.enabled ? "rediss" : "redis";
        if (u->user[0] && u->password[0])
                snprintf(out, size, "%s://%s:***@", scheme, u->user);
        else
                snprintf(out, size, "%s://%s", scheme, cred);
        size_t n = strlen(out);
        if (n >= size)
                return;
        if (strchr(u->host, ':'))
                snprintf(out + n, size - n, "[%s]:%d/%d", u->host, u->port,
                         u->db);
        else
                snprintf(out + n, size - n, "%s:%d/%d", u->host, u->port,
                         u->db);
}

/* Runs one command and checks that it did not fail. `what` names it in
 * errstr; the arguments are never printed (AUTH carries the password). */
static int cmd_ok(redisContext *c, const char *what, char *errstr, size_t size,
                  const char *fmt, ...)
{
        redisReply *r;
        va_list ap;
        int rc = -1;

        va_start(ap, fmt);
        r = redisvCommand(c, fmt, ap);
        va_end(ap);
        if (!r)
                snprintf(errstr, size, "%s: %s", what,
                         c->errstr[0] ? c->errstr : "I/O error");
        else if (r->type == REDIS_REPLY_ERROR)
                snprintf(errstr, size, "%s: %s", what, r->str);
        else
                rc = 0;
        if (r)
                freeReplyObject(r);
        return rc;
}

static redisContext *connect_raw(const tg_redis_url_t *u, int timeout_ms)
{
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

        if (u->is_unix)
                return timeout_ms > 0 ? redisConnectUnixWithTimeout(u->path, tv)
                                      : redisConnectUnix(u->path);
        return timeout_ms > 0 ? redisConnectWithTimeout(u->host, u->port, tv)
                              : redisConnect(u->host, u->port);
}

static int login(redisContext *c, const tg_redis_url_t *u, char *errstr,
                 size_t size)
{
        if (u->password[0] && u->user[0] &&
            cmd_ok(c, "AUTH", errstr, size, "AUTH %s %s", u->user, u->password))
                return -1;
        if (u->password[0] && !u->user[0] &&
            cmd_ok(c, "AUTH", errstr, size, "AUTH %s", u->password))
                return -1;
        if (u->db > 0 && cmd_ok(c, "SELECT", errstr, size, "SELECT %d", u->db))
                return -1;
        return 0;
}

/* The handshake runs under the command timeout set just before. The
 * context's SSL object keeps the OpenSSL context alive after t is gone. */
static int tls_handshake(redisContext *c, tg_redis_tls_t **t,
                         const tg_redis_url_t *u, char *why, size_t size)
{
        *t = tg_redis_tls_new(u, why, size);
        return *t ? tg_redis_tls_attach(*t, c, why, size) : -1;
}

/* The first command over TLS is where a refused client certificate shows
 * (TLS 1.3): say why the link broke when OpenSSL knows, else what to check. */
static void tls_login_failed(tg_redis_tls_t *t, redisContext *c, char *why,
                             size_t size)
{
        size_t n = strlen(why);
        const char *ssl = tg_redis_tls_failure(t);

        if (c->err != REDIS_ERR_IO && c->err != REDIS_ERR_EOF)
                return;
        if (ssl[0])
                snprintf(why + n, size - n, " (%s)", ssl);
        else
                snprintf(why + n, size - n, "%s", tg_redis_tls_hint(t));
}

redisContext *tg_redis_connect_sync(const tg_redis_url_t *u, int timeout_ms,
                                    char *errstr, size_t errstr_size)
{
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        char where[TG_REDIS_HOST_MAX + TG_REDIS_USER_MAX + 64];
        char why[640];
        redisContext *c;
        tg_redis_tls_t *t = NULL;

        tg_redis_url_describe(u, where, sizeof(where));
        c = connect_raw(u, timeout_ms);
        if (!c) {
                snprintf(errstr, errstr_size, "redis %s: out of memory", where);
                return NULL;
        }
        if (c->err) {
                snprintf(why, sizeof(why), "connect: %s", c->errstr);
                goto err;
        }
        if (timeout_ms > 0 && redisSetTimeout(c, tv) != REDIS_OK) {
                snprintf(why, sizeof(why), "cannot set timeout");
                goto err;
        }
        if (u->tls.enabled && tls_handshake(c, &t, u, why, sizeof(why)))
                goto err;
        if (login(c, u, why, sizeof(why))) {
                if (t)
                        tls_login_failed(t, c, why, sizeof(why));
                goto err;
        }
        tg_redis_tls_free(t);
        return c;
err:
        snprintf(errstr, errstr_size, "redis %s: %s", where, why);
        tg_redis_tls_free(t);
        redisFree(c);
        return NULL;
}
