/* The AWS half of aws_cost.h: a CUR 2.0 CSV into per-day, per-key cost.
 * Column names are those of the CUR 2.0 table dictionary (AWS Data
 * Exports user guide, "Cost and Usage Report (CUR) 2.0"). */
#include "aws_cost.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

enum {
        C_START,
        C_PRODUCT,
        C_COST,
        C_CURRENCY,
        C_RESOURCE,
        C_TAGS,
        C_TYPE,
        C_N,
};

static const char *const col_names[C_N] = {
    "line_item_usage_start_date", "line_item_product_code",
    "line_item_unblended_cost",   "line_item_currency_code",
    "line_item_resource_id",      "resource_tags",
    "line_item_line_item_type"};

void tg_ac_problem(tg_ac_t *a, int64_t line, const char *fmt, ...)
{
        char why[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        json_array_append_new(
            a->problems,
            json_pack("{s:I, s:s}", "line", (json_int_t)line, "reason", why));
}

tg_ac_cell_t *tg_ac_cell(tg_ac_t *a, const char *day, const char *key)
{
        size_t n = strlen(day) + strlen(key) + 2;
        char *k = malloc(n);
        int added;
        void **slot;
        tg_ac_cell_t *c = NULL;

        if (!k)
                return NULL;
        snprintf(k, n, "%s\t%s", day, key);
        slot = tg_strmap_put(&a->cells, k, n - 1, &added);
        free(k);
        if (!slot)
                return NULL;
        if (!added)
                return *slot;
        if (!(c = calloc(1, sizeof(*c))) || !(c->key = strdup(key))) {
                free(c);
                return NULL;
        }
        snprintf(c->day, sizeof(c->day), "%s", day);
        *slot = c;
        return c;
}

void tg_ac_key_norm(const char *in, char *out, size_t size)
{
        const char *slash = strrchr(in, '/');

        if (!*in)
                snprintf(out, size, "(no resource id)");
        else if (strncmp(in, "arn:", 4) == 0 && slash &&
                 (strstr(in, ":foundation-model/") ||
                  strstr(in, ":inference-profile/")))
                snprintf(out, size, "%s", slash + 1);
        else
                snprintf(out, size, "%s", in);
}

/* Digits of s as an exact decimal: mantissa (up to 36 digits) and a
 * power of ten. */
static int decimal(const char *s, __int128 *mant, int *exp10)
{
        int digits = 0, frac = 0, seen = 0, e = 0, esign = 1;

        *mant = 0;
        for (; *s >= '0' && *s <= '9'; s++, seen = 1)
                if (digits < 36 && (*mant || *s != '0'))
                        *mant = *mant * 10 + (*s - '0'), digits++;
                else if (digits >= 36)
                        frac--; /* drop a digit left of the point */
        if (*s == '.')
                for (s++; *s >= '0' && *s <= '9'; s++, seen = 1)
                        if (digits < 36)
                                *mant = *mant * 10 + (*s - '0'), digits++,
                                frac++;
        if (!seen)
                return -1;
        if (*s == 'e' || *s == 'E') {
                s++;
                if (*s == '+' || *s == '-')
                        esign = *s++ == '-' ? -1 : 1;
                if (*s < '0' || *s > '9')
                        return -1;
                for (; *s >= '0' && *s <= '9'; s++)
                        if ((e = e * 10 + (*s - '0')) > 400)
                                return -1;
        }
        *exp10 = esign * e - frac;
        return *s ? -1 : 0;
}

int tg_ac_parse_cost(const char *s, int64_t *nano)
{
        __int128 m;
        int neg = *s == '-', e;

        if (*s == '-' || *s == '+')
                s++;
        if (decimal(s, &m, &e))
                return -1;
        e += 9; /* to nano-USD */
        for (; e > 0; e--) {
                if (m > (__int128)INT64_MAX)
                        return -1;
                m *= 10;
        }
        for (; e < 0 && m; e++)
                m = e == -1 ? (m + 5) / 10 : m / 10;
        if (m > (__int128)INT64_MAX)
                return -1;
        *nano = neg ? -(int64_t)m : (int64_t)m;
        return 0;
}

static int header(tg_ac_t *a, char **f, size_t n, int *col)
{
        int missing = 0;

        for (int c = 0; c < C_N; c++) {
                col[c] = -1;
                for (size_t i = 0; i < n; i++)
                        if (strcmp(f[i], col_names[c]) == 0)
                                col[c] = (int)i;
        }
        for (int c = 0; c < C_N; c++) {
                int needed = c <= C_CURRENCY ||
                             (c == C_RESOURCE && !a->o->tag) ||
                             (c == C_TAGS && a->o->tag);
                if (col[c] < 0 && needed) {
                        tg_ac_problem(a, 1, "missing column %s", col_names[c]);
                        missing = 1;
                }
        }
        return missing ? -1 : 0;
}

static const char *field(char **f, size_t n, int col)
{
        return col >= 0 && (size_t)col < n ? f[col] : NULL;
}

static int valid_day(const char *s)
{
        static const char pat[] = "dddd-dd-dd";

        for (int i = 0; i < 10; i++)
                if (pat[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != '-')
                        return 0;
        return 1;
}

/* The key of a row: its profile, or its tag value ("user:NAME"). */
static int row_key(tg_ac_t *a, const char *res, const char *tags, char *out,
                   size_t size, char *why, size_t wsize)
{
        json_t *t, *v;
        char name[200];

        if (!a->o->tag) {
                tg_ac_key_norm(res ? res : "", out, size);
                return 0;
        }
        if (!tags || !*tags) {
                snprintf(out, size, "(untagged)");
                return 0;
        }
        if (!(t = json_loads(tags, JSON_REJECT_DUPLICATES, NULL)) ||
            !json_is_object(t)) {
                json_decref(t);
                snprintf(why, wsize, "resource_tags: not a JSON map");
                return -1;
        }
        snprintf(name, sizeof(name), "user:%s", a->o->tag);
        v = json_object_get(t, name);
        snprintf(out, size, "%s",
                 json_is_string(v) ? json_string_value(v) : "(untagged)");
        json_decref(t);
        return 0;
}

static void row(tg_ac_t *a, char **f, size_t n, const int *col, int64_t line)
{
        const char *start = field(f, n, col[C_START]),
                   *prod = field(f, n, col[C_PRODUCT]),
                   *cost = field(f, n, col[C_COST]),
                   *cur = field(f, n, col[C_CURRENCY]),
                   *type = field(f, n, col[C_TYPE]);
        char key[512], why[128], day[11];
        int64_t nano;
        tg_ac_cell_t *c;

        a->rows++;
        if (!start || !prod || !cost || !cur)
                return tg_ac_problem(a, line, "%zu fields, the header has more",
                                     n);
        if (strcmp(prod, "AmazonBedrock") != 0) {
                a->other_products++;
                return;
        }
        if (!valid_day(start))
                return tg_ac_problem(a, line,
                                     "line_item_usage_start_date: \"%.40s\" is "
                                     "not a date",
                                     start);
        if (tg_ac_parse_cost(cost, &nano))
                return tg_ac_problem(a, line,
                                     "line_item_unblended_cost: \"%.40s\" is "
                                     "not a number",
                                     cost);
        if (strcmp(cur, "USD") != 0)
                return tg_ac_problem(a, line,
                                     "line_item_currency_code: \"%.16s\": only "
                                     "USD can be compared with tollgate's "
                                     "nano-USD",
                                     cur);
        if (row_key(a, field(f, n, col[C_RESOURCE]), field(f, n, col[C_TAGS]),
                    key, sizeof(key), why, sizeof(why)))
                return tg_ac_problem(a, line, "%s", why);
        a->bedrock_rows++;
        /* Credits, refunds, taxes and the like are not usage: counted in
         * the summary, not compared. */
        if (type && *type && strcmp(type, "Usage") != 0) {
                a->other_types++;
                a->other_types_nano += nano;
                return;
        }
        snprintf(day, sizeof(day), "%.10s", start);
        if (!(c = tg_ac_cell(a, day, key)))
                return tg_ac_problem(a, line, "out of memory");
        c->in_aws = 1;
        c->aws += nano;
        c->aws_lines++;
        if (!a->aws_first[0] || strcmp(day, a->aws_first) < 0)
                memcpy(a->aws_first, day, sizeof(day));
        if (strcmp(day, a->aws_last) > 0)
                memcpy(a->aws_last, day, sizeof(day));
        int added;
        void **slot = tg_strmap_put(&a->keys, key, strlen(key), &added);
        if (slot)
                *slot = (void *)((uintptr_t)*slot | 1);
}

int tg_ac_read_cur(tg_ac_t *a)
{
        char err[256], *f[TG_CSV_FIELDS_MAX];
        size_t n;
        int64_t line;
        int col[C_N], rc;
        tg_csv_t *csv = tg_csv_open(a->o->file, err, sizeof(err));

        if (!csv) {
                tg_ac_problem(a, 0, "%s", err);
                return a->fatal = 1, -1;
        }
        rc = tg_csv_next(csv, f, &n, &line, err, sizeof(err));
        if (rc != 1 || header(a, f, n, col)) {
                if (rc != 1)
                        tg_ac_problem(a, line, "header: %s",
                                      rc == 0 ? "empty file" : err);
                tg_csv_close(csv);
                return a->fatal = 1, -1;
        }
        while ((rc = tg_csv_next(csv, f, &n, &line, err, sizeof(err))) != 0) {
                if (rc == -2) {
                        tg_ac_problem(a, line, "%s", err);
                        break;
                }
                if (rc < 0)
                        tg_ac_problem(a, line, "%s", err);
                else if (!(n == 1 && !*f[0])) /* blank line */
                        row(a, f, n, col, line);
        }
        tg_csv_close(csv);
        return 0;
}
