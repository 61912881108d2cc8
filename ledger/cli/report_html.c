/* report as one self-contained HTML page: an inline SVG stacked bar chart
 * of spend per day and group, then the table. No script, no external URL:
 * it opens the same from a mail attachment or an air-gapped share. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report_burn.h"
#include "tgtime.h"

#define SERIES_MAX 10 /* the rest are drawn as one "other" series */
#define TOP        20
#define LEFT       90
#define PLOT_H     260
#define BOTTOM     70

static const char *const palette[SERIES_MAX] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

typedef struct series {
        const char *label;
        int64_t total;
} series_t;

typedef struct chart {
        const char **days; /* sorted, distinct */
        size_t ndays;
        series_t *series; /* by total, descending; the last may be "other" */
        size_t nseries;
        int64_t *cost; /* ndays x nseries */
        int64_t ymax;
} chart_t;

void tg_html_esc(const char *s, FILE *out)
{
        for (; s && *s; s++) {
                switch (*s) {
                case '&':
                        fputs("&amp;", out);
                        break;
                case '<':
                        fputs("&lt;", out);
                        break;
                case '>':
                        fputs("&gt;", out);
                        break;
                case '"':
                        fputs("&quot;", out);
                        break;
                case '\'':
                        fputs("&#39;", out);
                        break;
                default:
                        fputc(*s, out);
                }
        }
}

static int by_total(const void *a, const void *b)
{
        const series_t *x = a, *y = b;

        if (x->total != y->total)
                return x->total > y->total ? -1 : 1;
        return strcmp(x->label, y->label);
}

static size_t series_index(const chart_t *c, const char *label)
{
        for (size_t i = 0; i < c->nseries; i++)
                if (strcmp(c->series[i].label, label) == 0)
                        return i;
        return c->nseries - 1; /* folded into "other" */
}

/* Collects distinct days and series from the (sorted) cells. */
static int chart_axes(chart_t *c, tg_report_row_t **cells, size_t n)
{
        c->days = calloc(n + 1, sizeof(*c->days));
        c->series = calloc(n + 1, sizeof(*c->series));
        if (!c->days || !c->series)
                return -1;
        for (size_t i = 0; i < n; i++) {
                const char *day = cells[i]->values[0];
                const char *label = cells[i]->values[1];
                size_t s = 0;
                if (!c->ndays || strcmp(c->days[c->ndays - 1], day) != 0)
                        c->days[c->ndays++] = day;
                while (s < c->nseries && strcmp(c->series[s].label, label))
                        s++;
                if (s == c->nseries)
                        c->series[c->nseries++].label = label;
                c->series[s].total += cells[i]->sums.cost;
        }
        qsort(c->series, c->nseries, sizeof(*c->series), by_total);
        if (c->nseries > SERIES_MAX) {
                c->nseries = SERIES_MAX;
                c->series[SERIES_MAX - 1].label = "other";
        }
        return 0;
}

static int chart_fill(chart_t *c, tg_report_row_t **cells, size_t n)
{
        size_t d = 0;

        c->cost = calloc(c->ndays * c->nseries + 1, sizeof(*c->cost));
        if (!c->cost)
                return -1;
        for (size_t i = 0; i < n; i++) {
                while (strcmp(c->days[d], cells[i]->values[0]) != 0)
                        d++; /* cells are sorted by day first */
                size_t s = series_index(c, cells[i]->values[1]);
                c->cost[d * c->nseries + s] += cells[i]->sums.cost;
        }
        for (d = 0; d < c->ndays; d++) {
                int64_t sum = 0;
                for (size_t s = 0; s < c->nseries; s++)
                        sum += c->cost[d * c->nseries + s];
                c->ymax = sum > c->ymax ? sum : c->ymax;
        }
        return 0;
}

/* A round tick step (1, 2 or 5 times a power of ten nano-USD) giving at
 * most five ticks up to max. */
static int64_t tick_step(int64_t max)
{
        int64_t p = 1;

        for (;;) {
                if (max <= 5 * p)
                        return p;
                if (max <= 10 * p)
                        return 2 * p;
                if (max <= 25 * p)
                        return 5 * p;
                if (p > INT64_MAX / 100)
                        return p * 10;
                p *= 10;
        }
}

static double y_of(int64_t v, int64_t top)
{
        return TOP + PLOT_H - (double)v / (double)top * PLOT_H;
}

static void svg_axis(const chart_t *c, int64_t top, int width, FILE *out)
{
        int64_t step = tick_step(c->ymax > 0 ? c->ymax : 1);
        char usd[48];

        for (int64_t v = 0; v <= top; v += step) {
                tg_cli_usd(v, usd, sizeof(usd));
                fprintf(out,
                        "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                        "class=\"grid\"/><text x=\"%d\" y=\"%.1f\" "
                        "class=\"yl\">%s</text>\n",
                        LEFT, width - 10, y_of(v, top), y_of(v, top), LEFT - 6,
                        y_of(v, top) + 4, usd);
                if (v > INT64_MAX - step)
                        break;
        }
}

static void svg_bar(const chart_t *c, size_t d, double x, double bw,
                    int64_t top, FILE *out)
{
        int64_t base = 0;
        char usd[48];

        for (size_t s = 0; s < c->nseries; s++) {
                int64_t v = c->cost[d * c->nseries + s];
                if (v <= 0)
                        continue;
                tg_cli_usd(v, usd, sizeof(usd));
                fprintf(out,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                        "height=\"%.1f\" fill=\"%s\"><title>%s ",
                        x, y_of(base + v, top), bw,
                        y_of(base, top) - y_of(base + v, top),
                        s == SERIES_MAX - 1 &&
                                !strcmp(c->series[s].label, "other")
                            ? "#bab0ac"
                            : palette[s],
                        c->days[d]);
                tg_html_esc(c->series[s].label, out);
                fprintf(out, ": %s</title></rect>\n", usd);
                base += v;
        }
}

static void svg_chart(const chart_t *c, FILE *out)
{
        double slot = c->ndays > 30 ? 14 : c->ndays > 10 ? 28 : 48;
        int width = LEFT + (int)(slot * (double)c->ndays) + 30;
        int64_t step = tick_step(c->ymax > 0 ? c->ymax : 1);
        int64_t top = (c->ymax / step + (c->ymax % step ? 1 : 0)) * step;
        size_t every = slot >= 40 ? 1 : (size_t)(48 / slot) + 1;

        width = width < 480 ? 480 : width;
        top = top > 0 ? top : step;
        fprintf(out,
                "<svg width=\"%d\" "
                "height=\"%d\" role=\"img\" aria-label=\"spend per day\">\n",
                width, TOP + PLOT_H + BOTTOM);
        svg_axis(c, top, width, out);
        for (size_t d = 0; d < c->ndays; d++) {
                double x = LEFT + slot * (double)d + slot * 0.1;
                svg_bar(c, d, x, slot * 0.8, top, out);
                if (d % every == 0)
                        fprintf(out,
                                "<text class=\"xl\" transform=\"translate(%.1f "
                                "%d) rotate(-45)\">%s</text>\n",
                                x + slot * 0.4, TOP + PLOT_H + 14, c->days[d]);
        }
        if (c->ndays == 0)
                fprintf(out, "<text x=\"%d\" y=\"%d\">no dated events</text>\n",
                        LEFT + 20, TOP + PLOT_H / 2);
        fputs("</svg>\n<p class=\"legend\">", out);
        for (size_t s = 0; s < c->nseries; s++) {
                fprintf(out, "<span><i style=\"background:%s\"></i>",
                        s == SERIES_MAX - 1 &&
                                !strcmp(c->series[s].label, "other")
                            ? "#bab0ac"
                            : palette[s]);
                tg_html_esc(c->series[s].label, out);
                fputs("</span> ", out);
        }
        fputs("</p>\n", out);
}

static int chart(const tg_report_t *r, FILE *out)
{
        tg_report_row_t **cells = tg_report_sorted(&r->cells);
        chart_t c = {0};
        int rc = -1;

        if (!cells || chart_axes(&c, cells, r->cells.n) ||
            chart_fill(&c, cells, r->cells.n))
                goto err;
        svg_chart(&c, out);
        rc = 0;
err:
        free(cells);
        free(c.days);
        free(c.series);
        free(c.cost);
        return rc;
}

static void html_sums(const tg_report_sums_t *s, FILE *out)
{
        char usd[48];

        tg_cli_usd(s->cost, usd, sizeof(usd));
        fprintf(out,
                "<td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
                "<td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
                "<td class=\"n\">%lld</td><td class=\"n\">%s</td></tr>\n",
                (long long)s->requests, (long long)s->approved,
                (long long)s->input, (long long)s->output, (long long)s->cost,
                usd);
}

static int table(const tg_report_t *r, FILE *out)
{
        tg_report_row_t **rows = tg_report_sorted(&r->rows);

        if (!rows)
                return -1;
        fputs("<table>\n<tr>", out);
        for (int k = 0; k < r->n_keys; k++) {
                fputs("<th>", out);
                tg_html_esc(r->keys[k], out);
                fputs("</th>", out);
        }
        fputs("<th>requests</th><th>approved</th><th>input tokens</th>"
              "<th>output tokens</th><th>cost (nano-USD)</th><th>cost</th>"
              "</tr>\n",
              out);
        for (size_t i = 0; i < r->rows.n; i++) {
                fputs("<tr>", out);
                for (int k = 0; k < r->n_keys; k++) {
                        fputs("<td>", out);
                        tg_html_esc(
                            rows[i]->values[k] ? rows[i]->values[k] : "-", out);
                        fputs("</td>", out);
                }
                html_sums(&rows[i]->sums, out);
        }
        fprintf(out, "<tr class=\"total\"><td colspan=\"%d\">total</td>",
                r->n_keys ? r->n_keys : 1);
        html_sums(&r->total, out);
        fputs("</table>\n", out);
        free(rows);
        return 0;
}

static void head(const tg_report_t *r, FILE *out)
{
        char now[40];

        tg_time_format_us(tg_time_now_us(), now, sizeof(now));
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
              "charset=\"utf-8\">\n<title>tollgate spend report</title>\n"
              "<style>body{font-family:system-ui,sans-serif;margin:2em;"
              "color:#222}table{border-collapse:collapse}th,td{padding:"
              ".25em .7em;border-bottom:1px solid #ddd;text-align:left}"
              "td.n{text-align:right;font-variant-numeric:tabular-nums}"
              "tr.total td{font-weight:bold}.grid{stroke:#e5e5e5}"
              ".yl{text-anchor:end;font-size:11px}.xl{text-anchor:end;"
              "font-size:11px}.legend span{margin-right:1.2em;white-space:"
              "nowrap}.legend i{display:inline-block;width:.8em;height:.8em;"
              "margin-right:.35em}.limit{stroke:#d62728;stroke-width:2}"
              ".thr{stroke:#999;stroke-dasharray:2 3}.spent{fill:none;"
              "stroke:#4e79a7;stroke-width:2}.proj{stroke:#4e79a7;"
              "stroke-dasharray:6 4}</style>\n</head><body>\n"
              "<h1>tollgate spend report</h1>\n<p>",
              out);
        fputs(r->from ? "From " : "From the beginning", out);
        tg_html_esc(r->from, out);
        fputs(r->to ? " to " : " to the end", out);
        tg_html_esc(r->to, out);
        fputs(" of the usage topic; grouped by ", out);
        for (int k = 0; k < r->n_keys; k++) {
                fputs(k ? ", " : "", out);
                tg_html_esc(r->keys[k], out);
        }
        fprintf(out, "%s. Generated %s.</p>\n<h2>Spend per day</h2>\n",
                r->n_keys ? "" : "nothing", now);
}

int tg_report_html(const tg_report_t *r, FILE *out)
{
        head(r, out);
        if (chart(r, out))
                return -1;
        if (r->undated)
                fprintf(out,
                        "<p>%lld events without a timestamp are in the "
                        "totals but not in the chart.</p>\n",
                        (long long)r->undated);
        fputs("<h2>Totals</h2>\n", out);
        if (table(r, out))
                return -1;
        if (r->burn && tg_burn_html(r->burn, out))
                return -1;
        fputs("</body></html>\n", out);
        return 0;
}
