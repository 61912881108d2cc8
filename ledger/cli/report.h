/*
 * report: usage events grouped by tags, model, day or decision. The
 * command (cmd_report.c) fills a tg_report_t; report_out.c prints it as a
 * table, CSV or JSON and report_html.c as a self-contained HTML page.
 */
#ifndef TG_LEDGER_REPORT_H
#define TG_LEDGER_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "strmap.h"
#include "usage_event.h"

#define TG_REPORT_KEYS_MAX 8

typedef enum tg_report_key_kind {
        TG_RK_TAG,
        TG_RK_MODEL,
        TG_RK_MODEL_ID,
        TG_RK_DAY,
        TG_RK_MONTH,
        TG_RK_DECISION,
} tg_report_key_kind_t;

typedef struct tg_report_sums {
        int64_t requests, approved;
        int64_t input, output, cache_read, cache_write;
        int64_t cost; /* nano-USD */
} tg_report_sums_t;

typedef struct tg_report_row {
        char *values[TG_REPORT_KEYS_MAX]; /* owned; NULL = absent */
        tg_report_sums_t sums;
} tg_report_row_t;

typedef struct tg_report {
        const char *keys[TG_REPORT_KEYS_MAX];      /* as the user named them */
        const char *tag_names[TG_REPORT_KEYS_MAX]; /* for TG_RK_TAG keys */
        tg_report_key_kind_t kinds[TG_REPORT_KEYS_MAX];
        int n_keys;
        const char *from, *to; /* as given, NULL when open */
        int64_t from_us, to_us;
        const char *decisions; /* "approved,failed" filter, NULL = all */
        tg_strmap_t rows;      /* joined group values -> tg_report_row_t */
        tg_strmap_t cells;     /* chart: day + series -> row {day, label} */
        tg_report_sums_t total;
        int64_t skipped;      /* outside --from/--to, or without a timestamp */
        int64_t undated;      /* counted, but not in the chart */
        struct tg_burn *burn; /* HTML burn-down charts; NULL: none */
} tg_report_t;

/* Counts event e in the row of its group values (n_keys of them, NULL =
 * absent), in the total, and, when day is not NULL, in the chart cell of
 * day and the non-day values. Returns 0, or -1 with errstr. */
int tg_report_add(tg_report_t *r, const char *const *values, const char *day,
                  const tg_usage_ev_t *e, char *errstr, size_t errstr_size);
void tg_report_free(tg_report_t *r);

/* Output (report_out.c, report_html.c). Return 0 or -1 on a write error. */
int tg_report_table(const tg_report_t *r, FILE *out);
int tg_report_csv(const tg_report_t *r, FILE *out);
int tg_report_json(const tg_report_t *r, FILE *out);
int tg_report_html(const tg_report_t *r, FILE *out);

/* Writes s HTML-escaped. */
void tg_html_esc(const char *s, FILE *out);

/* Rows sorted by their group values (malloc'd, r->rows.n entries). */
tg_report_row_t **tg_report_sorted(const tg_strmap_t *m);

#endif
