/* The ledger client's inside, shared by ledger.c and ledger_eval.c. */
#ifndef TG_LEDGER_INT_H
#define TG_LEDGER_INT_H

#include <stdint.h>

#include "ledger.h"
#include "redis_tls.h"
#include "redis_url.h"

#define RECONNECT_MS  500
#define EVAL_ARGS_MAX 4096

typedef struct ledger_call {
        tg_ledger_t *l;
        tg_ledger_cb *cb;
        void *opaque;
        int64_t start_us;
        struct ledger_call *next;
} ledger_call_t;

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
        int closed; /* timers closed, see tg_ledger_destroy */
};

void tg_ledger_load_scripts(tg_ledger_t *l);
void tg_ledger_watchdog_start(tg_ledger_t *l);
void tg_ledger_drop_link(tg_ledger_t *l);
/* ledger_uv.c: hiredis's libuv adapter, fixed; 0 or -1. */
int tg_ledger_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
