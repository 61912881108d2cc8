/*
 * Period-end projections of a money budget from its spend rate so far in
 * the current period (docs/operations.md, "Forecasts"). Integers only.
 *
 * The rate is the period's average: spent / elapsed seconds since the
 * period began (UTC midnight, or the 1st of the month 00:00 UTC). The
 * projection is spent * period_length / elapsed, rounded up (a forecast
 * that errs, errs high); the limit is passed, at that rate, at
 * start + floor(limit * elapsed / spent) + 1 seconds. `total` budgets have
 * no period end, hence no projection. Pure functions; any thread.
 */
#ifndef TG_LEDGER_FORECAST_H
#define TG_LEDGER_FORECAST_H

#include <stdint.h>
#include <time.h>

#include "keys.h"

/* [start, end) of the day or month holding `now`. Returns 0, or -1 for
 * TG_PERIOD_TOTAL (no bounds). */
int tg_period_bounds(tg_period_t kind, time_t now, time_t *start, time_t *end);

typedef struct tg_forecast {
        int64_t elapsed_s;      /* seconds of the period gone, >= 1 */
        int64_t rate_per_day;   /* nano-USD per 24 h at the average rate */
        int64_t projected_nano; /* spend at the period end at that rate */
        int passes;             /* 1: passes the limit before the end */
        int already;            /* 1: spent is over the limit already */
        time_t pass_at;         /* when, if passes (or already: now) */
} tg_forecast_t;

/* The forecast of `spent` at `now` in [start, end); limit < 0: none (then
 * passes and already stay 0). Returns 0, or -1 when now is outside the
 * period or an input is negative. */
int tg_forecast(int64_t spent, int64_t limit, time_t start, time_t end,
                time_t now, tg_forecast_t *out);

#endif
