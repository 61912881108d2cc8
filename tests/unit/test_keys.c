/* The Redis key schema and period labels: UTC calendar roll-overs, month
 * lengths and leap days, since a wrong label silently starts a new budget
 * period. */
#include <stdlib.h>

#include "keys.h"
#include "tg_test.h"
#include "tgtime.h"

static time_t at(const char *rfc3339)
{
        int64_t us = 0;

        CHECK_INT(tg_time_parse_rfc3339(rfc3339, &us), 0);
        return (time_t)(us / 1000000);
}

static void check_label(tg_period_t p, time_t t, const char *want)
{
        char out[TG_PERIOD_LABEL_MAX];

        tg_period_label(p, t, out);
        CHECK_STR(out, want);
}

static void check_both(time_t t, const char *day, const char *month)
{
        check_label(TG_PERIOD_DAY, t, day);
        check_label(TG_PERIOD_MONTH, t, month);
        check_label(TG_PERIOD_TOTAL, t, "total");
}

static void test_midnight(void)
{
        time_t t = at("2026-11-27T23:59:59Z");

        check_both(t, "2026-11-27", "2026-11");
        check_both(t + 1, "2026-11-28", "2026-11");
        check_both(at("2026-11-30T23:59:59Z"), "2026-11-30", "2026-11");
        check_both(at("2026-11-30T23:59:59Z") + 1, "2026-12-01", "2026-12");
        check_both(at("2026-12-31T23:59:59Z") + 1, "2027-01-01", "2027-01");
        /* A local-time offset would move these; labels are UTC. */
        check_both(at("2026-11-27T00:00:00Z"), "2026-11-27", "2026-11");
        check_both(at("2026-11-27T00:00:00Z") - 1, "2026-11-26", "2026-11");
}

static void test_month_lengths(void)
{
        static const struct {
                const char *last; /* last second of the month */
                const char *next_day, *next_month;
        } cases[] = {
            {"2026-01-31T23:59:59Z", "2026-02-01", "2026-02"},
            {"2026-02-28T23:59:59Z", "2026-03-01", "2026-03"},
            {"2026-04-30T23:59:59Z", "2026-05-01", "2026-05"},
            {"2026-06-30T23:59:59Z", "2026-07-01", "2026-07"},
            {"2026-09-30T23:59:59Z", "2026-10-01", "2026-10"},
            {"2100-02-28T23:59:59Z", "2100-03-01", "2100-03"}, /* no leap */
            {"2000-02-29T23:59:59Z", "2000-03-01", "2000-03"}, /* leap */
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                check_both(at(cases[i].last) + 1, cases[i].next_day,
                           cases[i].next_month);
}

static void test_leap_day(void)
{
        time_t t = at("2028-02-29T23:59:59Z");

        check_both(at("2028-02-28T23:59:59Z") + 1, "2028-02-29", "2028-02");
        check_both(t, "2028-02-29", "2028-02");
        check_both(t + 1, "2028-03-01", "2028-03");
}

/* TOLLGATE_FAKE_NOW moves tg_time_now(), which every label must use. */
static void test_fake_now(void)
{
        time_t now;

        setenv("TOLLGATE_FAKE_NOW", "2028-02-29T12:00:00Z", 1);
        now = tg_time_now();
        CHECK(now >= at("2028-02-29T12:00:00Z"));
        CHECK(now < at("2028-02-29T12:00:00Z") + 600);
        check_both(now, "2028-02-29", "2028-02");
}

static void test_periods(void)
{
        tg_period_t p;

        CHECK_INT(tg_period_parse("day", &p), 0);
        CHECK_INT(p, TG_PERIOD_DAY);
        CHECK_INT(tg_period_parse("month", &p), 0);
        CHECK_INT(p, TG_PERIOD_MONTH);
        CHECK_INT(tg_period_parse("total", &p), 0);
        CHECK_INT(p, TG_PERIOD_TOTAL);
        CHECK_INT(tg_period_parse("week", &p), -1);
        CHECK_INT(tg_period_parse("Day", &p), -1);
        CHECK_STR(tg_period_name(TG_PERIOD_MONTH), "month");
}

static void test_keys(void)
{
        char key[128];
        char id[TG_BUDGET_ID_MAX + 2];

        CHECK_INT(tg_key_budget(key, sizeof(key), "eng", "2026-11"),
                  (int)strlen("tg:{tg}:b:eng:2026-11"));
        CHECK_STR(key, "tg:{tg}:b:eng:2026-11");
        CHECK_INT(tg_key_budget(key, 10, "eng", "2026-11"), -1);
        CHECK(tg_key_request(key, sizeof(key), "r-1:x") > 0);
        CHECK_STR(key, "tg:{tg}:req:r-1:x");
        CHECK_STR(TG_KEY_BUDGETS, "tg:{tg}:budgets");
        CHECK_STR(TG_KEY_VERSION, "tg:{tg}:budgets:version");

        CHECK(tg_budget_id_valid("eng"));
        CHECK(tg_budget_id_valid("team-a.ml_2"));
        CHECK(!tg_budget_id_valid(""));
        CHECK(!tg_budget_id_valid("a:b")); /* ':' would split the key */
        CHECK(!tg_budget_id_valid("a b"));
        CHECK(!tg_budget_id_valid("a*"));
        CHECK(!tg_budget_id_valid("{tg}"));
        memset(id, 'a', sizeof(id));
        id[TG_BUDGET_ID_MAX] = '\0';
        CHECK(tg_budget_id_valid(id));
        id[TG_BUDGET_ID_MAX] = 'a';
        id[TG_BUDGET_ID_MAX + 1] = '\0';
        CHECK(!tg_budget_id_valid(id));
}

int main(void)
{
        test_midnight();
        test_month_lengths();
        test_leap_day();
        test_fake_now();
        test_periods();
        test_keys();
        return tg_test_done("test_keys");
}
