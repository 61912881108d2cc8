/*
 * An account-level requests-per-second quota as a token bucket: it refills
 * at N tokens/s and holds at most N, so a burst of one second's worth is
 * admitted and anything faster is answered ThrottlingException.
 */
#ifndef SIM_QUOTA_H
#define SIM_QUOTA_H

#include <pthread.h>
#include <stdint.h>

typedef struct sim_quota {
        pthread_mutex_t lock;
        uint64_t rps; /* the rate the bucket was filled for */
        double tokens;
        uint64_t last_ns;
} sim_quota_t;

void sim_quota_init(sim_quota_t *q);
void sim_quota_destroy(sim_quota_t *q);
/* Takes one token at rate rps (0: unlimited). A changed rate restarts the
 * bucket full. Returns 1 when admitted, 0 when over quota. */
int sim_quota_take(sim_quota_t *q, uint64_t rps, uint64_t now_ns);

#endif
