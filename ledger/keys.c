#include "keys.h"

#include <stdio.h>
#include <string.h>

int tg_period_parse(const char *s, tg_period_t *out)
{
        static const char *names[] = {"day", "month", "total"};

        for (int i = 0; i < 3; i++) {
                if (strcmp(s, names[i]) == 0) {
                        *out = (tg_period_t)i;
                        return 0;
                }
        }
        return -1;
}

const char *tg_period_name(tg_period_t p)
{
        switch (p) {
        case TG_PERIOD_DAY:
                return "day";
        case TG_PERIOD_MONTH:
                return "month";
        default:
                return "total";
        }
}

void tg_period_label(tg_period_t p, time_t now, char *out)
{
        struct tm tm;

        gmtime_r(&now, &tm);
        if (p == TG_PERIOD_DAY)
                strftime(out, TG_PERIOD_LABEL_MAX, "%Y-%m-%d", &tm);
        else if (p == TG_PERIOD_MONTH)
                strftime(out, TG_PERIOD_LABEL_MAX, "%Y-%m", &tm);
        else
                snprintf(out, TG_PERIOD_LABEL_MAX, "total");
}

int tg_budget_id_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > TG_BUDGET_ID_MAX)
                return 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == '-'))
                        return 0;
        }
        return 1;
}

static int key_fmt(char *out, size_t size, int n)
{
        return (n < 0 || (size_t)n >= size) ? -1 : n;
}

int tg_key_budget(char *out, size_t size, const char *id, const char *period)
{
        return key_fmt(
            out, size,
            snprintf(out, size, TG_KEY_PREFIX "b:%s:%s", id, period));
}

int tg_key_request(char *out, size_t size, const char *request_id)
{
        return key_fmt(out, size,
                       snprintf(out, size, TG_KEY_PREFIX "req:%s", request_id));
}

int tg_key_rate(char *out, size_t size, const char *id, int64_t minute)
{
        return key_fmt(out, size,
                       snprintf(out, size, TG_KEY_PREFIX "rate:%s:%lld", id,
                                (long long)minute));
}
