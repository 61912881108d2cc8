/* Grouping for report: rows keyed by their group values, and the day x
 * series cells of the HTML chart. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#define SEP    '\x1f' /* between values in a map key */
#define ABSENT '\x1e' /* a value the event does not have */

/* The map key of n values, malloc'd. */
static char *join(const char *const *values, int n, size_t *len)
{
        size_t total = 1;
        char *key, *p;

        for (int i = 0; i < n; i++)
                total += (values[i] ? strlen(values[i]) : 1) + 1;
        if (!(key = p = malloc(total)))
                return NULL;
        for (int i = 0; i < n; i++) {
                size_t l = values[i] ? strlen(values[i]) : 1;
                memcpy(p, values[i] ? values[i] : (char[]){ABSENT}, l);
                p += l;
                *p++ = SEP;
        }
        *p = '\0';
        *len = (size_t)(p - key);
        return key;
}

static tg_report_row_t *row_get(tg_strmap_t *m, const char *const *values,
                                int n)
{
        size_t len = 0;
        char *key = join(values, n, &len);
        tg_report_row_t *row = NULL;
        void **slot;
        int added;

        if (!key || !(slot = tg_strmap_put(m, key, len, &added)))
                goto out;
        if (!added) {
                row = *slot;
                goto out;
        }
        if (!(row = calloc(1, sizeof(*row))))
                goto out;
        for (int i = 0; i < n; i++)
                row->values[i] = values[i] ? strdup(values[i]) : NULL;
        *slot = row;
out:
        free(key);
        return row;
}

static int sums_add(tg_report_sums_t *s, const tg_usage_ev_t *e)
{
        int approved = strcmp(e->decision, "approved") == 0;

        return __builtin_add_overflow(s->requests, 1, &s->requests) ||
               __builtin_add_overflow(s->approved, approved, &s->approved) ||
               __builtin_add_overflow(s->input, e->input_tokens, &s->input) ||
               __builtin_add_overflow(s->output, e->output_tokens,
                                      &s->output) ||
               __builtin_add_overflow(s->cache_read, e->cache_read_tokens,
                                      &s->cache_read) ||
               __builtin_add_overflow(s->cache_write, e->cache_write_tokens,
                                      &s->cache_write) ||
               __builtin_add_overflow(s->cost, e->cost_nano, &s->cost);
}

/* The chart's series label: the non-day values, " / " between them. */
static void series_label(const tg_report_t *r, const char *const *values,
                         char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        for (int i = 0; i < r->n_keys && len < size; i++) {
                if (r->kinds[i] == TG_RK_DAY)
                        continue;
                int n =
                    snprintf(out + len, size - len, "%s%s", len ? " / " : "",
                             values[i] ? values[i] : "(none)");
                len += n > 0 ? (size_t)n : 0;
        }
        if (!out[0])
                snprintf(out, size, "all");
}

static int chart_add(tg_report_t *r, const char *const *values, const char *day,
                     const tg_usage_ev_t *e)
{
        char label[2048];
        const char *cell[2] = {day, label};
        tg_report_row_t *row;

        series_label(r, values, label, sizeof(label));
        if (!(row = row_get(&r->cells, cell, 2)))
                return -1;
        return sums_add(&row->sums, e);
}

int tg_report_add(tg_report_t *r, const char *const *values, const char *day,
                  const tg_usage_ev_t *e, char *errstr, size_t errstr_size)
{
        tg_report_row_t *row = row_get(&r->rows, values, r->n_keys);

        if (!row)
                return snprintf(errstr, errstr_size, "out of memory"), -1;
        if (sums_add(&row->sums, e) || sums_add(&r->total, e))
                return snprintf(errstr, errstr_size, "sums overflow int64"), -1;
        if (!day) {
                r->undated++;
                return 0;
        }
        if (chart_add(r, values, day, e))
                return snprintf(errstr, errstr_size, "out of memory"), -1;
        return 0;
}

static void row_free(void *v)
{
        tg_report_row_t *row = v;

        for (int i = 0; row && i < TG_REPORT_KEYS_MAX; i++)
                free(row->values[i]);
        free(row);
}

void tg_report_free(tg_report_t *r)
{
        tg_strmap_free(&r->rows, row_free);
        tg_strmap_free(&r->cells, row_free);
}

tg_report_row_t **tg_report_sorted(const tg_strmap_t *m)
{
        tg_strmap_entry_t *e = tg_strmap_sorted(m);
        tg_report_row_t **rows = calloc(m->n + 1, sizeof(*rows));

        if (!rows) {
                free(e);
                return NULL;
        }
        for (size_t i = 0; e && i < m->n; i++)
                rows[i] = e[i].value;
        free(e);
        return rows;
}
