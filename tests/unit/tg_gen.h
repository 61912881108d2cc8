/*
 * Deterministic input generators shared by the generated-document tests
 * (test_jsonr, test_converse_oracle, test_request_oracle): a xorshift64
 * seeded by each test (#define TG_GEN_SEED before including) and a bounded
 * append, so a failure replays the same way every run.
 */
#ifndef TG_GEN_H
#define TG_GEN_H

#include <stdint.h>
#include <string.h>

#ifndef TG_GEN_SEED
#error "define TG_GEN_SEED before including tg_gen.h"
#endif

static uint64_t tg_gen_state = TG_GEN_SEED;

static inline uint32_t tg_gen_next(void)
{
        tg_gen_state ^= tg_gen_state << 13;
        tg_gen_state ^= tg_gen_state >> 7;
        tg_gen_state ^= tg_gen_state << 17;
        return (uint32_t)(tg_gen_state >> 16);
}

/* Appends s to b (n bytes used of cap) when it fits whole. */
static inline void tg_gen_put(char *b, size_t *n, size_t cap, const char *s)
{
        size_t k = strlen(s);

        if (*n + k < cap) {
                memcpy(b + *n, s, k);
                *n += k;
        }
}

#endif
