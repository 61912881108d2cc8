#include "tgtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t fake_offset_us;
static pthread_once_t fake_once = PTHREAD_ONCE_INIT;

static int64_t real_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void fake_init(void)
{
        const char *s = getenv("TOLLGATE_FAKE_NOW");
        int64_t us;
        char *end;

        if (!s || !*s)
                return;
        long long secs = strtoll(s, &end, 10);
        if (*end == '\0')
                us = (int64_t)secs * 1000000;
        else if (tg_time_parse_rfc3339(s, &us) != 0)
                return;
        fake_offset_us = us - real_now_us();
}

int64_t tg_time_now_us(void)
{
        pthread_once(&fake_once, fake_init);
        return real_now_us() + fake_offset_us;
}

time_t tg_time_now(void)
{
        return (time_t)(tg_time_now_us() / 1000000);
}

int64_t tg_mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t tg_mono_ms(void)
{
        return tg_mono_us() / 1000;
}

void tg_time_format_us(int64_t us, char *out, size_t size)
{
        time_t secs = (time_t)(us / 1000000);
        struct tm tm;
        char base[24];

        gmtime_r(&secs, &tm);
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, size, "%s.%06dZ", base, (int)(us % 1000000));
}

static int parse_fraction(const char **p, int64_t *frac_us)
{
        int64_t v = 0, scale = 100000;

        if (**p != '.')
                return 0;
        (*p)++;
        if (**p < '0' || **p > '9')
                return -1;
        for (; **p >= '0' && **p <= '9'; (*p)++) {
                v += (**p - '0') * scale;
                scale /= 10;
        }
        *frac_us = v;
        return 0;
}

int tg_time_parse_rfc3339(const char *s, int64_t *us)
{
        struct tm tm;
        int64_t frac = 0;
        const char *p;

        memset(&tm, 0, sizeof(tm));
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p || parse_fraction(&p, &frac) != 0)
                return -1;
        if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
                return -1;
        *us = (int64_t)timegm(&tm) * 1000000 + frac;
        return 0;
}
