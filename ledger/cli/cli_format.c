/* Parsing and printing of money, times and period labels for the CLI.
 * Money stays in integers from the argument to the output. */
#include "cli.h"

#include <string.h>

#include "catalog.h"
#include "tgtime.h"

#define NANO_PER_USD 1000000000ULL

int tg_cli_parse_usd(const char *s, int64_t *nano)
{
        if (s && *s == '$')
                s++;
        return s ? tg_usd_parse_nano(s, nano) : -1;
}

static int all_digits(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return 0;
        return 1;
}

int tg_cli_parse_time(const char *s, int64_t *us)
{
        char buf[32];

        if (strlen(s) == 10 && s[4] == '-' && s[7] == '-' && all_digits(s, 4) &&
            all_digits(s + 5, 2) && all_digits(s + 8, 2)) {
                snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
                s = buf;
        }
        return tg_time_parse_rfc3339(s, us);
}

/* Checks a label by printing it back from the date it names: "2026-02-30"
 * is no label even though it has the right shape. */
static int label_roundtrip(const char *s, tg_period_t kind)
{
        char full[32], again[TG_PERIOD_LABEL_MAX];
        int64_t us;

        snprintf(full, sizeof(full), "%s%sT00:00:00Z", s,
                 kind == TG_PERIOD_MONTH ? "-01" : "");
        if (tg_time_parse_rfc3339(full, &us))
                return 0;
        tg_period_label(kind, (time_t)(us / 1000000), again);
        return strcmp(again, s) == 0;
}

int tg_cli_period_label_kind(const char *s, tg_period_t *kind)
{
        size_t n = strlen(s);

        if (strcmp(s, "total") == 0)
                *kind = TG_PERIOD_TOTAL;
        else if (n == 7 && s[4] == '-' && all_digits(s, 4) &&
                 all_digits(s + 5, 2))
                *kind = TG_PERIOD_MONTH;
        else if (n == 10 && s[4] == '-' && s[7] == '-' && all_digits(s, 4) &&
                 all_digits(s + 5, 2) && all_digits(s + 8, 2))
                *kind = TG_PERIOD_DAY;
        else
                return 0;
        return *kind == TG_PERIOD_TOTAL || label_roundtrip(s, *kind);
}

/* |nano| as "W.FFFFFFFFF" with `keep` minimum decimals (trailing zeros
 * beyond them trimmed). Unsigned so that INT64_MIN has a magnitude. */
static void usd_digits(int64_t nano, int keep, const char *sign_prefix,
                       char *out, size_t size)
{
        uint64_t mag = nano < 0 ? 0 - (uint64_t)nano : (uint64_t)nano;
        char frac[10];
        int n = 9;

        snprintf(frac, sizeof(frac), "%09llu",
                 (unsigned long long)(mag % NANO_PER_USD));
        while (n > keep && frac[n - 1] == '0')
                n--;
        frac[n] = '\0';
        snprintf(out, size, "%s%s%llu.%s", nano < 0 ? "-" : "", sign_prefix,
                 (unsigned long long)(mag / NANO_PER_USD), frac);
}

void tg_cli_usd(int64_t nano, char *out, size_t size)
{
        usd_digits(nano, 2, "$", out, size);
}

void tg_cli_usd9(int64_t nano, char *out, size_t size)
{
        usd_digits(nano, 9, "", out, size);
}

void tg_cli_selector_str(const tg_budget_t *b, char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        if (b->n_selector == 0) {
                snprintf(out, size, "(global)");
                return;
        }
        for (size_t i = 0; i < b->n_selector && len < size; i++) {
                int n = snprintf(out + len, size - len, "%s%s=%s", i ? "," : "",
                                 b->selector[i].key, b->selector[i].value);
                if (n < 0)
                        return;
                len += (size_t)n;
        }
}
