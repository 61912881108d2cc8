/*
 * AIMD concurrency: +1 per window of successes, x0.7 per throttle burst.
 */
#include "bedrock/aimd.h"
#include "tg_test.h"

/* Successes needed to raise the limit by one from where it is. */
static int successes_to_grow(tg_aimd_t *a)
{
        int64_t start = tg_aimd_limit(a);
        int n = 0;

        while (tg_aimd_limit(a) == start && n < 100000) {
                tg_aimd_on_success(a);
                n++;
        }
        return n;
}

static void test_increase(void)
{
        tg_aimd_t a;
        int n;

        tg_aimd_init(&a, 10, 1, 100);
        CHECK_INT(tg_aimd_limit(&a), 10);
        /* About one full window (10 calls) per step. */
        n = successes_to_grow(&a);
        CHECK(n >= 10 && n <= 11);
        CHECK_INT(tg_aimd_limit(&a), 11);
        n = successes_to_grow(&a);
        CHECK(n >= 11 && n <= 12);
        /* Never above max. */
        for (int i = 0; i < 100000; i++)
                tg_aimd_on_success(&a);
        CHECK_INT(tg_aimd_limit(&a), 100);
}

static void test_decrease(void)
{
        tg_aimd_t a;

        tg_aimd_init(&a, 10, 2, 100);
        CHECK_INT(tg_aimd_on_throttle(&a, 1000), 1);
        CHECK_INT(tg_aimd_limit(&a), 7);
        /* The rest of the burst, within 100 ms: no further cut. */
        CHECK_INT(tg_aimd_on_throttle(&a, 1000), 0);
        CHECK_INT(tg_aimd_on_throttle(&a, 1099), 0);
        CHECK_INT(tg_aimd_limit(&a), 7);
        /* A new burst cuts again: 7 * 0.7 = 4.9. */
        CHECK_INT(tg_aimd_on_throttle(&a, 1100), 1);
        CHECK_INT(tg_aimd_limit(&a), 4);
        /* Never below min. */
        for (int64_t t = 2000; t < 10000; t += 200)
                tg_aimd_on_throttle(&a, t);
        CHECK_INT(tg_aimd_limit(&a), 2);
        /* A clock that jumped back does not freeze the limit. */
        tg_aimd_init(&a, 50, 1, 100);
        CHECK_INT(tg_aimd_on_throttle(&a, 5000), 1);
        CHECK_INT(tg_aimd_on_throttle(&a, 10), 1);
        CHECK_INT(tg_aimd_limit(&a), 24);
        /* The very first throttle cuts even at time 0. */
        tg_aimd_init(&a, 10, 1, 100);
        CHECK_INT(tg_aimd_on_throttle(&a, 0), 1);
}

static void test_recovery(void)
{
        tg_aimd_t a;

        /* Cut from 100 to 70, then about 30 windows of ~85 calls back. */
        tg_aimd_init(&a, 100, 1, 100);
        tg_aimd_on_throttle(&a, 0);
        CHECK_INT(tg_aimd_limit(&a), 70);
        for (int i = 0; i < 70 * 30; i++)
                tg_aimd_on_success(&a);
        CHECK(tg_aimd_limit(&a) >= 95);
}

static void test_init_clamps(void)
{
        tg_aimd_t a;

        tg_aimd_init(&a, 0, 0, 0);
        CHECK_INT(a.min, 1);
        CHECK_INT(a.max, 1);
        CHECK_INT(tg_aimd_limit(&a), 1);
        tg_aimd_init(&a, 500, 1, 100);
        CHECK_INT(tg_aimd_limit(&a), 100);
        tg_aimd_init(&a, 1, 5, 3);
        CHECK_INT(a.max, 5);
        CHECK_INT(tg_aimd_limit(&a), 5);
        tg_aimd_on_throttle(&a, 0);
        CHECK_INT(tg_aimd_limit(&a), 5);
}

/* The rate gate keeps the concurrency from being cut below its needs. */
static void test_raise(void)
{
        tg_aimd_t a;

        tg_aimd_init(&a, 10, 1, 100);
        tg_aimd_raise(&a, 5); /* never lowers */
        CHECK_INT(tg_aimd_limit(&a), 10);
        tg_aimd_on_throttle(&a, 1000);
        CHECK_INT(tg_aimd_limit(&a), 7);
        tg_aimd_raise(&a, 9);
        CHECK_INT(tg_aimd_limit(&a), 9);
        tg_aimd_raise(&a, 1000); /* within max */
        CHECK_INT(tg_aimd_limit(&a), 100);
}

int main(void)
{
        test_increase();
        test_decrease();
        test_recovery();
        test_init_clamps();
        test_raise();
        return tg_test_done("test_aimd");
}
