/*
 * TLS for Redis links (rediss://, docs/operations.md "Redis over TLS"), on
 * hiredis_ssl (hiredis >= 1.0) and OpenSSL.
 *
 * We build the OpenSSL context ourselves and hand hiredis one SSL object per
 * link (redisInitiateSSL) instead of using redisCreateSSLContext: hiredis's
 * own context checks the chain but never the server's name, and reports a
 * failure only as "certificate verify failed". Here the name is checked
 * (SSL_set1_host, or the IP address), SNI is sent for names, and a verify
 * callback keeps the check that failed ("self-signed certificate",
 * "hostname mismatch", "certificate has expired") for the error.
 *
 * Ownership and threads: a tg_redis_tls_t belongs to whoever made it (the
 * ledger client, or one synchronous connect) and is used from that one
 * thread. An attached link's SSL object belongs to hiredis (freed with the
 * redisContext); the CA, certificate and key are read once, by
 * tg_redis_tls_new, so a missing or unreadable file fails at start.
 *
 * On a build without TLS (TG_HAVE_REDIS_TLS unset) tg_redis_tls_new fails
 * with tg_redis_tls_missing().
 */
#ifndef TG_REDIS_TLS_H
#define TG_REDIS_TLS_H

#include <stddef.h>

#include "redis_url.h"

typedef struct tg_redis_tls tg_redis_tls_t;

/* Loads the CA store, the client certificate and key of u->tls (which must
 * be enabled). Returns NULL with errstr naming the file and OpenSSL's
 * reason. With tls-insecure it logs a warning: nothing is verified. */
tg_redis_tls_t *tg_redis_tls_new(const tg_redis_url_t *u, char *errstr,
                                 size_t errstr_size);

/* Starts the TLS handshake on a connected (sync) or connecting (async)
 * context: it completes before tg_redis_tls_attach returns on a blocking
 * context, on the loop's read/write events otherwise. Clears the last
 * failure. Returns 0, or -1 with errstr (the failed check when known). */
int tg_redis_tls_attach(tg_redis_tls_t *t, struct redisContext *c, char *errstr,
                        size_t errstr_size);

/* Why the last handshake failed: the certificate check, e.g.
 * "certificate verify failed: self-signed certificate (depth 0, /CN=...)",
 * else OpenSSL's newest error of this thread (the server's alert, e.g.
 * "tlsv13 alert certificate required"), else "". Call it from the
 * callback that saw the link fail. */
const char *tg_redis_tls_failure(tg_redis_tls_t *t);

/* With TLS 1.3 a server that refuses our client certificate (or its
 * absence) does so after the handshake: the first command then fails with
 * a reset. This says what to check: " (over TLS: ...)", never "". */
const char *tg_redis_tls_hint(const tg_redis_tls_t *t);

void tg_redis_tls_free(tg_redis_tls_t *t);

#endif
