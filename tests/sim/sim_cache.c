/*
 * The simulator's prompt cache: a prompt prefix up to a cachePoint is
 * written on first use and read while its time to live runs (5 minutes,
 * or 1 hour), as Bedrock's prompt caching bills it: cacheReadInputTokens
 * for the longest cached prefix, cacheWriteInputTokens for the rest up to
 * the last cache point (split by TTL in cacheDetails), inputTokens for what
 * follows it. A small table (oldest entry replaced), one lock: the
 * simulator's threads share it.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "sim_converse.h"

#define SIM_CACHE_SLOTS 4096

typedef struct slot {
        uint64_t key;
        int64_t expires_ms;
} slot_t;

static slot_t slots[SIM_CACHE_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t key_of(const char *model, uint64_t hash)
{
        uint64_t h = hash ^ 0x9E3779B97F4A7C15ULL;

        for (; model && *model; model++)
                h = (h ^ (unsigned char)*model) * 1099511628211ULL;
        return h ? h : 1;
}

static slot_t *find(uint64_t key)
{
        return &slots[key % SIM_CACHE_SLOTS];
}

void sim_cache_use(const char *model, const sim_prompt_t *p,
                   sim_cache_use_t *out)
{
        int64_t now = now_ms();
        size_t hit = 0; /* points [0, hit) are cached */

        memset(out, 0, sizeof(*out));
        if (!p->n_points)
                return;
        pthread_mutex_lock(&lock);
        for (size_t i = p->n_points; i > 0; i--) {
                slot_t *s = find(key_of(model, p->points[i - 1].hash));
                if (s->key == key_of(model, p->points[i - 1].hash) &&
                    s->expires_ms > now) {
                        hit = i;
                        break;
                }
        }
        out->read = hit ? p->points[hit - 1].tokens : 0;
        for (size_t i = hit; i < p->n_points; i++) {
                const sim_cache_point_t *c = &p->points[i];
                uint64_t seg = c->tokens - (i ? p->points[i - 1].tokens : 0);
                slot_t *s = find(key_of(model, c->hash));

                if (c->ttl_1h)
                        out->write_1h += seg;
                else
                        out->write_5m += seg;
                s->key = key_of(model, c->hash);
                s->expires_ms = now + (c->ttl_1h ? 3600000 : 300000);
        }
        pthread_mutex_unlock(&lock);
}
