#include "ids.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

static void fill_random(void *buf, size_t n)
{
        if (getrandom(buf, n, 0) != (ssize_t)n) {
                /* getrandom cannot fail for small sizes once the pool is
                 * up; keep ids unique anyway. */
                uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)buf;
                for (size_t i = 0; i < n; i++)
                        ((unsigned char *)buf)[i] =
                            (unsigned char)(t >> (i % 8));
        }
}

uint64_t tg_random64(void)
{
        uint64_t v;

        fill_random(&v, sizeof(v));
        return v;
}

void tg_uuid4(char out[37])
{
        unsigned char b[16];

        fill_random(b, sizeof(b));
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
        snprintf(out, 37,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%"
                 "02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                 b[10], b[11], b[12], b[13], b[14], b[15]);
}
