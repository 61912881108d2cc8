/*
 * Redis connection URLs, shared by the worker (async) and the CLIs (sync).
 *
 *   redis://[[user]:password@]host[:port][/db]
 *   unix:///path/to.sock[?db=N&password=...&user=...]
 *
 * User and password may be percent-encoded ("p%40ss" for "p@ss"). IPv6
 * hosts go in brackets: redis://[::1]:6379. rediss:// is refused: hiredis
 * 0.14 (Debian 12) has no TLS.
 *
 * The password never appears in an error message: use
 * tg_redis_url_describe() for logs.
 */
#ifndef TG_REDIS_URL_H
#define TG_REDIS_URL_H

#include <stddef.h>

/* hiredis's context, declared here so this header needs no hiredis path. */
struct redisContext;

#define TG_REDIS_URL_MAX      2048
#define TG_REDIS_HOST_MAX     255
#define TG_REDIS_PATH_MAX     107 /* sun_path is 108 bytes with the NUL */
#define TG_REDIS_USER_MAX     128
#define TG_REDIS_PASSWORD_MAX 512
#define TG_REDIS_DEFAULT_PORT 6379

typedef struct tg_redis_url {
        int is_unix;                      /* 1: path is set, not host */
        char host[TG_REDIS_HOST_MAX + 1]; /* without IPv6 brackets */
        int port;                         /* 1-65535 */
        char path[TG_REDIS_PATH_MAX + 1]; /* unix socket path */
        char user[TG_REDIS_USER_MAX + 1]; /* empty: AUTH password only */
        char password[TG_REDIS_PASSWORD_MAX + 1]; /* empty: no AUTH */
        int db;                                   /* SELECT when > 0 */
} tg_redis_url_t;

/* Parses url into out. Returns 0, or -1 with errstr saying what is wrong
 * (never quoting the password). */
int tg_redis_url_parse(const char *url, tg_redis_url_t *out, char *errstr,
                       size_t errstr_size);

/* "redis://host:port/db" or "unix:///path?db=N" with any credentials
 * shown as "***", for logs and error messages. */
void tg_redis_url_describe(const tg_redis_url_t *u, char *out, size_t size);

/* Connects, then AUTH and SELECT as the URL says. timeout_ms bounds the
 * connect and every later command (0 = no timeout). Returns NULL with
 * errstr on any failure. */
struct redisContext *tg_redis_connect_sync(const tg_redis_url_t *u,
                                           int timeout_ms, char *errstr,
                                           size_t errstr_size);

#endif
