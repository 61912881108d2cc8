/*
 * The adaptive rate limiter on a deterministic clock: off until a throttle,
 * cut to what was accepted, one cut per overload, never below the floor,
 * recovery while calls wait, no starvation, pacing by the bucket.
 */
#include <math.h>

#include "bedrock/ratelimit.h"
#include "tg_test.h"

#define NEAR(a, b, tol) CHECK(fabs((double)(a) - (double)(b)) <= (tol))

/* Sends every `step_ms` from t0 for `ms` (what passes the bucket);
 * returns how many went. */
static int send_for(tg_rate_t *r, int64_t t0, int64_t ms, int64_t step_ms)
{
        int n = 0;

        for (int64_t t = t0; t < t0 + ms; t += step_ms)
                n += tg_rate_take(r, t);
        return n;
}

static void test_off_until_throttle(void)
{
        tg_rate_t r;

        tg_rate_init(&r, 1, 1e6);
        CHECK(tg_rate_limit(&r) == 0);
        /* No limit: every call goes, at any pace. */
        CHECK_INT(send_for(&r, 1000, 10, 1) + send_for(&r, 1010, 1, 1), 11);
        for (int i = 0; i < 1000; i++)
                CHECK_INT(tg_rate_take(&r, 1011), 1);
        CHECK_INT(tg_rate_wait_ms(&r, 1011), 0);
}

static void test_decrease_to_accepted(void)
{
        tg_rate_t r;

        tg_rate_init(&r, 1, 1e6);
        /* 100 calls over the first second, then one more second of 100. */
        CHECK_INT(send_for(&r, 0, 2000, 10), 200);
        /* 20 of the last second's were throttled: 80 accepted -> 72/s. */
        for (int i = 0; i < 19; i++)
                tg_rate_on_throttle(&r, 1990, 2000);
        CHECK_INT(r.cuts, 1);
        NEAR(tg_rate_limit(&r), 0.9 * 99.0, 1.0);
        /* The rest of the burst: sent before the cut, no further cut. */
        CHECK_INT(tg_rate_on_throttle(&r, 1998, 2050), 0);
        CHECK_INT(tg_rate_on_throttle(&r, 1999, 2500), 0);
        /* Sent after it but within TG_RATE_CUT_MS of it: one cut. */
        CHECK_INT(tg_rate_on_throttle(&r, 2000, 2050), 0);
        /* A new overload after that cuts again, never upwards. */
        double before = tg_rate_limit(&r);
        CHECK_INT(tg_rate_on_throttle(&r, 2400, 2600), 1);
        CHECK(tg_rate_limit(&r) <= before);
        CHECK(tg_rate_limit(&r) > 0);
}

static void test_floor(void)
{
        tg_rate_t r;

        tg_rate_init(&r, 2, 1e6);
        /* Every call throttled: nothing accepted. */
        for (int64_t t = 0; t < 20000; t += 200) {
                if (tg_rate_take(&r, t))
                        tg_rate_on_throttle(&r, t, t + 1);
        }
        CHECK(r.cuts > 1);
        NEAR(tg_rate_limit(&r), 2.0, 1e-9);
        /* And the floor still lets calls through, paced. */
        CHECK_INT(tg_rate_wait_ms(&r, 20000) <= 500, 1);
        int n = send_for(&r, 20000, 10000, 1);
        CHECK(n >= 19 && n <= 21);
        /* A floor of 0 is raised: the rate never reaches 0. */
        tg_rate_init(&r, 0, 10);
        tg_rate_take(&r, 0);
        tg_rate_on_throttle(&r, 0, 0);
        CHECK(tg_rate_limit(&r) > 0);
}

static void test_pacing(void)
{
        tg_rate_t r;
        int n;

        tg_rate_init(&r, 1, 1e6);
        send_for(&r, 0, 1000, 20); /* 50 in the first second */
        tg_rate_on_throttle(&r, 999, 1000);
        NEAR(tg_rate_limit(&r), 0.9 * 49, 0.5);
        /* Polled every ms for 10 s, idle (no growth): ~rate x 10 s. */
        n = send_for(&r, 1000, 10000, 1);
        CHECK(n >= 430 && n <= 446);
        /* wait_ms says when the next token is due. */
        int64_t w = tg_rate_wait_ms(&r, 11000);
        CHECK(w >= 0 && w <= 24);
        CHECK_INT(tg_rate_take(&r, 11000 + w), 1);
}

static void test_recovery(void)
{
        tg_rate_t r;
        double cut, probe_from;
        int64_t t;

        tg_rate_init(&r, 1, 1e6);
        send_for(&r, 0, 1000, 10); /* 100/s */
        tg_rate_on_throttle(&r, 999, 1000);
        cut = tg_rate_limit(&r);
        NEAR(cut, 89.1, 0.5);
        /* Within a window of the cut: no growth, even with calls waiting. */
        for (t = 1000; t < 1990; t += 10)
                tg_rate_on_success(&r, t, 1);
        NEAR(tg_rate_limit(&r), cut, 1e-9);
        /* Idle: no growth either. */
        for (t = 2000; t < 5000; t += 10)
                tg_rate_on_success(&r, t, 0);
        NEAR(tg_rate_limit(&r), cut, 1e-9);
        /* Calls waiting: quick recovery to 97 % of the accepted rate
         * (10 %/s of it: under a second) ... */
        probe_from = r.accepted * TG_RATE_PROBE_FROM;
        for (t = 5000; t < 6000; t += 10)
                tg_rate_on_success(&r, t, 1);
        CHECK(tg_rate_limit(&r) >= probe_from);
        /* ... then slower probing above it (faster as the quiet lasts). */
        double at = tg_rate_limit(&r);
        for (t = 6000; t < 11000; t += 10)
                tg_rate_on_success(&r, t, 1);
        CHECK(tg_rate_limit(&r) - at >= 5 * TG_RATE_PROBE * r.accepted - 0.5);
        CHECK(tg_rate_limit(&r) - at <= 1.5 * r.accepted);
        /* A clock that went backwards does not move the rate. */
        at = tg_rate_limit(&r);
        tg_rate_on_success(&r, 100, 1);
        NEAR(tg_rate_limit(&r), at, 1e-9);
}

static void test_no_starvation(void)
{
        tg_rate_t r;
        int64_t t;
        int n = 0;

        /* Cut to the floor with nothing accepted: calls keep going and the
         * rate climbs while they wait. */
        tg_rate_init(&r, 1, 1e6);
        tg_rate_take(&r, 0);
        tg_rate_on_throttle(&r, 0, 0);
        NEAR(tg_rate_limit(&r), 1.0, 1e-9);
        for (t = 1; t <= 60000; t++) {
                if (tg_rate_take(&r, t)) {
                        n++;
                        tg_rate_on_success(&r, t, 1);
                }
        }
        CHECK(tg_rate_limit(&r) >= 20.0);
        CHECK(n >= 500);
}

/* Four limiters share a quota of 200/s (a bucket of 1 s, like the
 * simulator's) and a backlog: after adapting, they get >= 90 % of it with
 * <= 5 % of calls throttled. */
static void test_shared_quota(void)
{
        enum { N = 4 };
        tg_rate_t r[N];
        double tokens = 200, ok = 0, thr = 0, calls = 0;

        for (int i = 0; i < N; i++)
                tg_rate_init(&r[i], 1, 1e6);
        for (int64_t t = 0; t < 60000; t++) {
                tokens += 0.2;
                if (tokens > 200)
                        tokens = 200;
                /* After 50 s the first three have no work left. */
                for (int i = t < 50000 ? 0 : N - 1; i < N; i++) {
                        /* up to 5 calls per ms each: a big backlog */
                        for (int k = 0; k < 5 && tg_rate_take(&r[i], t); k++) {
                                int pass = tokens >= 1;
                                if (pass)
                                        tokens -= 1;
                                else
                                        tg_rate_on_throttle(&r[i], t, t);
                                if (t >= 10000) {
                                        calls++;
                                        ok += pass;
                                        thr += !pass;
                                }
                                if (pass)
                                        tg_rate_on_success(&r[i], t, 1);
                        }
                }
        }
        CHECK(ok / 50.0 >= 180.0);
        printf("last: %.1f/s\n", tg_rate_limit(&r[N - 1]));
        /* The last one found the share of the three that were done. */
        CHECK(tg_rate_limit(&r[N - 1]) >= 150.0);
        CHECK(thr / calls <= 0.05);
        printf("shared quota: %.1f/s accepted, %.2f %% throttled\n", ok / 50.0,
               100.0 * thr / calls);
}

int main(void)
{
        test_off_until_throttle();
        test_decrease_to_accepted();
        test_floor();
        test_pacing();
        test_recovery();
        test_no_starvation();
        test_shared_quota();
        return tg_test_done("test_ratelimit");
}
