/*
 * Leases of this worker's reservations. A reservation carries a deadline;
 * past it the reaper of any worker releases it, or the worker that gets the
 * request resumes it. Live requests keep theirs fresh from here, every tick,
 * however long their Bedrock call takes, so the lease can be short (a dead
 * worker's requests move on within lease-ms) without a slow generation ever
 * losing its reservation.
 */
#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "tgtime.h"
#include "worker.h"

static void on_renew(tg_ledger_t *l, redisReply *r, void *opaque)
{
        (void)l, (void)r, (void)opaque; /* best effort: finish settles
                                         * correctly either way */
}

/* Renews when a third of the lease has passed since it was last set. */
void tg_lease_renew(tg_job_t *j)
{
        tg_worker_t *w = j->w;
        char req_key[192], deadline[24];
        const char *av[5];
        size_t al[5];

        if (!j->reserved || tg_mono_ms() - j->lease_ms < w->conf->lease_ms / 3)
                return;
        tg_key_request(req_key, sizeof(req_key), j->request_id);
        snprintf(deadline, sizeof(deadline), "%lld",
                 (long long)(tg_time_now_us() / 1000 + w->conf->lease_ms));
        av[0] = req_key, av[1] = TG_KEY_LEASES, av[2] = w->conf->worker_id;
        av[3] = deadline, av[4] = j->request_id;
        for (int i = 0; i < 5; i++)
                al[i] = strlen(av[i]);
        if (tg_ledger_eval(w->ledger, TG_SCRIPT_RENEW, 2, 3, av, al, on_renew,
                           NULL) == 0)
                j->lease_ms = tg_mono_ms();
}

void tg_lease_tick(tg_worker_t *w)
{
        if (!tg_ledger_up(w->ledger))
                return;
        for (tg_job_t *j = w->jobs; j; j = j->all_next)
                tg_lease_renew(j);
}
