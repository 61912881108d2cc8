#include "budget.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int fail(char *errstr, size_t size,
                                                      const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
        return -1;
}

void tg_budget_init(tg_budget_t *b)
{
        static const int dflt[] = {50, 80, 100};

        memset(b, 0, sizeof(*b));
        b->period = TG_PERIOD_MONTH;
        b->limit_nano = -1;
        b->limit_tokens = -1;
        memcpy(b->thresholds, dflt, sizeof(dflt));
        b->n_thresholds = 3;
        b->degrade_tier = TG_TIER_FLEX; /* the cheaper tier, when degrading */
}

void tg_budget_clear(tg_budget_t *b)
{
        for (size_t i = 0; i < b->n_selector; i++) {
                free(b->selector[i].key);
                free(b->selector[i].value);
        }
        tg_budget_init(b);
}

int tg_budget_selector_add(tg_budget_t *b, const char *key, const char *value,
                           char *errstr, size_t errstr_size)
{
        tg_budget_sel_t *s;

        if (b->n_selector >= TG_BUDGET_SELECTOR_MAX)
                return fail(errstr, errstr_size, "selector: at most %d tags",
                            TG_BUDGET_SELECTOR_MAX);
        /* The same rules as request tags: a selector that no valid request
         * could match is a mistake worth reporting now. */
        if (tg_tag_check(key, value, errstr, errstr_size))
                return -1;
        for (size_t i = 0; i < b->n_selector; i++)
                if (strcmp(b->selector[i].key, key) == 0)
                        return fail(errstr, errstr_size,
                                    "selector: tag \"%.128s\" given twice",
                                    key);
        s = &b->selector[b->n_selector];
        s->key = strdup(key);
        s->value = strdup(value);
        if (!s->key || !s->value) {
                free(s->key);
                free(s->value);
                s->key = s->value = NULL;
                return fail(errstr, errstr_size, "out of memory");
        }
        b->n_selector++;
        return 0;
}

static int thresholds_validate(const tg_budget_t *b, char *errstr, size_t size)
{
        if (b->n_thresholds < 0 || b->n_thresholds > TG_BUDGET_THRESHOLDS_MAX)
                return fail(errstr, size, "thresholds: at most %d",
                            TG_BUDGET_THRESHOLDS_MAX);
        for (int i = 0; i < b->n_thresholds; i++) {
                int t = b->thresholds[i];
                if (t < 1 || t > TG_BUDGET_THRESHOLD_MAX)
                        return fail(errstr, size,
                                    "thresholds: %d is not a percentage "
                                    "1-%d",
                                    t, TG_BUDGET_THRESHOLD_MAX);
                if (i > 0 && t <= b->thresholds[i - 1])
                        return fail(errstr, size,
                                    "thresholds: must be strictly "
                                    "ascending (%d after %d)",
                                    t, b->thresholds[i - 1]);
        }
        return 0;
}

int tg_budget_validate(const tg_budget_t *b, char *errstr, size_t errstr_size)
{
        if (!tg_budget_id_valid(b->id))
                return fail(errstr, errstr_size,
                            "id: \"%.80s\" must be 1-%d of [A-Za-z0-9._-]",
                            b->id, TG_BUDGET_ID_MAX);
        if (b->limit_nano < 0 && b->limit_tokens < 0)
                return fail(errstr, errstr_size,
                            "budget %s: needs a limit in USD or tokens (or "
                            "both)",
                            b->id);
        if (b->limit_nano < -1 || b->limit_tokens < -1)
                return fail(errstr, errstr_size,
                            "budget %s: limits cannot be negative", b->id);
        if (b->rpm < 0 || b->tpm < 0)
                return fail(errstr, errstr_size,
                            "budget %s: rpm and tpm cannot be negative", b->id);
        if (b->degrade_at < 0 || b->degrade_at > 100)
                return fail(errstr, errstr_size,
                            "budget %s: degradeAt must be a percentage 1-100 "
                            "(0 = never)",
                            b->id);
        if (b->degrade_at > 0 && b->limit_nano < 0)
                return fail(errstr, errstr_size,
                            "budget %s: degrading changes the price, not the "
                            "tokens: it needs a USD limit",
                            b->id);
        if ((unsigned)b->degrade_tier >= TG_TIER_N)
                return fail(errstr, errstr_size, "budget %s: bad degradeTier",
                            b->id);
        if ((unsigned)b->period > TG_PERIOD_TOTAL)
                return fail(errstr, errstr_size, "budget %s: bad period",
                            b->id);
        return thresholds_validate(b, errstr, errstr_size);
}

static const char *tag_lookup(const tg_tag_t *tags, size_t n, const char *key)
{
        for (size_t i = 0; i < n; i++)
                if (tags[i].key && strcmp(tags[i].key, key) == 0)
                        return tags[i].value;
        return NULL;
}

int tg_budget_matches(const tg_budget_t *b, const tg_tag_t *tags, size_t n_tags)
{
        for (size_t i = 0; i < b->n_selector; i++) {
                const char *v = tag_lookup(tags, n_tags, b->selector[i].key);
                if (!v || strcmp(v, b->selector[i].value) != 0)
                        return 0;
        }
        return 1;
}
