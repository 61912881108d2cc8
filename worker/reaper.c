/*
 * The reaper, inside every worker (no cron): reservations whose worker died
 * hold budget until their lease expires; then any worker releases them. A
 * redelivered request finds no record and is admitted afresh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "ledger_args.h"
#include "log.h"
#include "tgtime.h"
#include "worker.h"

#define REAP_EVERY_MS 5000
#define REAP_BATCH    "50"

typedef struct reap {
        tg_worker_t *w;
        char id[TG_REQUEST_ID_MAX + 1];
} reap_t;

static void on_released(tg_ledger_t *l, redisReply *r, void *opaque)
{
        reap_t *rp = opaque;

        if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
                tg_log(TG_LOG_WARN,
                       "released the reservation of %s: its worker's lease "
                       "expired",
                       rp->id);
        free(rp);
}

/* The record names its budget keys; release them all in one call. */
static void on_record(tg_ledger_t *l, redisReply *r, void *opaque)
{
        reap_t *rp = opaque;
        tg_ledger_args_t a;
        char req_key[192], *keys, *save = NULL, *k;

        if (!r || r->type != REDIS_REPLY_STRING) {
                free(rp);
                return;
        }
        keys = strdup(r->str);
        if (!keys) { /* the next round peeks again */
                free(rp);
                return;
        }
        tg_ledger_args_init(&a);
        tg_key_request(req_key, sizeof(req_key), rp->id);
        tg_ledger_args_str(&a, req_key);
        tg_ledger_args_str(&a, TG_KEY_LEASES);
        /* the record's budget and rate keys: at most 2 per budget */
        for (k = strtok_r(keys, "\n", &save);
             k && a.n < 2 + 2 * TG_BUDGETS_PER_REQUEST;
             k = strtok_r(NULL, "\n", &save))
                tg_ledger_args_str(&a, k);
        tg_ledger_args_keys_done(&a);
        tg_ledger_args_str(&a, rp->id);
        tg_ledger_args_int(&a, tg_time_now_us() / 1000);
        if (tg_ledger_args_eval(l, TG_SCRIPT_RELEASE, &a, on_released, rp))
                free(rp);
        free(keys);
}

static void peek(tg_worker_t *w, const char *id)
{
        reap_t *rp = calloc(1, sizeof(*rp));
        char req_key[192];
        const char *av[3] = {"HGET", req_key, "keys"};
        size_t al[3];

        if (!rp)
                return;
        rp->w = w;
        snprintf(rp->id, sizeof(rp->id), "%s", id);
        tg_key_request(req_key, sizeof(req_key), id);
        for (int i = 0; i < 3; i++)
                al[i] = strlen(av[i]);
        if (tg_ledger_cmd(w->ledger, 3, av, al, on_record, rp))
                free(rp);
}

static void on_expired(tg_ledger_t *l, redisReply *r, void *opaque)
{
        if (!r || r->type != REDIS_REPLY_ARRAY)
                return;
        for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == REDIS_REPLY_STRING &&
                    tg_request_id_valid(r->element[i]->str, r->element[i]->len))
                        peek(opaque, r->element[i]->str);
}

void tg_reaper_tick(tg_worker_t *w)
{
        char now[24];
        const char *av[] = {"ZRANGEBYSCORE", TG_KEY_LEASES, "-inf",    now,
                            "LIMIT",         "0",           REAP_BATCH};
        size_t al[7];

        if (!tg_ledger_up(w->ledger)) {
                w->ledger_down_ms = tg_mono_ms();
                return;
        }
        /* Leases could not be renewed while Redis was away: give every
         * live worker half a lease to renew its own before reaping. */
        if (tg_mono_ms() - w->last_reap_ms < REAP_EVERY_MS ||
            (w->ledger_down_ms &&
             tg_mono_ms() - w->ledger_down_ms < w->conf->lease_ms / 2))
                return;
        w->last_reap_ms = tg_mono_ms();
        snprintf(now, sizeof(now), "%lld",
                 (long long)(tg_time_now_us() / 1000));
        for (int i = 0; i < 7; i++)
                al[i] = strlen(av[i]);
        tg_ledger_cmd(w->ledger, 7, av, al, on_expired, w);
}

void tg_worker_rtt(int64_t us, void *opaque)
{
        tg_worker_t *w = opaque;

        tg_metrics_redis_rtt(w->metrics, us);
}

void tg_worker_batch(tg_script_t script, int requests, void *opaque)
{
        tg_worker_t *w = opaque;

        tg_metrics_ledger_batch(w->metrics, script == TG_SCRIPT_FINISH,
                                requests);
}
