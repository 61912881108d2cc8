/* tg_ledger_usage_fill: the worker, not finish.lua, puts the spent values
 * in the usage event, on the first publication and on re-publications from
 * the stored record; a wrong fill would publish wrong spend or markers. */
#include <stdlib.h>

#include "ledger.h"
#include "tg_test.h"

static void check_fill(const char *usage, const char *spent, const char *want)
{
        char *got = tg_ledger_usage_fill(usage, spent);

        CHECK_STR(got, want);
        free(got);
}

static void test_fill(void)
{
        check_fill("{\"b\":[{\"s\":\"#tg:spent:1#\"},{\"s\":\"#tg:spent:2#\"}"
                   "],\"x\":1}",
                   "5020020,-7",
                   "{\"b\":[{\"s\":5020020},{\"s\":-7}],\"x\":1}");
        /* int64 extremes, exact (no double in between) */
        check_fill("[\"#tg:spent:1#\",\"#tg:spent:2#\"]",
                   "9223372036854775807,-9223372036854775808",
                   "[9223372036854775807,-9223372036854775808]");
        /* markers out of order, and 10 after 1 (no prefix match) */
        check_fill("[\"#tg:spent:2#\",\"#tg:spent:10#\",\"#tg:spent:1#\"]",
                   "1,2,3,4,5,6,7,8,9,10", "[2,10,1]");
}

static void test_first_only(void)
{
        /* only the first occurrence, as finish.lua did: a marker in free
         * text after the budgets stays */
        check_fill("[\"#tg:spent:1#\"],\"t\":\"#tg:spent:1#\"", "42",
                   "[42],\"t\":\"#tg:spent:1#\"");
        /* the marker without its quotes is not one */
        check_fill("#tg:spent:1#", "42", "#tg:spent:1#");
}

static void test_old_records(void)
{
        /* stored before the values were kept apart: already filled */
        check_fill("{\"s\":5020020}", "", "{\"s\":5020020}");
        check_fill("{\"s\":5020020}", NULL, "{\"s\":5020020}");
        /* fewer values than markers: the rest stay */
        check_fill("[\"#tg:spent:1#\",\"#tg:spent:2#\"]", "3",
                   "[3,\"#tg:spent:2#\"]");
        /* more values than markers */
        check_fill("[\"#tg:spent:1#\"]", "3,4", "[3]");
        check_fill("", "3", "");
}

static void test_bad_values(void)
{
        /* a corrupt value stops the fill: never a non-number in JSON */
        check_fill("[\"#tg:spent:1#\",\"#tg:spent:2#\"]", "1,x",
                   "[1,\"#tg:spent:2#\"]");
        check_fill("[\"#tg:spent:1#\"]", "1.5", "[\"#tg:spent:1#\"]");
        check_fill("[\"#tg:spent:1#\"]", "-", "[\"#tg:spent:1#\"]");
        check_fill("[\"#tg:spent:1#\"]", ",1", "[\"#tg:spent:1#\"]");
        check_fill("[\"#tg:spent:1#\"]", "123456789012345678901",
                   "[\"#tg:spent:1#\"]");
        check_fill("[\"#tg:spent:1#\"]", "1\"]", "[\"#tg:spent:1#\"]");
}

int main(void)
{
        test_fill();
        test_first_only();
        test_old_records();
        test_bad_values();
        return tg_test_done("test_usage_fill");
}
