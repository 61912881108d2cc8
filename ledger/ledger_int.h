/* The ledger client's inside, shared by ledger.c and ledger_eval.c. */
#ifndef TG_LEDGER_INT_H
#define TG_LEDGER_INT_H

#include <stdint.h>

#include "ledger.h"
#include "redis_tls.h"
#include "redis_url.h"

#define RECONNECT_MS  500
#define EVAL_ARGS_MAX 4096

/* One request of a batch call: its callback, and its key and argument
 * counts. */
typedef struct ledger_sub {
        tg_ledger_cb *cb;
        void *opaque;
        int nk, na;
} ledger_sub_t;

typedef struct ledger_call {
        tg_ledger_t *l;
        tg_ledger_cb *cb; /* NULL for a batch call: subs[] get the reply */
        void *opaque;
        ledger_sub_t *subs;
        int nsubs;
        int64_t start_us;
        struct ledger_call *next;
} ledger_call_t;

/* A script's pending batch (ledger_batch.c): its requests, and their keys
 * then arguments as one list of (offset, length) into buf, copied. */
typedef struct ledger_batch {
        ledger_sub_t *subs; /* batch_max */
        int n;
        size_t *off, *len;
        int nstr, cap;
        char *buf;
        size_t used, size;
} ledger_batch_t;

struct tg_ledger {
        uv_loop_t *loop;
        tg_redis_url_t url;
        redisAsyncContext *ac; /* NULL while down */
        tg_redis_tls_t *tls;   /* rediss://: one handshake per link */
        char tls_logged[640];  /* last TLS failure logged, see ledger.c */
        int64_t tls_logged_us;
        int up;                /* connected, authenticated, selected */
        int link_ready;        /* this link got that far once */
        char setup_error[256]; /* a setup reply's error (SCRIPT LOAD) */
        int64_t link_us;       /* when ac was opened (monotonic) */
        uv_timer_t reconnect;
        uv_timer_t watchdog;
        int64_t timeout_ms;
        ledger_call_t *head, *tail; /* pending calls, oldest first */
        int64_t last_reply_us;      /* when a call last got its reply */
        size_t pending;
        char sha[TG_SCRIPT_COUNT][41];
        tg_ledger_state_cb *state_cb;
        void *state_opaque;
        tg_ledger_rtt_cb *rtt_cb;
        void *rtt_opaque;
        int closing;
        int closed;              /* handles closed, see tg_ledger_destroy */
        int batch_max;           /* 1: no batching */
        ledger_batch_t batch[2]; /* admit, finish */
        uv_prepare_t flush;      /* sends the pending batches */
        ledger_call_t *failed;   /* batch calls not sent: NULL to each */
        tg_ledger_batch_cb *batch_cb; /* per admit/finish call, metrics */
        void *batch_opaque;
};

void tg_ledger_load_scripts(tg_ledger_t *l);
/* ledger_eval.c: sends argv as the call c (queued on the FIFO); 0 or -1
 * (c not queued, not freed). */
int tg_ledger_send(tg_ledger_t *l, int argc, const char **argv,
                   const size_t *argvlen, ledger_call_t *c);
/* ledger_batch.c */
void tg_ledger_batch_init(tg_ledger_t *l);
int tg_ledger_batch_add(tg_ledger_t *l, tg_script_t script, int nkeys,
                        int nargs, const char **argv, const size_t *argvlen,
                        tg_ledger_cb *cb, void *cb_opaque);
void tg_ledger_batch_reply(tg_ledger_t *l, ledger_call_t *c,
                           struct redisReply *reply);
/* Fails every pending batch with NULL replies and frees them (destroy). */
void tg_ledger_batch_fail_all(tg_ledger_t *l);
void tg_ledger_batch_free(tg_ledger_t *l);
void tg_ledger_watchdog_start(tg_ledger_t *l);
void tg_ledger_drop_link(tg_ledger_t *l);
/* ledger_uv.c: hiredis's libuv adapter, fixed; 0 or -1. */
int tg_ledger_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
