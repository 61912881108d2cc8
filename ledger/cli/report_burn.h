/*
 * The HTML report's burn-down charts: per money budget, its current
 * period's cumulative spend (from the usage events' budgets[] entries,
 * binned by hour for day budgets and by day for month budgets), the
 * projection to the period end (forecast.h, from Redis's spent as
 * `status` shows it), the limit line and the threshold marks. The
 * collector lives for one report; one thread.
 */
#ifndef TG_LEDGER_REPORT_BURN_H
#define TG_LEDGER_REPORT_BURN_H

#include <stdio.h>
#include <time.h>

#include "budget.h"
#include "strmap.h"
#include "usage_event.h"

#define TG_BURN_BINS_MAX 31

typedef struct tg_burn {
        time_t now;
        char day_label[TG_PERIOD_LABEL_MAX], month_label[TG_PERIOD_LABEL_MAX];
        tg_strmap_t series;   /* "id\tlabel" -> int64_t[TG_BURN_BINS_MAX] */
        tg_budget_t *budgets; /* from Redis; NULL when unavailable */
        int64_t *spent;       /* per budget, its current period */
        size_t n_budgets;
} tg_burn_t;

void tg_burn_init(tg_burn_t *b, time_t now);
void tg_burn_free(tg_burn_t *b);

/* Counts an approved event into the series of each of its budgets whose
 * period is the current one. Returns 0, or -1 when out of memory. */
int tg_burn_add(tg_burn_t *b, const tg_usage_ev_t *e, json_t *ev);

/* The section: one chart per money budget with a day or month period. */
int tg_burn_html(const tg_burn_t *b, FILE *out);

#endif
