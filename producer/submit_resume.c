/*
 * Resuming with --wait: the ids recorded by an earlier run are looked for
 * on the completions topic before anything is submitted, so that requests
 * already answered are not paid for twice. The collector created here then
 * stays open for the wait, reading on from where the scan stopped.
 */
#include <stdlib.h>

#include "submit.h"
#include "tgtime.h"

static int scan(tgs_t *s)
{
        char err[512];
        int64_t deadline = tg_mono_us() + (int64_t)(s->o.timeout_s * 1e6);

        tgs_progress_start(&s->progress);
        while (!tgs_stop && !tg_collector_caught_up(s->collector)) {
                if (tg_collector_poll(s->collector, 100, err, sizeof(err)) <
                    0) {
                        tgs_progress_clear(&s->progress);
                        fprintf(stderr, "tollgate-submit: %s\n", err);
                        return -1;
                }
                if (tg_mono_us() > deadline) {
                        tgs_progress_clear(&s->progress);
                        fprintf(stderr, "tollgate-submit: scanning the "
                                        "completions topic timed out\n");
                        return -1;
                }
                tgs_progress_show(&s->progress, "completions found",
                                  (int64_t)tg_collector_found(s->collector), -1,
                                  0);
        }
        tgs_progress_clear(&s->progress);
        return tgs_stop ? -1 : 0;
}

int tgs_resume_scan(tgs_t *s)
{
        char err[512];
        const char **ids = NULL;
        size_t n = 0;

        if (s->sidecar.n_ids > 0) {
                ids = calloc((size_t)s->sidecar.n_ids, sizeof(*ids));
                if (!ids)
                        return -1;
                for (int64_t i = 0; i < s->sidecar.n_ids; i++)
                        if (s->sidecar.ids[i])
                                ids[n++] = s->sidecar.ids[i];
        }
        s->collector = tg_collector_new(&s->cconf, ids, n, err, sizeof(err));
        free(ids);
        if (!s->collector) {
                fprintf(stderr, "tollgate-submit: %s\n", err);
                return -1;
        }
        if (n == 0)
                return 0;
        if (!s->o.quiet)
                fprintf(stderr,
                        "resuming: %zu requestIds recorded in %s; looking "
                        "for their completions\n",
                        tg_collector_wanted(s->collector), s->sidecar.path);
        return scan(s);
}
