#include "table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int tg_table_init(tg_table_t *t, int ncols, const char *const *spec)
{
        memset(t, 0, sizeof(*t));
        if (ncols < 1 || ncols > TG_TABLE_COLS_MAX)
                return -1;
        t->ncols = ncols;
        for (int i = 0; i < ncols; i++) {
                t->right[i] = spec[i][0] == '>';
                t->headers[i] = spec[i] + t->right[i];
        }
        return 0;
}

int tg_table_cell(tg_table_t *t, const char *fmt, ...)
{
        size_t idx = t->nrows * (size_t)t->ncols + t->col;
        va_list ap;
        char *s;
        int n;

        if (idx >= t->cap) {
                size_t cap = t->cap ? t->cap * 2 : (size_t)t->ncols * 16;
                char **cells = realloc(t->cells, cap * sizeof(*cells));
                if (!cells)
                        return -1;
                t->cells = cells;
                t->cap = cap;
        }
        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -1;
        t->cells[idx] = s;
        if (++t->col == (size_t)t->ncols) {
                t->col = 0;
                t->nrows++;
        }
        return 0;
}

static void print_row(const tg_table_t *t, const char *const *row,
                      const int *width, FILE *out)
{
        for (int c = 0; c < t->ncols; c++) {
                int last = c == t->ncols - 1;
                if (t->right[c])
                        fprintf(out, "%*s", width[c], row[c]);
                else
                        fprintf(out, "%-*s", last ? 0 : width[c], row[c]);
                fputs(last ? "\n" : "  ", out);
        }
}

void tg_table_print(const tg_table_t *t, FILE *out)
{
        int width[TG_TABLE_COLS_MAX];

        for (int c = 0; c < t->ncols; c++) {
                width[c] = (int)strlen(t->headers[c]);
                for (size_t r = 0; r < t->nrows; r++) {
                        int w = (int)strlen(t->cells[r * t->ncols + c]);
                        width[c] = w > width[c] ? w : width[c];
                }
        }
        print_row(t, t->headers, width, out);
        for (size_t r = 0; r < t->nrows; r++)
                print_row(t, (const char *const *)&t->cells[r * t->ncols],
                          width, out);
}

void tg_table_free(tg_table_t *t)
{
        size_t n = t->nrows * (size_t)t->ncols + t->col;

        for (size_t i = 0; i < n; i++)
                free(t->cells[i]);
        free(t->cells);
        memset(t, 0, sizeof(*t));
}
