/* EVALSHA calls, and the watchdog that fails them closed when Redis stops
 * answering.
 * Redis answers in order on one connection, so the oldest pending call is
 * always the next to complete: a FIFO is enough to find it. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_int.h"
#include "log.h"
#include "tgtime.h"

static void fifo_push(tg_ledger_t *l, ledger_call_t *c)
{
        c->next = NULL;
        if (l->tail)
                l->tail->next = c;
        else
                l->head = c;
        l->tail = c;
}

static void fifo_remove(tg_ledger_t *l, ledger_call_t *c)
{
        ledger_call_t **pp = &l->head, *prev = NULL;

        while (*pp && *pp != c) {
                prev = *pp;
                pp = &(*pp)->next;
        }
        if (!*pp)
                return;
        *pp = c->next;
        if (l->tail == c)
                l->tail = prev;
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
        ledger_call_t *c = priv;
        tg_ledger_t *l = c->l;
        redisReply *reply = r;
        int64_t now = tg_mono_us();

        fifo_remove(l, c);
        l->pending -= c->subs ? (size_t)c->nsubs : 1;
        if (reply)
                l->last_reply_us = now;
        if (reply && reply->type == REDIS_REPLY_ERROR &&
            strncmp(reply->str, "NOSCRIPT", 8) == 0) {
                /* Someone flushed the script cache: load again, and let
                 * the caller retry as if Redis had blipped. */
                tg_ledger_load_scripts(l);
                reply = NULL;
        }
        if (reply && l->rtt_cb)
                l->rtt_cb(now - c->start_us, l->rtt_opaque);
        if (c->subs)
                tg_ledger_batch_reply(l, c, reply);
        else
                c->cb(l, reply, c->opaque);
        free(c->subs);
        free(c);
}

int tg_ledger_send(tg_ledger_t *l, int argc, const char **argv,
                   const size_t *argvlen, ledger_call_t *c)
{
        if (!l->up || !l->ac)
                return -1;
        c->l = l;
        c->start_us = tg_mono_us();
        if (redisAsyncCommandArgv(l->ac, on_reply, c, argc, argv, argvlen) !=
            REDIS_OK)
                return -1;
        fifo_push(l, c);
        if (!c->subs) /* a batch's requests count from tg_ledger_batch_add */
                l->pending++;
        return 0;
}

int tg_ledger_cmd(tg_ledger_t *l, int argc, const char **argv,
                  const size_t *argvlen, tg_ledger_cb *cb, void *cb_opaque)
{
        ledger_call_t *c;

        if (!l->up || !l->ac)
                return -1;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -1;
        c->cb = cb;
        c->opaque = cb_opaque;
        if (tg_ledger_send(l, argc, argv, argvlen, c)) {
                free(c);
                return -1;
        }
        return 0;
}

int tg_ledger_eval(tg_ledger_t *l, tg_script_t script, int nkeys, int nargs,
                   const char **argv, const size_t *argvlen, tg_ledger_cb *cb,
                   void *cb_opaque)
{
        const char *av[EVAL_ARGS_MAX];
        size_t al[EVAL_ARGS_MAX];
        char nk[16];
        int n = nkeys + nargs;

        if (n + 3 > EVAL_ARGS_MAX)
                return -1;
        if (script == TG_SCRIPT_ADMIT || script == TG_SCRIPT_FINISH) {
                if (l->batch_max > 1)
                        return tg_ledger_batch_add(l, script, nkeys, nargs,
                                                   argv, argvlen, cb,
                                                   cb_opaque);
                if (l->batch_cb && l->up && l->ac)
                        l->batch_cb(script, 1, l->batch_opaque);
        }
        snprintf(nk, sizeof(nk), "%d", nkeys);
        av[0] = "EVALSHA", al[0] = 7;
        av[1] = l->sha[script], al[1] = 40;
        av[2] = nk, al[2] = strlen(nk);
        memcpy(av + 3, argv, sizeof(*argv) * (size_t)n);
        memcpy(al + 3, argvlen, sizeof(*argvlen) * (size_t)n);
        return tg_ledger_cmd(l, n + 3, av, al, cb, cb_opaque);
}

/* A refused load is kept for the link's setup (ledger.c, on_ready) to see;
 * on a link already up (loading again after NOSCRIPT) it is logged, and the
 * next NOSCRIPT loads again. */
static void on_script_loaded(redisAsyncContext *ac, void *r, void *priv)
{
        tg_ledger_t *l = priv;
        redisReply *reply = r;

        (void)ac;
        if (!reply || reply->type != REDIS_REPLY_ERROR)
                return;
        if (!l->link_ready && !l->setup_error[0])
                snprintf(l->setup_error, sizeof(l->setup_error),
                         "SCRIPT LOAD: %.200s", reply->str);
        else if (l->link_ready && !l->closing)
                tg_log(TG_LOG_ERROR, "redis SCRIPT LOAD failed: %.200s",
                       reply->str);
}

void tg_ledger_load_scripts(tg_ledger_t *l)
{
        for (int s = 0; s < TG_SCRIPT_COUNT && l->ac; s++)
                redisAsyncCommand(l->ac, on_script_loaded, l, "SCRIPT LOAD %s",
                                  tg_ledger_script_body((tg_script_t)s));
}

/* How long Redis has been silent while calls wait: since the oldest call
 * was queued, or since the last reply if that came later. A Redis that
 * answers, even slowly behind thousands of queued calls, makes progress;
 * judging the oldest call's age alone dropped healthy links under load
 * and sent every pending call again. */
static int64_t silent_us(const tg_ledger_t *l, int64_t now)
{
        int64_t since = l->head->start_us;

        if (l->last_reply_us > since)
                since = l->last_reply_us;
        return now - since;
}

/* Calls waiting and no reply at all for longer than the timeout, or a new
 * link not ready in that time: drop the link (Redis hung, paused, or the
 * connection died unnoticed), which fails the pending calls (fail closed). */
static void watchdog_cb(uv_timer_t *t)
{
        tg_ledger_t *l = t->data;
        int64_t limit = l->timeout_ms * 1000;

        if (!l->ac)
                return;
        if (l->head && silent_us(l, tg_mono_us()) > limit && l->up) {
                /* libuv runs timers before polling: after the loop was
                 * busy, replies may be waiting unread in the socket. Read
                 * them before judging (this may also find the link dead
                 * and drop it). */
                redisAsyncHandleRead(l->ac);
                if (!l->ac)
                        return;
        }
        if (l->head && silent_us(l, tg_mono_us()) > limit) {
                tg_log(TG_LOG_WARN,
                       "redis did not answer within %lld ms: reconnecting, "
                       "admissions paused",
                       (long long)l->timeout_ms);
                tg_ledger_drop_link(l);
        } else if (!l->up && tg_mono_us() - l->link_us > limit) {
                tg_log(TG_LOG_WARN,
                       "redis link not ready after %lld ms: reconnecting",
                       (long long)l->timeout_ms);
                tg_ledger_drop_link(l);
        }
}

void tg_ledger_watchdog_start(tg_ledger_t *l)
{
        uv_timer_init(l->loop, &l->watchdog);
        l->watchdog.data = l;
        uv_timer_start(&l->watchdog, watchdog_cb, 250, 250);
}
