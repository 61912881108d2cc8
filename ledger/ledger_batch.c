/*
 * Batched admit and finish calls (docs/architecture.md, "Batched ledger
 * calls"). A call joins its script's pending batch (its strings copied);
 * a uv_prepare handle sends the pending batches once per loop iteration,
 * just before the loop polls, so a batch holds what became ready since
 * the last poll and nothing ever waits for a batch to fill. A batch that
 * reaches its bound (requests, strings, bytes) is sent at once.
 *
 * The batch scripts (ledger/lua/batch.lua.in around admit.lua's and
 * finish.lua's bodies, made at build time) run each request's body as it
 * is, in order, in one atomic call: the ledger decides exactly as one call
 * per request in the same order would.
 *
 * A callback is never called from inside tg_ledger_eval: a batch that
 * could not be sent there is kept on l->failed and its requests get their
 * NULL reply from the prepare callback.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_int.h"

/* Bounds besides the request count: Redis takes far more, these keep one
 * call's parsing (and the time Redis is busy with it) small. */
#define BATCH_STRINGS_MAX (64 * 1024)
#define BATCH_BYTES_MAX   (8 * 1024 * 1024)

static const tg_script_t batch_script[2] = {TG_SCRIPT_ADMIT_BATCH,
                                            TG_SCRIPT_FINISH_BATCH};

static ledger_batch_t *batch_of(tg_ledger_t *l, tg_script_t script)
{
        return &l->batch[script == TG_SCRIPT_FINISH];
}

static void deliver_null(tg_ledger_t *l, ledger_call_t *c)
{
        l->pending -= (size_t)c->nsubs;
        for (int i = 0; i < c->nsubs; i++)
                c->subs[i].cb(l, NULL, c->subs[i].opaque);
        free(c->subs);
        free(c);
}

static void fail_later(tg_ledger_t *l, ledger_call_t *c)
{
        c->next = l->failed;
        l->failed = c;
}

/* The batches that could not be sent get their NULL replies. */
static void deliver_failed(tg_ledger_t *l)
{
        ledger_call_t *c;

        while ((c = l->failed)) {
                l->failed = c->next;
                deliver_null(l, c);
        }
}

/* EVALSHA <batch sha> <all keys> keys... n (nk na)... args...: request i's
 * strings are its nk keys, then its na args. */
static int batch_argv(tg_ledger_t *l, int which, const char **av, size_t *al,
                      char (*num)[12])
{
        ledger_batch_t *b = &l->batch[which];
        int k = 3, s = 0, nn = 0, nkeys = 0;

        for (int i = 0; i < b->n; i++) {
                for (int j = 0; j < b->subs[i].nk; j++, s++)
                        av[k] = b->buf + b->off[s], al[k++] = b->len[s];
                nkeys += b->subs[i].nk;
                s += b->subs[i].na;
        }
        snprintf(num[nn], sizeof(num[0]), "%d", nkeys);
        av[2] = num[nn], al[2] = strlen(num[nn++]);
        av[0] = "EVALSHA", al[0] = 7;
        av[1] = l->sha[batch_script[which]], al[1] = 40;
        snprintf(num[nn], sizeof(num[0]), "%d", b->n);
        av[k] = num[nn], al[k++] = strlen(num[nn++]);
        for (int i = 0; i < b->n; i++) {
                snprintf(num[nn], sizeof(num[0]), "%d", b->subs[i].nk);
                av[k] = num[nn], al[k++] = strlen(num[nn++]);
                snprintf(num[nn], sizeof(num[0]), "%d", b->subs[i].na);
                av[k] = num[nn], al[k++] = strlen(num[nn++]);
        }
        s = 0;
        for (int i = 0; i < b->n; i++) {
                s += b->subs[i].nk;
                for (int j = 0; j < b->subs[i].na; j++, s++)
                        av[k] = b->buf + b->off[s], al[k++] = b->len[s];
        }
        return k;
}

/* Takes the batch's requests into one call and sends it; the batch is
 * empty after (the callbacks may fill it again). Returns NULL when sent
 * (or when the batch is empty, or kept for want of memory), else the call
 * not sent, whose requests are to get their NULL reply. */
static ledger_call_t *send_batch(tg_ledger_t *l, int which)
{
        ledger_batch_t *b = &l->batch[which];
        int argc = 4 + 2 * b->n + b->nstr;
        ledger_call_t *c;
        const char **av = NULL;
        size_t *al = NULL;
        char(*num)[12] = NULL;

        if (b->n == 0 || !(c = calloc(1, sizeof(*c))))
                return NULL; /* nothing, or kept: the next flush tries */
        c->subs = b->subs;
        c->nsubs = b->n;
        av = malloc(sizeof(*av) * (size_t)argc);
        al = malloc(sizeof(*al) * (size_t)argc);
        num = malloc(sizeof(*num) * (size_t)(2 * b->n + 2));
        if (av && al && num) {
                int n = batch_argv(l, which, av, al, num);

                if (l->batch_cb)
                        l->batch_cb(which ? TG_SCRIPT_FINISH : TG_SCRIPT_ADMIT,
                                    b->n, l->batch_opaque);
                if (tg_ledger_send(l, n, av, al, c) == 0)
                        c = NULL;
        }
        free(av);
        free(al);
        free(num);
        /* A new array (the call owns the old one); if none, the next add
         * makes one or fails. */
        b->subs = malloc(sizeof(*b->subs) * (size_t)l->batch_max);
        b->n = b->nstr = 0;
        b->used = 0;
        return c;
}

/* Settlements first: a settlement behind a batch of admissions waits for
 * all of them (RESULTS.md, F8). */
static void flush_cb(uv_prepare_t *h)
{
        tg_ledger_t *l = h->data;
        ledger_call_t *c;

        deliver_failed(l);
        for (int which = 1; which >= 0; which--)
                if ((c = send_batch(l, which)))
                        deliver_null(l, c);
}

void tg_ledger_batch_init(tg_ledger_t *l)
{
        uv_prepare_init(l->loop, &l->flush);
        l->flush.data = l;
        l->batch_max = 1;
}

void tg_ledger_set_batch(tg_ledger_t *l, int max)
{
        max = max < 1                     ? 1
              : max > TG_LEDGER_BATCH_MAX ? TG_LEDGER_BATCH_MAX
                                          : max;
        tg_ledger_batch_fail_all(l);
        l->batch_max = max;
        if (max > 1) {
                uv_prepare_start(&l->flush, flush_cb);
                uv_unref((uv_handle_t *)&l->flush);
        } else {
                uv_prepare_stop(&l->flush);
        }
}

void tg_ledger_set_batch_cb(tg_ledger_t *l, tg_ledger_batch_cb *cb,
                            void *opaque)
{
        l->batch_cb = cb;
        l->batch_opaque = opaque;
}

static int grow(ledger_batch_t *b, int nstr, size_t bytes)
{
        if (b->nstr + nstr > b->cap) {
                int cap = b->cap ? b->cap : 1024;
                size_t *o, *n;

                while (cap < b->nstr + nstr)
                        cap *= 2;
                o = realloc(b->off, sizeof(*o) * (size_t)cap);
                if (o)
                        b->off = o;
                n = realloc(b->len, sizeof(*n) * (size_t)cap);
                if (n)
                        b->len = n;
                if (!o || !n)
                        return -1;
                b->cap = cap;
        }
        if (b->used + bytes > b->size) {
                size_t size = b->size ? b->size : 64 * 1024;
                char *p;

                while (size < b->used + bytes)
                        size *= 2;
                p = realloc(b->buf, size);
                if (!p)
                        return -1;
                b->buf = p, b->size = size;
        }
        return 0;
}

int tg_ledger_batch_add(tg_ledger_t *l, tg_script_t script, int nkeys,
                        int nargs, const char **argv, const size_t *argvlen,
                        tg_ledger_cb *cb, void *cb_opaque)
{
        ledger_batch_t *b = batch_of(l, script);
        int n = nkeys + nargs;
        size_t bytes = 0;
        ledger_call_t *c;

        if (!l->up || !l->ac)
                return -1;
        for (int i = 0; i < n; i++)
                bytes += argvlen[i];
        if (b->n > 0 && (b->nstr + n > BATCH_STRINGS_MAX ||
                         b->used + bytes > BATCH_BYTES_MAX)) {
                c = send_batch(l, b == &l->batch[1]);
                if (c)
                        fail_later(l, c);
        }
        if (!b->subs)
                b->subs = malloc(sizeof(*b->subs) * (size_t)l->batch_max);
        if (!b->subs || b->n >= l->batch_max)
                return -1; /* out of memory (the batch kept, see above) */
        if (grow(b, n, bytes))
                return -1;
        for (int i = 0; i < n; i++) {
                memcpy(b->buf + b->used, argv[i], argvlen[i]);
                b->off[b->nstr] = b->used;
                b->len[b->nstr++] = argvlen[i];
                b->used += argvlen[i];
        }
        b->subs[b->n++] = (ledger_sub_t){cb, cb_opaque, nkeys, nargs};
        l->pending++;
        if (b->n == l->batch_max) {
                c = send_batch(l, b == &l->batch[1]);
                if (c)
                        fail_later(l, c);
        }
        return 0;
}

/* What a request gets when the batch's reply is not one element per
 * request (an error for the whole call): an error reply of its own. */
static redisReply *whole_error(redisReply *reply, redisReply *tmp)
{
        if (reply->type == REDIS_REPLY_ERROR)
                return reply;
        memset(tmp, 0, sizeof(*tmp));
        tmp->type = REDIS_REPLY_ERROR;
        tmp->str = "batch reply has the wrong shape";
        tmp->len = strlen(tmp->str);
        return tmp;
}

void tg_ledger_batch_reply(tg_ledger_t *l, ledger_call_t *c, redisReply *reply)
{
        redisReply tmp, *each = NULL;

        if (reply && (reply->type != REDIS_REPLY_ARRAY ||
                      reply->elements != (size_t)c->nsubs))
                each = whole_error(reply, &tmp);
        for (int i = 0; i < c->nsubs; i++)
                c->subs[i].cb(l,
                              !reply ? NULL
                              : each ? each
                                     : reply->element[i],
                              c->subs[i].opaque);
}

void tg_ledger_batch_fail_all(tg_ledger_t *l)
{
        deliver_failed(l);
        for (int w = 0; w < 2; w++) {
                ledger_batch_t *b = &l->batch[w];
                ledger_sub_t *subs = b->subs;
                int n = b->n;

                b->subs = NULL;
                b->n = b->nstr = 0;
                b->used = 0;
                l->pending -= (size_t)n;
                for (int i = 0; i < n; i++)
                        subs[i].cb(l, NULL, subs[i].opaque);
                free(subs);
        }
}

void tg_ledger_batch_free(tg_ledger_t *l)
{
        for (int w = 0; w < 2; w++) {
                free(l->batch[w].subs);
                free(l->batch[w].off);
                free(l->batch[w].len);
                free(l->batch[w].buf);
        }
}
