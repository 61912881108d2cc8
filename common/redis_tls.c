/* TLS for Redis links: see redis_tls.h for the design. */
#include "redis_tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errfmt.h"
#include "log.h"

#ifdef TG_HAVE_REDIS_TLS

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define WHY_MAX 512

struct tg_redis_tls {
        SSL_CTX *ctx;
        int insecure;
        int is_ip;                        /* name is an IP literal */
        int has_cert;                     /* mutual TLS configured */
        char name[TG_REDIS_HOST_MAX + 1]; /* checked, SNI if not IP */
        char why[WHY_MAX];                /* last failed check */
};

/* OpenSSL's reason for the newest error of this thread, then the queue is
 * emptied so a later failure does not report a stale one. */
static void ssl_reason(char *out, size_t size, const char *what)
{
        unsigned long e = ERR_peek_last_error();
        const char *r = e ? ERR_reason_error_string(e) : NULL;

        snprintf(out, size, "%s%s%s", what, r ? ": " : "", r ? r : "");
        ERR_clear_error();
}

/* Keeps the first failed check of a handshake, with the certificate it was
 * about (subject names are not secret), then lets OpenSSL abort. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
        SSL *ssl =
            X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
        tg_redis_tls_t *t =
            ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
        int err = X509_STORE_CTX_get_error(x);
        X509 *cert = X509_STORE_CTX_get_current_cert(x);
        char subject[256] = "?", issuer[256] = "?";

        if (ok || !t || t->why[0])
                return ok;
        if (cert) {
                X509_NAME_oneline(X509_get_subject_name(cert), subject,
                                  sizeof(subject));
                X509_NAME_oneline(X509_get_issuer_name(cert), issuer,
                                  sizeof(issuer));
        }
        if (err == X509_V_ERR_HOSTNAME_MISMATCH ||
            err == X509_V_ERR_IP_ADDRESS_MISMATCH)
                tg_errf(t->why, sizeof(t->why),
                        "certificate verify failed: %s (expected \"%s\", "
                        "certificate %s)",
                        X509_verify_cert_error_string(err), t->name, subject);
        else
                tg_errf(t->why, sizeof(t->why),
                        "certificate verify failed: %s (depth %d, subject "
                        "%s, issuer %s)",
                        X509_verify_cert_error_string(err),
                        X509_STORE_CTX_get_error_depth(x), subject, issuer);
        return ok;
}

static int load_ca(SSL_CTX *ctx, const tg_redis_tls_opts_t *o, char *errstr,
                   size_t size)
{
        char what[TG_REDIS_FILE_MAX * 2 + 64];

        if (!o->ca_file[0] && !o->ca_dir[0]) {
                if (SSL_CTX_set_default_verify_paths(ctx) == 1)
                        return 0;
                ssl_reason(errstr, size,
                           "redis TLS: cannot load the system CA store");
                return -1;
        }
        if (SSL_CTX_load_verify_locations(ctx,
                                          o->ca_file[0] ? o->ca_file : NULL,
                                          o->ca_dir[0] ? o->ca_dir : NULL) == 1)
                return 0;
        snprintf(what, sizeof(what), "redis TLS: cannot load CA %s%s%s",
                 o->ca_file[0] ? o->ca_file : "",
                 o->ca_file[0] && o->ca_dir[0] ? " / " : "", o->ca_dir);
        ssl_reason(errstr, size, what);
        return -1;
}

static int load_client_cert(SSL_CTX *ctx, const tg_redis_tls_opts_t *o,
                            char *errstr, size_t size)
{
        char what[TG_REDIS_FILE_MAX + 64];

        if (!o->cert[0])
                return 0;
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
                snprintf(what, sizeof(what),
                         "redis TLS: cannot load client certificate %s",
                         o->cert);
                ssl_reason(errstr, size, what);
                return -1;
        }
        /* The key's path only: its content never goes into a message. */
        if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
                snprintf(what, sizeof(what),
                         "redis TLS: cannot use client key %s", o->key);
                ssl_reason(errstr, size, what);
                return -1;
        }
        return 0;
}

static void set_name(tg_redis_tls_t *t, const tg_redis_url_t *u)
{
        unsigned char addr[16];

        snprintf(t->name, sizeof(t->name), "%s",
                 u->tls.server_name[0] ? u->tls.server_name : u->host);
        t->is_ip = inet_pton(AF_INET, t->name, addr) == 1 ||
                   inet_pton(AF_INET6, t->name, addr) == 1;
}

tg_redis_tls_t *tg_redis_tls_new(const tg_redis_url_t *u, char *errstr,
                                 size_t errstr_size)
{
        tg_redis_tls_t *t = calloc(1, sizeof(*t));

        if (!t) {
                snprintf(errstr, errstr_size, "redis TLS: out of memory");
                return NULL;
        }
        redisInitOpenSSL();
        t->insecure = u->tls.insecure;
        t->has_cert = u->tls.cert[0] != '\0';
        set_name(t, u);
        t->ctx = SSL_CTX_new(TLS_client_method());
        if (!t->ctx) {
                ssl_reason(errstr, errstr_size, "redis TLS: SSL_CTX_new");
                goto err;
        }
        SSL_CTX_set_app_data(t->ctx, t);
        SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(t->ctx,
                           t->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                           t->insecure ? NULL : verify_cb);
        if (load_ca(t->ctx, &u->tls, errstr, errstr_size) ||
            load_client_cert(t->ctx, &u->tls, errstr, errstr_size))
                goto err;
        if (t->insecure)
                tg_log(TG_LOG_WARN,
                       "redis TLS to %s: --redis-tls-insecure: the server's "
                       "certificate and name are NOT verified",
                       t->name);
        return t;
err:
        tg_redis_tls_free(t);
        return NULL;
}

/* The name check and SNI of one link. */
static int ssl_setup(tg_redis_tls_t *t, SSL *ssl)
{
        if (!t->is_ip && SSL_set_tlsext_host_name(ssl, t->name) != 1)
                return -1;
        if (t->insecure)
                return 0;
        if (t->is_ip)
                return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                                     t->name) == 1
                           ? 0
                           : -1;
        return SSL_set1_host(ssl, t->name) == 1 ? 0 : -1;
}

int tg_redis_tls_attach(tg_redis_tls_t *t, struct redisContext *c, char *errstr,
                        size_t errstr_size)
{
        SSL *ssl = SSL_new(t->ctx);

        t->why[0] = '\0';
        ERR_clear_error();
        if (!ssl || ssl_setup(t, ssl)) {
                ssl_reason(errstr, errstr_size, "redis TLS: link setup");
                SSL_free(ssl);
                return -1;
        }
        if (redisInitiateSSL(c, ssl) != REDIS_OK) {
                /* hiredis keeps the SSL object only on success */
                snprintf(errstr, errstr_size, "TLS handshake with %s: %s",
                         t->name,
                         tg_redis_tls_failure(t)[0] ? t->why : c->errstr);
                SSL_free(ssl);
                ERR_clear_error();
                return -1;
        }
        return 0;
}

const char *tg_redis_tls_failure(tg_redis_tls_t *t)
{
        unsigned long e = ERR_peek_last_error();

        /* an error without a reason (a system call's) says nothing new */
        if (!t->why[0] && e && ERR_reason_error_string(e))
                ssl_reason(t->why, sizeof(t->why), "TLS");
        else if (!t->why[0])
                ERR_clear_error();
        return t->why;
}

const char *tg_redis_tls_hint(const tg_redis_tls_t *t)
{
        return t->has_cert
                   ? " (over TLS: the server may have refused the client "
                     "certificate, check that its CA trusts it)"
                   : " (over TLS: the server may require a client "
                     "certificate: --redis-tls-cert and --redis-tls-key)";
}

void tg_redis_tls_free(tg_redis_tls_t *t)
{
        if (!t)
                return;
        if (t->ctx) /* links that outlive t must not reach it */
                SSL_CTX_set_app_data(t->ctx, NULL);
        SSL_CTX_free(t->ctx);
        free(t);
}

#else /* no TLS in this build: refused, see redis_url.c */

tg_redis_tls_t *tg_redis_tls_new(const tg_redis_url_t *u, char *errstr,
                                 size_t errstr_size)
{
        snprintf(errstr, errstr_size, "%s", tg_redis_tls_missing());
        return NULL;
}

int tg_redis_tls_attach(tg_redis_tls_t *t, struct redisContext *c, char *errstr,
                        size_t errstr_size)
{
        snprintf(errstr, errstr_size, "%s", tg_redis_tls_missing());
        return -1;
}

const char *tg_redis_tls_failure(tg_redis_tls_t *t)
{
        return "";
}

const char *tg_redis_tls_hint(const tg_redis_tls_t *t)
{
        return "";
}

void tg_redis_tls_free(tg_redis_tls_t *t)
{
}

#endif
