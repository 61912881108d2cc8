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

/* While the window still counts a burst (more accepted than the rate
 * lets through), each new overload still lowers the rate. */
static void test_cut_below_rate(void)
{
        tg_rate_t r;
        double before;

        tg_rate_init(&r, 1, 1e6);
        send_for(&r, 0, 1000, 5); /* 200 accepted in the first second */
        tg_rate_on_throttle(&r, 999, 1000);
        before = tg_rate_limit(&r);
        NEAR(before, 0.9 * 199, 1.0);
        /* Another 100 accepted by 1.3 s: the window says ~300/s. */
        send_for(&r, 1000, 300, 3);
        CHECK(tg_rate_accepted(&r, 1300) > before);
        CHECK_INT(tg_rate_on_throttle(&r, 1250, 1300), 1);
        NEAR(tg_rate_limit(&r), TG_RATE_DECREASE * before, 1e-6);
        CHECK_INT(r.cuts, 2);
}

/* Two gates of one quota, one cut far below the other: both grow by the
 * same absolute amount per second at least (of the peak they measured),
 * so the small one catches up instead of keeping its small share. */
static void test_fair_growth(void)
{
        tg_rate_t big, small;
        int64_t t;

        tg_rate_init(&big, 1, 1e6);
        tg_rate_init(&small, 1, 1e6);
        send_for(&big, 0, 1000, 10); /* both: 100/s accepted */
        send_for(&small, 0, 1000, 10);
        tg_rate_on_throttle(&big, 999, 1000);
        tg_rate_on_throttle(&small, 999, 1000);
        NEAR(small.peak, 99.0, 1.0);
        /* The small one's next overload: all but 10 throttled. */
        for (t = 1200; t < 2200; t += 10) {
                tg_rate_take(&small, t);
                if (t % 100)
                        tg_rate_on_throttle(&small, t, t);
        }
        CHECK(tg_rate_limit(&small) < 20.0);
        CHECK(tg_rate_limit(&big) > 80.0);
        double s0 = tg_rate_limit(&small);
        double b0 = tg_rate_limit(&big);
        /* 5 s of calls waiting, no throttle, from a second after the
         * small one's last cut. */
        int64_t from = small.cut_ms + TG_RATE_WINDOW_MS;
        for (t = from; t < from + 5000; t += 10) {
                tg_rate_on_success(&small, t, 1);
                tg_rate_on_success(&big, t, 1);
        }
        /* Since its cut: speed >= 2 %/s of 99, per s, from 1 s to 6 s:
         * 0.02 x 99 x (36 - 1) / 2 = 34.6. */
        CHECK(tg_rate_limit(&small) - s0 >= 30.0);
        /* Its share grew: the next cut (x 0.9 for both) keeps that, and
         * the next growth closes more of the gap. */
        CHECK(tg_rate_limit(&small) / tg_rate_limit(&big) > 1.5 * s0 / b0);
}

/* A fleet as in bench_quota.py: 4 workers with 2 models each (8 limiters)
 * share an account quota of 200 calls/s (a bucket of 1 s, like the
 * simulator's); each worker has a backlog of its own, alternating models.
 * A success answers after 500 ms, a throttle at once (2 ms), and the
 * throttled call waits at the head of its gate. Each ms the gates go in a
 * random order (the workers are separate processes), each able to send a
 * few calls (admission and HTTP take time). */
enum { FLEET_W = 4, FLEET_M = 2, FLEET_G = FLEET_W * FLEET_M };

typedef struct fleet_call {
        int64_t at, sent_ms;
        int gate, ok;
} fleet_call_t;

typedef struct fleet {
        tg_rate_t r[FLEET_G];
        int waiting[FLEET_G];
        fleet_call_t calls[4096]; /* in flight */
        int n_calls;
        double tokens;
        uint32_t rng;
        int done, total;
        int64_t last_ok_ms;
        double ok5, thr5, calls5; /* after 5 s */
} fleet_t;

static uint32_t fleet_rand(fleet_t *f)
{
        f->rng = f->rng * 1103515245u + 12345u;
        return f->rng >> 16;
}

/* Answers the calls due at t. */
static void fleet_answer(fleet_t *f, int64_t t)
{
        for (int i = 0; i < f->n_calls;) {
                fleet_call_t c = f->calls[i];
                if (c.at > t) {
                        i++;
                        continue;
                }
                f->calls[i] = f->calls[--f->n_calls];
                if (c.ok) {
                        tg_rate_on_success(&f->r[c.gate], t,
                                           f->waiting[c.gate] > 0);
                        f->done++;
                        f->last_ok_ms = t;
                } else {
                        tg_rate_on_throttle(&f->r[c.gate], c.sent_ms, t);
                        f->waiting[c.gate]++;
                }
        }
}

static void fleet_send(fleet_t *f, int g, int64_t t, int per_ms)
{
        for (int k = 0;
             k < per_ms && f->waiting[g] &&
             f->n_calls < (int)(sizeof(f->calls) / sizeof(f->calls[0])) &&
             tg_rate_take(&f->r[g], t);
             k++) {
                int pass = f->tokens >= 1.0;
                if (pass)
                        f->tokens -= 1.0;
                f->waiting[g]--;
                f->calls[f->n_calls++] =
                    (fleet_call_t){t + (pass ? 500 : 2), t, g, pass};
                if (t >= 5000) {
                        f->calls5++;
                        f->ok5 += pass;
                        f->thr5 += !pass;
                }
        }
}

/* Runs the fleet with per-worker backlogs `per`; returns the successful
 * calls per second from 5 s to the last success. */
static double fleet_run(fleet_t *f, const int per[FLEET_W], uint32_t seed,
                        int per_ms)
{
        *f = (fleet_t){.tokens = 200, .rng = seed};
        for (int g = 0; g < FLEET_G; g++) {
                tg_rate_init(&f->r[g], 1, 1e6);
                f->waiting[g] = per[g / FLEET_M] / FLEET_M;
                f->total += f->waiting[g];
        }
        for (int64_t t = 0; t < 120000 && f->done < f->total; t++) {
                int order[FLEET_G];
                f->tokens += 0.2;
                if (f->tokens > 200)
                        f->tokens = 200;
                fleet_answer(f, t);
                for (int g = 0; g < FLEET_G; g++)
                        order[g] = g;
                for (int g = FLEET_G - 1; g > 0; g--) {
                        int j = (int)(fleet_rand(f) % (uint32_t)(g + 1));
                        int x = order[g];
                        order[g] = order[j];
                        order[j] = x;
                }
                for (int g = 0; g < FLEET_G; g++)
                        fleet_send(f, order[g], t, per_ms);
        }
        CHECK_INT(f->done, f->total);
        return f->ok5 * 1000.0 / (double)(f->last_ok_ms - 500 - 5000);
}

/* After 5 s the fleet gets >= 90 % of the quota (to its last call: the
 * workers that finish early leave their share to the others) with <= 5 %
 * of calls throttled. */
static void test_shared_quota(void)
{
        static fleet_t f;
        const int even[FLEET_W] = {1650, 1650, 1650, 1650};
        const int uneven[FLEET_W] = {1400, 1650, 1650, 1900};
        struct {
                const int *per;
                int per_ms;
        } cases[] = {{even, 2}, {even, 5}, {uneven, 2}, {uneven, 1}};

        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                for (uint32_t seed = 1; seed <= 3; seed++) {
                        double ok =
                            fleet_run(&f, cases[c].per, seed, cases[c].per_ms);
                        double thr = f.thr5 / f.calls5;
                        printf("shared quota %zu/%u: %.1f/s after 5 s, "
                               "%.2f %% throttled, done at %.1f s\n",
                               c, seed, ok, 100.0 * thr,
                               (double)f.last_ok_ms / 1000.0);
                        CHECK(ok >= 180.0);
                        CHECK(thr <= 0.05);
                }
        }
}

int main(void)
{
        test_off_until_throttle();
        test_decrease_to_accepted();
        test_floor();
        test_pacing();
        test_recovery();
        test_no_starvation();
        test_cut_below_rate();
        test_fair_growth();
        test_shared_quota();
        return tg_test_done("test_ratelimit");
}
