/* report as a table, CSV or JSON. */
#include "report.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "table.h"

static void table_sums(tg_table_t *t, const tg_report_sums_t *s)
{
        char usd[48];

        tg_cli_usd(s->cost, usd, sizeof(usd));
        tg_table_cell(t, "%lld", (long long)s->requests);
        tg_table_cell(t, "%lld", (long long)s->approved);
        tg_table_cell(t, "%lld", (long long)s->input);
        tg_table_cell(t, "%lld", (long long)s->output);
        tg_table_cell(t, "%lld", (long long)s->cost);
        tg_table_cell(t, "%s", usd);
}

#define N_METRICS 6
_Static_assert(TG_REPORT_KEYS_MAX + N_METRICS <= TG_TABLE_COLS_MAX,
               "a report's key and metric columns must fit a table");

int tg_report_table(const tg_report_t *r, FILE *out)
{
        static const char *const metrics[N_METRICS] = {
            ">REQUESTS",      ">APPROVED",      ">INPUT_TOKENS",
            ">OUTPUT_TOKENS", ">COST_NANO_USD", ">COST_USD"};
        const char *cols[TG_TABLE_COLS_MAX];
        tg_report_row_t **rows;
        int n = r->n_keys ? r->n_keys : 1;
        tg_table_t t;

        /* n_keys is counted up to TG_REPORT_KEYS_MAX by cmd_report.c; the
         * check makes that bound the copy's, so the metric columns never
         * land outside cols (gcc 14 rightly saw no bound on an int). */
        if (n < 1 || n > TG_REPORT_KEYS_MAX)
                return -1;
        rows = tg_report_sorted(&r->rows);
        if (!rows)
                return -1;
        for (int i = 0; i < n; i++)
                cols[i] = r->n_keys ? r->keys[i] : "GROUP";
        memcpy(cols + n, metrics, sizeof(metrics));
        if (tg_table_init(&t, n + N_METRICS, cols) != 0) {
                free(rows);
                return -1;
        }
        for (size_t i = 0; i < r->rows.n; i++) {
                for (int k = 0; k < n; k++)
                        tg_table_cell(&t, "%s",
                                      !r->n_keys           ? "all"
                                      : rows[i]->values[k] ? rows[i]->values[k]
                                                           : "-");
                table_sums(&t, &rows[i]->sums);
        }
        for (int k = 0; k < n; k++)
                tg_table_cell(&t, "%s", k == 0 ? "TOTAL" : "");
        table_sums(&t, &r->total);
        tg_table_print(&t, out);
        tg_table_free(&t);
        free(rows);
        return 0;
}

/* RFC 4180: quote a field holding a comma, quote or line break. */
static void csv_field(const char *s, FILE *out)
{
        if (!strpbrk(s, ",\"\r\n")) {
                fputs(s, out);
                return;
        }
        fputc('"', out);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', out);
                fputc(*s, out);
        }
        fputc('"', out);
}

int tg_report_csv(const tg_report_t *r, FILE *out)
{
        tg_report_row_t **rows = tg_report_sorted(&r->rows);
        char usd[48];

        if (!rows)
                return -1;
        for (int k = 0; k < r->n_keys; k++) {
                csv_field(r->keys[k], out);
                fputc(',', out);
        }
        fputs("requests,approved,inputTokens,outputTokens,"
              "cacheReadInputTokens,cacheWriteInputTokens,costNanoUsd,"
              "costUsd\r\n",
              out);
        for (size_t i = 0; i < r->rows.n; i++) {
                const tg_report_sums_t *s = &rows[i]->sums;
                for (int k = 0; k < r->n_keys; k++) {
                        csv_field(rows[i]->values[k] ? rows[i]->values[k] : "",
                                  out);
                        fputc(',', out);
                }
                tg_cli_usd9(s->cost, usd, sizeof(usd));
                fprintf(out, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%s\r\n",
                        (long long)s->requests, (long long)s->approved,
                        (long long)s->input, (long long)s->output,
                        (long long)s->cache_read, (long long)s->cache_write,
                        (long long)s->cost, usd);
        }
        free(rows);
        return 0;
}

static json_t *sums_json(const tg_report_sums_t *s)
{
        char usd[48];

        tg_cli_usd9(s->cost, usd, sizeof(usd));
        return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "requests",
                         (json_int_t)s->requests, "approved",
                         (json_int_t)s->approved, "inputTokens",
                         (json_int_t)s->input, "outputTokens",
                         (json_int_t)s->output, "cacheReadInputTokens",
                         (json_int_t)s->cache_read, "cacheWriteInputTokens",
                         (json_int_t)s->cache_write, "costNanoUsd",
                         (json_int_t)s->cost, "costUsd", usd);
}

static json_t *row_json(const tg_report_t *r, const tg_report_row_t *row)
{
        json_t *group = json_object(), *o = sums_json(&row->sums);

        for (int k = 0; k < r->n_keys; k++)
                json_object_set_new(group, r->keys[k],
                                    row->values[k] ? json_string(row->values[k])
                                                   : json_null());
        json_object_set_new(o, "group", group);
        return o;
}

int tg_report_json(const tg_report_t *r, FILE *out)
{
        tg_report_row_t **rows = tg_report_sorted(&r->rows);
        json_t *doc, *a = json_array(), *keys = json_array();
        int rc;

        if (!rows)
                return -1;
        for (int k = 0; k < r->n_keys; k++)
                json_array_append_new(keys, json_string(r->keys[k]));
        for (size_t i = 0; i < r->rows.n; i++)
                json_array_append_new(a, row_json(r, rows[i]));
        doc =
            json_pack("{s:s?, s:s?, s:o, s:o, s:o, s:I}", "from", r->from, "to",
                      r->to, "groupBy", keys, "rows", a, "total",
                      sums_json(&r->total), "skipped", (json_int_t)r->skipped);
        rc = doc ? json_dumpf(doc, out, JSON_INDENT(2)) : -1;
        fputc('\n', out);
        json_decref(doc);
        free(rows);
        return rc;
}
