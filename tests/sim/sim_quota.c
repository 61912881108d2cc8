#include "sim_quota.h"

void sim_quota_init(sim_quota_t *q)
{
        pthread_mutex_init(&q->lock, NULL);
        q->rps = 0;
        q->tokens = 0;
        q->last_ns = 0;
}

void sim_quota_destroy(sim_quota_t *q)
{
        pthread_mutex_destroy(&q->lock);
}

int sim_quota_take(sim_quota_t *q, uint64_t rps, uint64_t now_ns)
{
        int ok;

        if (!rps)
                return 1;
        pthread_mutex_lock(&q->lock);
        if (q->rps != rps) {
                q->rps = rps;
                q->tokens = (double)rps;
                q->last_ns = now_ns;
        }
        if (now_ns > q->last_ns) {
                q->tokens += (double)(now_ns - q->last_ns) * 1e-9 * rps;
                if (q->tokens > (double)rps)
                        q->tokens = (double)rps;
                q->last_ns = now_ns;
        }
        ok = q->tokens >= 1.0;
        if (ok)
                q->tokens -= 1.0;
        pthread_mutex_unlock(&q->lock);
        return ok;
}
