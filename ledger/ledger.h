/*
 * The ledger client the worker uses: one async Redis connection on the
 * worker's libuv loop, and the Lua scripts (admit, finish, release, load)
 * called by EVALSHA.
 *
 * Fail closed: while Redis is unreachable, calls fail at once with
 * TG_LEDGER_DOWN (nothing is admitted without Redis) and the client
 * reconnects by itself; tg_ledger_up() tells the worker when to resume.
 */
#ifndef TG_LEDGER_H
#define TG_LEDGER_H

#include <hiredis/async.h>
#include <stddef.h>
#include <uv.h>

typedef struct tg_ledger tg_ledger_t;

typedef enum tg_script {
        TG_SCRIPT_ADMIT,
        TG_SCRIPT_FINISH,
        TG_SCRIPT_RELEASE,
        TG_SCRIPT_LOAD,
        TG_SCRIPT_RENEW,
        /* admit.lua and finish.lua's bodies run once per request packed in
         * one call (ledger/lua/batch.lua.in); tg_ledger_eval uses them
         * itself, callers name the single scripts. */
        TG_SCRIPT_ADMIT_BATCH,
        TG_SCRIPT_FINISH_BATCH,
        TG_SCRIPT_COUNT,
} tg_script_t;

/* reply is NULL when the call failed for want of Redis (down, timeout);
 * it is owned by hiredis and valid only during the callback. */
typedef void(tg_ledger_cb)(tg_ledger_t *l, struct redisReply *reply,
                           void *opaque);

/* Called on every up/down change so the worker can pause or resume. */
typedef void(tg_ledger_state_cb)(tg_ledger_t *l, int up, void *opaque);

/* Connects (asynchronously) to the Redis URL. Returns NULL with errstr on a
 * bad URL. */
tg_ledger_t *tg_ledger_new(uv_loop_t *loop, const char *url,
                           tg_ledger_state_cb *state_cb, void *opaque,
                           char *errstr, size_t errstr_size);

/* Closes the connection; pending callbacks get a NULL reply. */
void tg_ledger_destroy(tg_ledger_t *l);

int tg_ledger_up(const tg_ledger_t *l);

/* Runs `script` with nkeys keys followed by args (argv/argvlen hold
 * nkeys + nargs strings, copied before it returns). Returns 0 when queued
 * (cb will be called exactly once, never before this returns), -1 when
 * Redis is down (cb is not called).
 *
 * Batching (tg_ledger_set_batch above 1): an admit or finish call joins
 * its script's pending batch, sent as one call of the batch script when
 * the loop is about to poll (what became ready this loop iteration, never
 * waiting for more) or at once when it reaches its bound; each request's
 * cb gets its own reply (NULL for all of them when Redis failed the batch
 * call). */
int tg_ledger_eval(tg_ledger_t *l, tg_script_t script, int nkeys, int nargs,
                   const char **argv, const size_t *argvlen, tg_ledger_cb *cb,
                   void *cb_opaque);

/* A plain command (argv[0] is its name), same contract as tg_ledger_eval. */
int tg_ledger_cmd(tg_ledger_t *l, int argc, const char **argv,
                  const size_t *argvlen, tg_ledger_cb *cb, void *cb_opaque);

/* Most requests in one admit/finish batch call; 1 (the default) sends one
 * call per request. Values outside 1-TG_LEDGER_BATCH_MAX are clamped. */
#define TG_LEDGER_BATCH_MAX 1024
void tg_ledger_set_batch(tg_ledger_t *l, int max);

/* Called once per admit/finish call sent (batched or not) with its
 * script (TG_SCRIPT_ADMIT or TG_SCRIPT_FINISH) and its requests. */
typedef void(tg_ledger_batch_cb)(tg_script_t script, int requests,
                                 void *opaque);
void tg_ledger_set_batch_cb(tg_ledger_t *l, tg_ledger_batch_cb *cb,
                            void *opaque);

/* Commands in flight (requests in a pending batch count too); the worker drains
 * to zero on shutdown. */
size_t tg_ledger_pending(const tg_ledger_t *l);

/* Round-trip times (microseconds) of completed calls, for metrics. */
typedef void(tg_ledger_rtt_cb)(int64_t us, void *opaque);
void tg_ledger_set_rtt_cb(tg_ledger_t *l, tg_ledger_rtt_cb *cb, void *opaque);

/* The usage event of a finish.lua reply or record with its spent values
 * in: the first "#tg:spent:<i>#" (quoted) replaced by the i-th decimal of
 * `spent` ("v1,v2,..."), as finish.lua stores and returns them apart. A
 * record stored with the values already in (spent "") comes back as it is.
 * Returns a malloc'd string, NULL when out of memory. */
char *tg_ledger_usage_fill(const char *usage, const char *spent);

/* The embedded script body, for the CLI and tests. */
const char *tg_ledger_script_body(tg_script_t script);

#endif
