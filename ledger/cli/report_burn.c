/* Burn-down charts of report_burn.h, as inline SVG like report_html.c's. */
#include "report_burn.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "forecast.h"
#include "report.h"
#include "tgtime.h"

#define W      640
#define H      220
#define LEFT   90
#define TOP    16
#define PLOT_W (W - LEFT - 20)
#define PLOT_H (H - TOP - 40)

void tg_burn_init(tg_burn_t *b, time_t now)
{
        memset(b, 0, sizeof(*b));
        b->now = now;
        tg_period_label(TG_PERIOD_DAY, now, b->day_label);
        tg_period_label(TG_PERIOD_MONTH, now, b->month_label);
        tg_strmap_init(&b->series);
}

void tg_burn_free(tg_burn_t *b)
{
        tg_strmap_free(&b->series, free);
        tg_cli_budgets_free(b->budgets, b->n_budgets);
        free(b->spent);
}

/* The bin of an instant: hour of the day, or day of the month - 1. */
static int bin_of(int is_day, int64_t us)
{
        time_t t = (time_t)(us / 1000000);
        struct tm tm;

        gmtime_r(&t, &tm);
        return is_day ? tm.tm_hour : tm.tm_mday - 1;
}

static int decided_us(json_t *ev, const tg_usage_ev_t *e, int64_t *us)
{
        const char *s = json_string_value(json_object_get(ev, "decidedAt"));

        if (s && tg_time_parse_rfc3339(s, us) == 0)
                return 0;
        *us = e->ts_us;
        return e->has_ts ? 0 : -1;
}

int tg_burn_add(tg_burn_t *b, const tg_usage_ev_t *e, json_t *ev)
{
        size_t n = json_array_size(e->budgets);
        int64_t us;

        if (strcmp(e->decision, "approved") != 0 || decided_us(ev, e, &us))
                return 0;
        for (size_t i = 0; i < n; i++) {
                json_t *x = json_array_get(e->budgets, i);
                const char *id = json_string_value(json_object_get(x, "id"));
                const char *p = json_string_value(json_object_get(x, "period"));
                char key[TG_BUDGET_ID_MAX + TG_PERIOD_LABEL_MAX + 2];
                int added, is_day;
                void **slot;

                if (!id || !p || strlen(id) > TG_BUDGET_ID_MAX)
                        continue;
                is_day = strcmp(p, b->day_label) == 0;
                if (!is_day && strcmp(p, b->month_label) != 0)
                        continue;
                int k = snprintf(key, sizeof(key), "%s\t%s", id, p);
                if (!(slot = tg_strmap_put(&b->series, key, (size_t)k, &added)))
                        return -1;
                if (added &&
                    !(*slot = calloc(TG_BURN_BINS_MAX, sizeof(int64_t))))
                        return -1;
                ((int64_t *)*slot)[bin_of(is_day, us)] += e->cost_nano;
        }
        return 0;
}

static double x_of(double frac)
{
        return LEFT + frac * PLOT_W;
}

static double y_of(int64_t v, int64_t top)
{
        return TOP + PLOT_H - (double)v / (double)top * PLOT_H;
}

static void usd(int64_t v, char *out, size_t size)
{
        tg_cli_usd(v, out, size);
}

static void limit_marks(const tg_budget_t *bd, int64_t top, FILE *out)
{
        char a[48];

        for (int i = 0; i < bd->n_thresholds; i++) {
                __extension__ __int128 v =
                    (__int128)bd->limit_nano * bd->thresholds[i] / 100;
                if (v > top || bd->thresholds[i] == 100)
                        continue;
                fprintf(out,
                        "<line class=\"thr\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                        "y2=\"%.1f\"/><text class=\"yl\" x=\"%d\" "
                        "y=\"%.1f\">%d%%</text>\n",
                        LEFT, LEFT + PLOT_W, y_of((int64_t)v, top),
                        y_of((int64_t)v, top), LEFT - 6,
                        y_of((int64_t)v, top) + 4, bd->thresholds[i]);
        }
        usd(bd->limit_nano, a, sizeof(a));
        fprintf(out,
                "<line class=\"limit\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                "y2=\"%.1f\"/><text class=\"yl\" x=\"%d\" y=\"%.1f\">limit "
                "%s</text>\n",
                LEFT, LEFT + PLOT_W, y_of(bd->limit_nano, top),
                y_of(bd->limit_nano, top), LEFT - 6,
                y_of(bd->limit_nano, top) + 4, a);
}

/* Cumulative spend: a step line through the bins up to now. */
static void spend_line(const int64_t *bins, int nbins, double now_frac,
                       int64_t top, FILE *out)
{
        int now_bin = (int)(now_frac * nbins);
        int64_t acc = 0;

        fprintf(out, "<polyline class=\"spent\" points=\"%.1f,%.1f", x_of(0),
                y_of(0, top));
        for (int i = 0; i <= now_bin && i < nbins; i++) {
                double x = i == now_bin ? now_frac : (double)(i + 1) / nbins;
                acc += bins ? bins[i] : 0;
                fprintf(out, " %.1f,%.1f", x_of(x), y_of(acc, top));
        }
        fputs("\"/>\n", out);
}

static void chart(const tg_burn_t *b, const tg_budget_t *bd, int64_t spent,
                  FILE *out)
{
        int is_day = bd->period == TG_PERIOD_DAY;
        const char *label = is_day ? b->day_label : b->month_label;
        char key[TG_BUDGET_ID_MAX + TG_PERIOD_LABEL_MAX + 2], a[48], p[48],
            when[TG_PERIOD_LABEL_MAX];
        time_t start, end;
        tg_forecast_t f;
        int nbins;

        if (tg_period_bounds(bd->period, b->now, &start, &end) ||
            tg_forecast(spent, bd->limit_nano, start, end, b->now, &f))
                return;
        nbins = is_day ? 24 : (int)((end - start) / 86400);
        int k = snprintf(key, sizeof(key), "%s\t%s", bd->id, label);
        const int64_t *bins = tg_strmap_get(&b->series, key, (size_t)k);
        int64_t top = bd->limit_nano;
        top = f.projected_nano > top ? f.projected_nano : top;
        top = spent > top ? spent : top;
        top = top + top / 20 + 1;
        double now_frac = (double)(b->now - start) / (double)(end - start);

        usd(spent, a, sizeof(a));
        usd(f.projected_nano, p, sizeof(p));
        if (f.passes)
                tg_period_label(TG_PERIOD_DAY, f.pass_at, when);
        fprintf(out, "<h3>");
        tg_html_esc(bd->id, out);
        fprintf(out,
                " (%s %s)</h3>\n<p class=\"burn\">spent %s; projected %s at "
                "the period end%s%s</p>\n",
                tg_period_name(bd->period), label, a, p,
                f.already  ? "; over the limit"
                : f.passes ? "; passes the "
                             "limit on "
                           : "",
                f.passes && !f.already ? when : "");
        fprintf(out,
                "<svg class=\"burndown\" width=\"%d\" height=\"%d\" "
                "role=\"img\" aria-label=\"burn-down of budget ",
                W, H);
        tg_html_esc(bd->id, out);
        fprintf(out,
                "\">\n<line class=\"grid\" x1=\"%d\" x2=\"%d\" "
                "y1=\"%d\" y2=\"%d\"/>\n",
                LEFT, LEFT + PLOT_W, TOP + PLOT_H, TOP + PLOT_H);
        limit_marks(bd, top, out);
        spend_line(bins, nbins, now_frac, top, out);
        fprintf(out,
                "<line class=\"proj\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                "y2=\"%.1f\"><title>projection %s</title></line>\n",
                x_of(now_frac), y_of(spent, top), x_of(1.0),
                y_of(f.projected_nano, top), p);
        fprintf(out,
                "<text class=\"xl\" x=\"%d\" y=\"%d\">%s</text><text "
                "class=\"xl\" x=\"%d\" y=\"%d\">%s</text>\n</svg>\n",
                LEFT + 30, TOP + PLOT_H + 16, is_day ? "00:00" : "day 1",
                LEFT + PLOT_W, TOP + PLOT_H + 16, is_day ? "24:00" : "end");
}

int tg_burn_html(const tg_burn_t *b, FILE *out)
{
        size_t shown = 0;

        fputs("<h2>Budgets: burn-down this period</h2>\n", out);
        if (!b->budgets) {
                fputs("<p>Redis was not reachable: no budget charts.</p>\n",
                      out);
                return 0;
        }
        fputs("<p>Spend so far (solid), the projection to the period end "
              "at the average rate so far (dashed), the limit (red) and "
              "the alert thresholds (dotted).</p>\n",
              out);
        for (size_t i = 0; i < b->n_budgets; i++) {
                const tg_budget_t *bd = &b->budgets[i];
                if (bd->limit_nano < 0 || bd->period == TG_PERIOD_TOTAL)
                        continue;
                chart(b, bd, b->spent[i], out);
                shown++;
        }
        if (!shown)
                fputs("<p>No day or month budget with a money limit.</p>\n",
                      out);
        return 0;
}
