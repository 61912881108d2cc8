/* Projections of forecast.h. */
#include "forecast.h"

#include <string.h>

__extension__ typedef __int128 i128;

static time_t utc_mktime(int year, int mon, int day)
{
        struct tm tm;

        memset(&tm, 0, sizeof(tm));
        tm.tm_year = year - 1900;
        tm.tm_mon = mon;
        tm.tm_mday = day;
        return timegm(&tm); /* normalizes mon 12 into the next year */
}

int tg_period_bounds(tg_period_t kind, time_t now, time_t *start, time_t *end)
{
        struct tm tm;

        gmtime_r(&now, &tm);
        if (kind == TG_PERIOD_DAY) {
                *start = utc_mktime(tm.tm_year + 1900, tm.tm_mon, tm.tm_mday);
                *end = utc_mktime(tm.tm_year + 1900, tm.tm_mon, tm.tm_mday + 1);
                return 0;
        }
        if (kind == TG_PERIOD_MONTH) {
                *start = utc_mktime(tm.tm_year + 1900, tm.tm_mon, 1);
                *end = utc_mktime(tm.tm_year + 1900, tm.tm_mon + 1, 1);
                return 0;
        }
        return -1;
}

static int64_t clamp(i128 v)
{
        return v > (i128)INT64_MAX ? INT64_MAX : (int64_t)v;
}

int tg_forecast(int64_t spent, int64_t limit, time_t start, time_t end,
                time_t now, tg_forecast_t *out)
{
        int64_t len = (int64_t)(end - start), el = (int64_t)(now - start);

        memset(out, 0, sizeof(*out));
        if (spent < 0 || len <= 0 || now < start || now >= end)
                return -1;
        /* The first second counts whole: no division by zero at 00:00. */
        out->elapsed_s = el < 1 ? 1 : el;
        out->rate_per_day = clamp((i128)spent * 86400 / out->elapsed_s);
        out->projected_nano =
            clamp(((i128)spent * len + out->elapsed_s - 1) / out->elapsed_s);
        if (limit < 0)
                return 0;
        if (spent > limit) {
                out->already = out->passes = 1;
                out->pass_at = now;
                return 0;
        }
        if (spent == 0)
                return 0;
        i128 t = (i128)limit * out->elapsed_s / spent + 1;
        if (t < len) {
                out->passes = 1;
                out->pass_at = start + (time_t)t;
        }
        return 0;
}
