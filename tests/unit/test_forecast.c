/* Period-end projections of money budgets (ledger/forecast.c), each
 * against a figure worked out by hand in the comment above it. */
#include "forecast.h"
#include "tg_test.h"

/* UTC instants, from python3 calendar.timegm */
#define DEC_1     1796083200 /* 2026-12-01T00:00:00Z */
#define JAN_1     1798761600 /* 2027-01-01T00:00:00Z */
#define DEC_2     1796169600 /* 2026-12-02T00:00:00Z */
#define DEC_2_06H 1796191200 /* 2026-12-02T06:00:00Z */
#define DEC_2_12H 1796212800 /* 2026-12-02T12:00:00Z */
#define DEC_3     1796256000 /* 2026-12-03T00:00:00Z */
#define NANO      1000000000LL

static void test_bounds(void)
{
        time_t s, e;

        CHECK_INT(tg_period_bounds(TG_PERIOD_MONTH, DEC_2_12H, &s, &e), 0);
        CHECK_INT(s, DEC_1);
        CHECK_INT(e, JAN_1); /* December rolls into the next year */
        CHECK_INT(tg_period_bounds(TG_PERIOD_DAY, DEC_2_12H, &s, &e), 0);
        CHECK_INT(s, DEC_2);
        CHECK_INT(e, DEC_3);
        /* February of a leap year: 2028-02-01 .. 2028-03-01, 29 days */
        CHECK_INT(tg_period_bounds(TG_PERIOD_MONTH, 1832976000 + 5, &s, &e), 0);
        CHECK_INT(e - s, 29 * 86400);
        CHECK_INT(tg_period_bounds(TG_PERIOD_TOTAL, DEC_2_12H, &s, &e), -1);
}

static void test_month(void)
{
        tg_forecast_t f;

        /* $3 spent 1.5 days (129,600 s) into a 31-day month: $2 a day,
         * 3e9 * 2,678,400 / 129,600 = $62 at the month end; a $50 limit is
         * passed 50e9 * 129,600 / 3e9 = 2,160,000 s (25 days) + 1 s after
         * the start: 2026-12-26T00:00:01Z */
        CHECK_INT(tg_forecast(3 * NANO, 50 * NANO, DEC_1, JAN_1, DEC_2_12H, &f),
                  0);
        CHECK_INT(f.elapsed_s, 129600);
        CHECK_INT(f.rate_per_day, 2 * NANO);
        CHECK_INT(f.projected_nano, 62 * NANO);
        CHECK_INT(f.passes, 1);
        CHECK_INT(f.already, 0);
        CHECK_INT(f.pass_at, 1798243201);
        /* a $100 limit: 4,320,001 s > the month, not passed */
        CHECK_INT(
            tg_forecast(3 * NANO, 100 * NANO, DEC_1, JAN_1, DEC_2_12H, &f), 0);
        CHECK_INT(f.passes, 0);
        CHECK_INT(f.projected_nano, 62 * NANO);
        /* exactly at the limit at the end ($62): passed 1 s after it */
        CHECK_INT(tg_forecast(3 * NANO, 62 * NANO, DEC_1, JAN_1, DEC_2_12H, &f),
                  0);
        CHECK_INT(f.passes, 0);
        /* nothing spent: no rate, never passes */
        CHECK_INT(tg_forecast(0, 50 * NANO, DEC_1, JAN_1, DEC_2_12H, &f), 0);
        CHECK_INT(f.projected_nano, 0);
        CHECK_INT(f.passes, 0);
        /* over already */
        CHECK_INT(
            tg_forecast(51 * NANO, 50 * NANO, DEC_1, JAN_1, DEC_2_12H, &f), 0);
        CHECK_INT(f.already, 1);
        CHECK_INT(f.pass_at, DEC_2_12H);
        /* no money limit: a projection, no date */
        CHECK_INT(tg_forecast(3 * NANO, -1, DEC_1, JAN_1, DEC_2_12H, &f), 0);
        CHECK_INT(f.projected_nano, 62 * NANO);
        CHECK_INT(f.passes, 0);
}

static void test_day(void)
{
        tg_forecast_t f;

        /* 1,000 nano in the first 6 h: 4,000 by midnight; a 2,000 limit
         * is passed at 2000 * 21,600 / 1000 + 1 = 43,201 s: 12:00:01Z */
        CHECK_INT(tg_forecast(1000, 2000, DEC_2, DEC_3, DEC_2_06H, &f), 0);
        CHECK_INT(f.projected_nano, 4000);
        CHECK_INT(f.rate_per_day, 4000);
        CHECK_INT(f.pass_at, 1796212801);
        /* rounded up: 1 nano after 7 s projects ceil(86,400 / 7) = 12,343 */
        CHECK_INT(tg_forecast(1, -1, DEC_2, DEC_3, DEC_2 + 7, &f), 0);
        CHECK_INT(f.projected_nano, 12343);
        CHECK_INT(f.rate_per_day, 12342);
        /* at 00:00:00 the first second counts whole: 5 * 86,400 */
        CHECK_INT(tg_forecast(5, -1, DEC_2, DEC_3, DEC_2, &f), 0);
        CHECK_INT(f.elapsed_s, 1);
        CHECK_INT(f.projected_nano, 432000);
        /* outside the period, negative spend */
        CHECK_INT(tg_forecast(5, -1, DEC_2, DEC_3, DEC_3, &f), -1);
        CHECK_INT(tg_forecast(-5, -1, DEC_2, DEC_3, DEC_2_06H, &f), -1);
        /* no overflow: $9e9 spent in 1 s of a month stays capped */
        CHECK_INT(tg_forecast(INT64_MAX, -1, DEC_1, JAN_1, DEC_1, &f), 0);
        CHECK_INT(f.projected_nano, INT64_MAX);
}

int main(void)
{
        test_bounds();
        test_month();
        test_day();
        return tg_test_done("test_forecast");
}
