#include "ledger.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis_url.h"
#include "tgtime.h"
#include "ledger_int.h"

extern const char tg_lua_admit[], tg_lua_finish[], tg_lua_release[],
    tg_lua_load[], tg_lua_renew[], tg_lua_admit_batch[], tg_lua_finish_batch[];

static const char *script_body(tg_script_t s)
{
        static const char *bodies[TG_SCRIPT_COUNT];

        bodies[TG_SCRIPT_ADMIT] = tg_lua_admit;
        bodies[TG_SCRIPT_FINISH] = tg_lua_finish;
        bodies[TG_SCRIPT_RELEASE] = tg_lua_release;
        bodies[TG_SCRIPT_LOAD] = tg_lua_load;
        bodies[TG_SCRIPT_RENEW] = tg_lua_renew;
        bodies[TG_SCRIPT_ADMIT_BATCH] = tg_lua_admit_batch;
        bodies[TG_SCRIPT_FINISH_BATCH] = tg_lua_finish_batch;
        return bodies[s];
}

const char *tg_ledger_script_body(tg_script_t script)
{
        return script_body(script);
}

static void sha1_hex(const char *s, char out[41])
{
        unsigned char d[SHA_DIGEST_LENGTH];

        SHA1((const unsigned char *)s, strlen(s), d);
        for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void set_up(tg_ledger_t *l, int up)
{
        if (l->up == up)
                return;
        l->up = up;
        if (!l->closing)
                tg_log(up ? TG_LOG_INFO : TG_LOG_WARN, "redis %s",
                       up ? "connected" : "unavailable: admissions paused");
        if (l->state_cb)
                l->state_cb(l, up, l->state_opaque);
}

static void connect_start(tg_ledger_t *l);

static void reconnect_cb(uv_timer_t *t)
{
        connect_start(t->data);
}

static void schedule_reconnect(tg_ledger_t *l)
{
        if (!l->closing)
                uv_timer_start(&l->reconnect, reconnect_cb, RECONNECT_MS, 0);
}

/* A link that died before it was ready, over TLS: say which check failed
 * (a wrong CA, an expired certificate, a name mismatch, the server refusing
 * our certificate). The same reason is logged again every 30 s at most, as
 * reconnects retry every RECONNECT_MS. */
static void log_tls_failure(tg_ledger_t *l, const char *fallback)
{
        const char *why = tg_redis_tls_failure(l->tls);
        char msg[sizeof(l->tls_logged)];
        int64_t now = tg_mono_us();

        snprintf(msg, sizeof(msg), "%s%s", why[0] ? why : fallback,
                 why[0] ? "" : tg_redis_tls_hint(l->tls));
        if (strcmp(msg, l->tls_logged) == 0 &&
            now - l->tls_logged_us < 30 * 1000000LL)
                return;
        memcpy(l->tls_logged, msg, sizeof(msg));
        l->tls_logged_us = now;
        tg_log(TG_LOG_ERROR,
               "redis TLS to %s:%d failed: %s; admissions paused, retrying",
               l->url.host, l->url.port, msg);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
        tg_ledger_t *l = ac->data;

        if (l->tls && status != REDIS_OK && !l->link_ready && !l->closing)
                log_tls_failure(l, ac->errstr[0] ? ac->errstr
                                                 : "connection closed");
        l->ac = NULL;
        set_up(l, 0);
        schedule_reconnect(l);
}

/* The last setup reply (SELECT or AUTH or a PING) marks the link usable. */
static void on_ready(redisAsyncContext *ac, void *r, void *priv)
{
        tg_ledger_t *l = priv;
        redisReply *reply = r;

        if (!reply || reply->type == REDIS_REPLY_ERROR || l->setup_error[0]) {
                /* no reply: the link died, which was logged already. A
                 * refused SCRIPT LOAD (-LOADING while a restarted Redis
                 * reads its AOF; SELECT is allowed then) makes the link
                 * unusable too: every EVALSHA would meet NOSCRIPT. */
                if (!l->closing && reply)
                        tg_log(TG_LOG_WARN, "redis setup failed: %s; retrying",
                               l->setup_error[0] ? l->setup_error : reply->str);
                if (l->ac)
                        redisAsyncDisconnect(l->ac);
                return;
        }
        l->link_ready = 1;
        l->tls_logged[0] = '\0'; /* a later failure is news again */
        set_up(l, 1);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
        tg_ledger_t *l = ac->data;

        if (status != REDIS_OK) {
                tg_log(TG_LOG_WARN, "redis connect failed: %s", ac->errstr);
                l->ac = NULL;
                set_up(l, 0);
                schedule_reconnect(l);
        }
}

static void send_setup(tg_ledger_t *l)
{
        redisAsyncContext *ac = l->ac;

        if (l->url.password[0] && l->url.user[0])
                redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", l->url.user,
                                  l->url.password);
        else if (l->url.password[0])
                redisAsyncCommand(ac, NULL, NULL, "AUTH %s", l->url.password);
        tg_ledger_load_scripts(l);
        redisAsyncCommand(ac, on_ready, l, "SELECT %d", l->url.db);
}

static void connect_start(tg_ledger_t *l)
{
        redisAsyncContext *ac;
        char err[256];

        if (l->url.is_unix)
                ac = redisAsyncConnectUnix(l->url.path);
        else
                ac = redisAsyncConnect(l->url.host, l->url.port);
        if (!ac || ac->err) {
                tg_log(TG_LOG_WARN, "redis connect failed: %s",
                       ac ? ac->errstr : "out of memory");
                if (ac)
                        redisAsyncFree(ac);
                schedule_reconnect(l);
                return;
        }
        if (l->tls && tg_redis_tls_attach(l->tls, &ac->c, err, sizeof(err))) {
                log_tls_failure(l, err);
                redisAsyncFree(ac);
                schedule_reconnect(l);
                return;
        }
        if (tg_ledger_uv_attach(ac, l->loop)) {
                tg_log(TG_LOG_WARN, "redis connect failed: cannot poll");
                redisAsyncFree(ac);
                schedule_reconnect(l);
                return;
        }
        ac->data = l;
        l->ac = ac;
        l->link_ready = 0;
        l->setup_error[0] = '\0';
        l->link_us = tg_mono_us();
        redisAsyncSetConnectCallback(ac, on_connect);
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
        send_setup(l);
}

/* Abandons the link at once. hiredis 0.14's libuv adapter ignores poll
 * errors (a connection reset while commands are pending, a refused
 * connect), and redisAsyncDisconnect waits for pending replies: either way
 * the link would hang for good. Freeing the context fails every pending
 * call with a NULL reply (fail closed); a new link follows. */
void tg_ledger_drop_link(tg_ledger_t *l)
{
        redisAsyncContext *ac = l->ac;

        if (!ac)
                return;
        l->ac = NULL;
        set_up(l, 0);
        redisAsyncFree(ac);
        schedule_reconnect(l);
}

tg_ledger_t *tg_ledger_new(uv_loop_t *loop, const char *url,
                           tg_ledger_state_cb *state_cb, void *opaque,
                           char *errstr, size_t errstr_size)
{
        tg_ledger_t *l = calloc(1, sizeof(*l));

        if (!l)
                return NULL;
        if (tg_redis_url_parse(url, &l->url, errstr, errstr_size)) {
                free(l);
                return NULL;
        }
        if (l->url.tls.enabled) {
                l->tls = tg_redis_tls_new(&l->url, errstr, errstr_size);
                if (!l->tls) {
                        memset(l->url.password, 0, sizeof(l->url.password));
                        free(l);
                        return NULL;
                }
        }
        l->loop = loop;
        l->state_cb = state_cb;
        l->state_opaque = opaque;
        for (int s = 0; s < TG_SCRIPT_COUNT; s++)
                sha1_hex(script_body((tg_script_t)s), l->sha[s]);
        l->timeout_ms = 2000;
        uv_timer_init(loop, &l->reconnect);
        l->reconnect.data = l;
        tg_ledger_watchdog_start(l);
        tg_ledger_batch_init(l);
        connect_start(l);
        return l;
}

/* Two timers and the batch flush close; the last close callback frees the
 * ledger. */
static void free_after_close(uv_handle_t *h)
{
        tg_ledger_t *l = h->data;

        if (++l->closed == 3) {
                tg_ledger_batch_free(l);
                tg_redis_tls_free(l->tls);
                free(l);
        }
}

void tg_ledger_destroy(tg_ledger_t *l)
{
        if (!l)
                return;
        l->closing = 1;
        uv_timer_stop(&l->reconnect);
        if (l->ac) {
                l->ac->data = l;
                redisAsyncFree(l->ac); /* calls pending callbacks, NULL */
                l->ac = NULL;
        }
        tg_ledger_batch_fail_all(l); /* the requests not sent yet, too */
        memset(l->url.password, 0, sizeof(l->url.password));
        uv_timer_stop(&l->watchdog);
        uv_close((uv_handle_t *)&l->watchdog, free_after_close);
        uv_close((uv_handle_t *)&l->reconnect, free_after_close);
        uv_prepare_stop(&l->flush);
        uv_close((uv_handle_t *)&l->flush, free_after_close);
}

int tg_ledger_up(const tg_ledger_t *l)
{
        return l->up;
}

size_t tg_ledger_pending(const tg_ledger_t *l)
{
        return l->pending;
}

void tg_ledger_set_rtt_cb(tg_ledger_t *l, tg_ledger_rtt_cb *cb, void *opaque)
{
        l->rtt_cb = cb;
        l->rtt_opaque = opaque;
}
