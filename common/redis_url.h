/*
 * Redis connection URLs, shared by the worker (async) and the CLIs (sync).
 *
 *   redis://[[user]:password@]host[:port][/db]
 *   rediss://[[user]:password@]host[:port][/db][?tls-ca-file=...&...]
 *   unix:///path/to.sock[?db=N&password=...&user=...]
 *
 * User and password may be percent-encoded ("p%40ss" for "p@ss"). IPv6
 * hosts go in brackets: redis://[::1]:6379. "user:password@" logs in as an
 * ACL user (AUTH user password: ElastiCache/MemoryDB RBAC users).
 *
 * rediss:// is Redis over TLS (docs/operations.md, "Redis over TLS"): the
 * server's certificate is verified against the system CA store (or
 * tls-ca-file / tls-ca-dir) and its name against the host (or
 * tls-server-name, also sent as SNI). Query parameters, each also a config
 * option "redis-<name>" that tg_config_load folds into the URL:
 *   tls-ca-file, tls-ca-dir, tls-cert, tls-key (mutual TLS),
 *   tls-server-name, tls-insecure=1 (no verification at all).
 * A build without TLS (hiredis < 1.0, Debian 12) refuses rediss:// and every
 * tls-* parameter with tg_redis_tls_missing()'s reason.
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
#define TG_REDIS_FILE_MAX     1024 /* a CA, certificate or key path */

typedef struct tg_redis_tls_opts {
        int enabled;  /* rediss:// */
        int insecure; /* tls-insecure=1: no chain or name check */
        char ca_file[TG_REDIS_FILE_MAX + 1];     /* empty: system store */
        char ca_dir[TG_REDIS_FILE_MAX + 1];      /* c_rehash'ed directory */
        char cert[TG_REDIS_FILE_MAX + 1];        /* client chain (PEM) */
        char key[TG_REDIS_FILE_MAX + 1];         /* its private key (PEM) */
        char server_name[TG_REDIS_HOST_MAX + 1]; /* empty: the host */
} tg_redis_tls_opts_t;

typedef struct tg_redis_url {
        int is_unix;                      /* 1: path is set, not host */
        char host[TG_REDIS_HOST_MAX + 1]; /* without IPv6 brackets */
        int port;                         /* 1-65535 */
        char path[TG_REDIS_PATH_MAX + 1]; /* unix socket path */
        char user[TG_REDIS_USER_MAX + 1]; /* empty: AUTH password only */
        char password[TG_REDIS_PASSWORD_MAX + 1]; /* empty: no AUTH */
        int db;                                   /* SELECT when > 0 */
        tg_redis_tls_opts_t tls;
} tg_redis_url_t;

/* Parses url into out. Returns 0, or -1 with errstr saying what is wrong
 * (never quoting the password). */
int tg_redis_url_parse(const char *url, tg_redis_url_t *out, char *errstr,
                       size_t errstr_size);

/* 1 when this build speaks TLS to Redis (TG_HAVE_REDIS_TLS). */
int tg_redis_tls_available(void);

/* Why this build has no Redis TLS ("this build has no Redis TLS: ..."), or
 * "" when it has. */
const char *tg_redis_tls_missing(void);

/* The redis-tls-* options as given (flags, TOLLGATE_REDIS_TLS_* variables,
 * file keys); NULL or "" when unset. */
typedef struct tg_redis_tls_args {
        const char *ca_file, *ca_dir, *cert, *key, *server_name;
        int insecure;
} tg_redis_tls_args_t;

/* url with the options that are set appended as tls-* query parameters
 * (percent-encoded), so that one string carries the whole connection and
 * every Redis user (worker, CLIs) parses it alike. Returns a malloc'd URL
 * (a copy of url when none is set), or NULL with errstr when this build has
 * no TLS and an option is set (the options' names, never the URL, in the
 * message). The URL itself is checked later, by tg_redis_url_parse. */
char *tg_redis_url_with_tls(const char *url, const tg_redis_tls_args_t *a,
                            char *errstr, size_t errstr_size);

/* "redis://host:port/db" or "unix:///path?db=N" with any credentials
 * shown as "***", for logs and error messages. */
void tg_redis_url_describe(const tg_redis_url_t *u, char *out, size_t size);

/* Connects (and for rediss:// completes the TLS handshake, verifying the
 * server), then AUTH and SELECT as the URL says. timeout_ms bounds the
 * connect and every later command (0 = no timeout). Returns NULL with
 * errstr on any failure. */
struct redisContext *tg_redis_connect_sync(const tg_redis_url_t *u,
                                           int timeout_ms, char *errstr,
                                           size_t errstr_size);

#endif
