/*
 * Time for tollgate: wall clock with an injectable override for tests, RFC
 * 3339 formatting, and a monotonic clock for latencies.
 */
#ifndef TG_TIME_H
#define TG_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Wall clock in microseconds since the epoch. When TOLLGATE_FAKE_NOW is set
 * (RFC 3339 UTC, e.g. "2028-02-29T23:59:59Z", or integer seconds) the clock
 * starts there and advances with real time, so period roll-overs can be
 * tested. Read once, at first use. */
int64_t tg_time_now_us(void);
time_t tg_time_now(void);

/* Monotonic milliseconds / microseconds, for latencies and timers. */
int64_t tg_mono_ms(void);
int64_t tg_mono_us(void);

/* "2026-11-27T10:00:01.123456Z" into out (>= 32 bytes). */
void tg_time_format_us(int64_t us, char *out, size_t size);

/* Parses RFC 3339 UTC ("...Z" or "+00:00", optional fraction) into
 * microseconds. Returns 0 or -1. */
int tg_time_parse_rfc3339(const char *s, int64_t *us);

#endif
