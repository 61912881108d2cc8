/*
 * The credentials chain and its refresh thread. See creds.h.
 */
#include "creds_int.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MARGIN_S       300
#define DEFAULT_RETRY_S        10
#define DEFAULT_TIMEOUT_MS     5000
#define DEFAULT_CONTAINER_BASE "http://169.254.170.2"
#define PATH_MAX_LEN           4096
#define MAX_WAIT_S             60 /* re-check often: the wall clock may jump */

struct tg_creds_s {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        int thread_started;
        int stop;                 /* under lock */
        tg_creds_snapshot_t snap; /* under lock */
        char last_error[256];     /* under lock */
        unsigned long fetches;    /* under lock */
        time_t fetched_at;        /* under lock */
        time_t retry_at;          /* under lock; 0 = no failed refresh */
        /* Immutable once tg_creds_new() returns. */
        char source[TG_CREDS_SOURCE_MAX];
        char url[TG_CREDS_URL_MAX + 1];
        char token[TG_CREDS_AUTH_TOKEN_MAX]; /* secret */
        char token_file[PATH_MAX_LEN];
        long timeout_ms;
        int margin_s;
        int retry_s;
};

typedef struct env {
        tg_creds_getenv_fn fn;
        void *opaque;
} env_t;

void tg_secret_wipe(void *p, size_t n)
{
        if (p && n)
                OPENSSL_cleanse(p, n);
}

int tg_creds_copy(char *dst, size_t dst_size, const char *src)
{
        size_t n = strnlen(src, dst_size);

        if (n >= dst_size) {
                dst[0] = '\0';
                return -1;
        }
        memcpy(dst, src, n + 1);
        return 0;
}

/* Unset and empty read alike, as in AWS SDKs. */
static const char *env_get(const env_t *e, const char *name)
{
        const char *v = e->fn ? e->fn(e->opaque, name) : getenv(name);

        return v && *v ? v : NULL;
}

static int printable(const char *s, int allow_space)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f ||
                    (!allow_space && *s == ' '))
                        return 0;
        return 1;
}

/* Every value ends up in an HTTP header: no control characters. */
static int snapshot_check(const tg_creds_snapshot_t *s, char *errstr,
                          size_t errstr_size)
{
        if (printable(s->access_key_id, 0) &&
            printable(s->secret_access_key, 0) &&
            printable(s->session_token, 0) && printable(s->bearer_token, 0))
                return 0;
        snprintf(errstr, errstr_size,
                 "%s credentials hold whitespace or control characters",
                 s->source);
        return -1;
}

/* ---- sources: each returns 1 when chosen, 0 when not configured, -1 ---- */

static int try_bearer(tg_creds_t *c, const env_t *e, char *errstr,
                      size_t errstr_size)
{
        const char *v = env_get(e, "AWS_BEARER_TOKEN_BEDROCK");

        if (!v)
                return 0;
        if (tg_creds_copy(c->snap.bearer_token, TG_CREDS_BEARER_MAX, v)) {
                snprintf(errstr, errstr_size,
                         "AWS_BEARER_TOKEN_BEDROCK is longer than %d bytes",
                         TG_CREDS_BEARER_MAX - 1);
                return -1;
        }
        strcpy(c->snap.source, "bearer");
        return 1;
}

static int try_env(tg_creds_t *c, const env_t *e, char *errstr,
                   size_t errstr_size)
{
        const char *id = env_get(e, "AWS_ACCESS_KEY_ID");
        const char *secret = env_get(e, "AWS_SECRET_ACCESS_KEY");
        const char *token = env_get(e, "AWS_SESSION_TOKEN");

        if (!id && !secret)
                return 0;
        if (!id || !secret) {
                snprintf(errstr, errstr_size, "%s is set but %s is not",
                         id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                         id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
                return -1;
        }
        if (tg_creds_copy(c->snap.access_key_id, TG_CREDS_ID_MAX, id) ||
            tg_creds_copy(c->snap.secret_access_key, TG_CREDS_SECRET_MAX,
                          secret) ||
            tg_creds_copy(c->snap.session_token, TG_CREDS_TOKEN_MAX,
                          token ? token : "")) {
                snprintf(errstr, errstr_size,
                         "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or "
                         "AWS_SESSION_TOKEN is too long");
                return -1;
        }
        strcpy(c->snap.source, "env");
        return 1;
}

/* AWS_SHARED_CREDENTIALS_FILE (with ~ expanded) or $HOME/.aws/credentials;
 * "" when neither can be named. */
static int profile_path(const env_t *e, char *out, size_t size)
{
        const char *f = env_get(e, "AWS_SHARED_CREDENTIALS_FILE");
        const char *home = env_get(e, "HOME");
        int n;

        out[0] = '\0';
        if (f && strncmp(f, "~/", 2) != 0)
                n = snprintf(out, size, "%s", f);
        else if (home)
                n = snprintf(out, size, "%s/%s", home,
                             f ? f + 2 : ".aws/credentials");
        else
                return 0;
        return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int try_profile(tg_creds_t *c, const env_t *e, char *errstr,
                       size_t errstr_size)
{
        const char *explicit_profile = env_get(e, "AWS_PROFILE");
        const char *profile = explicit_profile ? explicit_profile : "default";
        char path[PATH_MAX_LEN];
        int r;

        if (strlen(profile) >= TG_CREDS_PROFILE_MAX ||
            profile_path(e, path, sizeof(path)) < 0) {
                snprintf(errstr, errstr_size,
                         "AWS_PROFILE or the credentials file path is too "
                         "long");
                return -1;
        }
        if (!path[0]) {
                snprintf(errstr, errstr_size, "no HOME for ~/.aws/credentials");
                return explicit_profile ? -1 : 0;
        }
        r = tg_creds_file_load(path, profile, &c->snap, errstr, errstr_size);
        if (r == 0)
                return explicit_profile ? -1 : 0;
        if (r > 0)
                snprintf(c->snap.source, sizeof(c->snap.source), "profile:%s",
                         profile);
        return r;
}

/* The authorization token for one fetch: the file is re-read each time
 * since EKS rotates it. Wipe buf after use. */
static int container_token(tg_creds_t *c, char *buf, size_t size, char *errstr,
                           size_t errstr_size)
{
        if (c->token_file[0])
                return tg_creds_read_token_file(c->token_file, buf, size,
                                                errstr, errstr_size);
        memcpy(buf, c->token,
               sizeof(c->token) < size ? sizeof(c->token) : size);
        buf[size - 1] = '\0';
        return 0;
}

/* Blocking; never called with c->lock held. */
static int container_fetch(tg_creds_t *c, tg_creds_snapshot_t *out,
                           char *errstr, size_t errstr_size)
{
        char token[TG_CREDS_AUTH_TOKEN_MAX];
        int r;

        r = container_token(c, token, sizeof(token), errstr, errstr_size);
        if (r == 0)
                r = tg_creds_container_fetch(c->url, token, c->timeout_ms, out,
                                             errstr, errstr_size);
        tg_secret_wipe(token, sizeof(token));
        if (r == 0) {
                strcpy(out->source, "container");
                r = snapshot_check(out, errstr, errstr_size);
        }
        return r;
}

static int container_url(tg_creds_t *c, const env_t *e, const char *base,
                         char *errstr, size_t errstr_size)
{
        const char *rel = env_get(e, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        const char *full = env_get(e, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
        int n;

        if (rel && rel[0] != '/') {
                snprintf(errstr, errstr_size,
                         "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start "
                         "with /");
                return -1;
        }
        n = rel ? snprintf(c->url, sizeof(c->url), "%s%s", base, rel)
                : snprintf(c->url, sizeof(c->url), "%s", full);
        if (n < 0 || (size_t)n >= sizeof(c->url)) {
                snprintf(errstr, errstr_size,
                         "container credentials URL is too long");
                return -1;
        }
        return rel ? 0 : tg_creds_container_url_ok(c->url, errstr, errstr_size);
}

static int try_container(tg_creds_t *c, const env_t *e, const char *base,
                         char *errstr, size_t errstr_size)
{
        const char *file = env_get(e, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        const char *token = env_get(e, "AWS_CONTAINER_AUTHORIZATION_TOKEN");

        if (!env_get(e, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") &&
            !env_get(e, "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
                return 0;
        if (container_url(c, e, base, errstr, errstr_size) < 0)
                return -1;
        if (tg_creds_copy(c->token_file, sizeof(c->token_file),
                          file ? file : "") ||
            tg_creds_copy(c->token, sizeof(c->token), token ? token : "") ||
            !printable(c->token, 1)) {
                snprintf(errstr, errstr_size,
                         "AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) is too "
                         "long or holds control characters");
                return -1;
        }
        if (container_fetch(c, &c->snap, errstr, errstr_size) < 0)
                return -1;
        c->fetches = 1;
        c->fetched_at = time(NULL);
        return 1;
}

#define TRY(expr)                                                              \
        do {                                                                   \
                int r_ = (expr);                                               \
                if (r_)                                                        \
                        return r_ > 0 ? 0 : -1;                                \
        } while (0)

static int resolve(tg_creds_t *c, const env_t *e, const char *base,
                   char *errstr, size_t errstr_size)
{
        TRY(try_bearer(c, e, errstr, errstr_size));
        TRY(try_env(c, e, errstr, errstr_size));
        TRY(try_profile(c, e, errstr, errstr_size));
        TRY(try_container(c, e, base, errstr, errstr_size));
        snprintf(errstr, errstr_size,
                 "no AWS credentials: set AWS_BEARER_TOKEN_BEDROCK, "
                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in "
                 "~/.aws/credentials, or container credentials");
        return -1;
}

/* ---- refresh thread ---------------------------------------------------- */

/* When the next fetch is due; called with c->lock held. Credentials that
 * live shorter than the margin are refreshed at half their life instead of
 * in a tight loop. */
static time_t next_refresh(const tg_creds_t *c)
{
        time_t exp = c->snap.expires_at, at;

        if (c->retry_at)
                return c->retry_at;
        if (!exp)
                return c->fetched_at + MAX_WAIT_S * 60;
        at = exp - c->margin_s;
        if (at <= c->fetched_at)
                at = c->fetched_at + (exp - c->fetched_at) / 2;
        return at > c->fetched_at ? at : c->fetched_at + 1;
}

/* Sleeps until `at` or a signal; 1 = look again, 0 = due now. */
static int wait_until(tg_creds_t *c, time_t at)
{
        struct timespec ts = {0};
        time_t now = time(NULL);

        if (at <= now)
                return 0;
        ts.tv_sec = at - now > MAX_WAIT_S ? now + MAX_WAIT_S : at;
        pthread_cond_timedwait(&c->cond, &c->lock, &ts);
        return 1;
}

static void store_result(tg_creds_t *c, int r, const tg_creds_snapshot_t *s,
                         const char *err)
{
        if (r == 0) {
                c->snap = *s;
                c->fetches++;
                c->fetched_at = time(NULL);
                c->retry_at = 0;
                c->last_error[0] = '\0';
                return;
        }
        snprintf(c->last_error, sizeof(c->last_error), "%s", err);
        c->retry_at = time(NULL) + c->retry_s;
}

static void *refresh_main(void *arg)
{
        tg_creds_t *c = arg;
        tg_creds_snapshot_t *s = malloc(sizeof(*s));
        char err[256];
        int r;

        pthread_mutex_lock(&c->lock);
        while (s && !c->stop) {
                if (wait_until(c, next_refresh(c)))
                        continue;
                pthread_mutex_unlock(&c->lock);
                err[0] = '\0';
                r = container_fetch(c, s, err, sizeof(err));
                pthread_mutex_lock(&c->lock);
                store_result(c, r, s, err);
        }
        pthread_mutex_unlock(&c->lock);
        tg_secret_wipe(s, s ? sizeof(*s) : 0);
        free(s);
        return NULL;
}

/* ---- public API -------------------------------------------------------- */

static void conf_apply(tg_creds_t *c, const tg_creds_conf_t *conf)
{
        c->margin_s = conf && conf->refresh_margin_s > 0
                          ? conf->refresh_margin_s
                          : DEFAULT_MARGIN_S;
        c->retry_s =
            conf && conf->retry_s > 0 ? conf->retry_s : DEFAULT_RETRY_S;
        c->timeout_ms = conf && conf->http_timeout_ms > 0
                            ? conf->http_timeout_ms
                            : DEFAULT_TIMEOUT_MS;
}

tg_creds_t *tg_creds_new(const tg_creds_conf_t *conf, char *errstr,
                         size_t errstr_size)
{
        env_t e = {conf ? conf->getenv_fn : NULL,
                   conf ? conf->getenv_opaque : NULL};
        const char *base = conf && conf->container_base_url
                               ? conf->container_base_url
                               : DEFAULT_CONTAINER_BASE;
        tg_creds_t *c = calloc(1, sizeof(*c));

        if (!c) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->cond, NULL);
        conf_apply(c, conf);
        if (resolve(c, &e, base, errstr, errstr_size) < 0 ||
            snapshot_check(&c->snap, errstr, errstr_size) < 0)
                goto err;
        memcpy(c->source, c->snap.source, sizeof(c->source));
        if (c->url[0] && c->fetches) {
                if (pthread_create(&c->thread, NULL, refresh_main, c)) {
                        snprintf(errstr, errstr_size,
                                 "cannot start the credentials refresh "
                                 "thread");
                        goto err;
                }
                c->thread_started = 1;
        }
        return c;
err:
        tg_creds_destroy(c);
        return NULL;
}

int tg_creds_get(tg_creds_t *c, tg_creds_snapshot_t *out)
{
        pthread_mutex_lock(&c->lock);
        *out = c->snap;
        pthread_mutex_unlock(&c->lock);
        if (out->expires_at && time(NULL) >= out->expires_at) {
                tg_secret_wipe(out, sizeof(*out));
                return -1;
        }
        return 0;
}

const char *tg_creds_source(const tg_creds_t *c)
{
        return c->source;
}

unsigned long tg_creds_last_error(tg_creds_t *c, char *buf, size_t size)
{
        unsigned long n;

        pthread_mutex_lock(&c->lock);
        if (buf && size)
                snprintf(buf, size, "%s", c->last_error);
        n = c->fetches;
        pthread_mutex_unlock(&c->lock);
        return n;
}

void tg_creds_destroy(tg_creds_t *c)
{
        if (!c)
                return;
        if (c->thread_started) {
                pthread_mutex_lock(&c->lock);
                c->stop = 1;
                pthread_cond_signal(&c->cond);
                pthread_mutex_unlock(&c->lock);
                pthread_join(c->thread, NULL);
        }
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        tg_secret_wipe(c, sizeof(*c));
        free(c);
}
