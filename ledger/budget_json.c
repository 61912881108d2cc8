/* The JSON form of a budget definition (keys.h shows an example). */
#include "budget.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"

__attribute__((format(printf, 3, 4))) static int fail(char *errstr, size_t size,
                                                      const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
        return -1;
}

/* An integer field; absent or null gives dflt. */
static int get_int(json_t *o, const char *name, int64_t dflt, int64_t *out,
                   char *errstr, size_t size)
{
        json_t *v = json_object_get(o, name);

        if (!v || json_is_null(v)) {
                *out = dflt;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return fail(errstr, size,
                            "budget JSON: %s must be a non-negative integer",
                            name);
        *out = json_integer_value(v);
        return 0;
}

static int get_id(json_t *o, tg_budget_t *b, char *errstr, size_t size)
{
        const char *id = json_string_value(json_object_get(o, "id"));

        if (!id || !tg_budget_id_valid(id))
                return fail(errstr, size,
                            "budget JSON: id must be 1-%d of [A-Za-z0-9._-]",
                            TG_BUDGET_ID_MAX);
        snprintf(b->id, sizeof(b->id), "%s", id);
        return 0;
}

static int get_selector(json_t *o, tg_budget_t *b, char *errstr, size_t size)
{
        json_t *sel = json_object_get(o, "selector"), *v;
        const char *key;

        if (!sel || json_is_null(sel))
                return 0;
        if (!json_is_object(sel))
                return fail(errstr, size,
                            "budget JSON: selector must be an object of tag "
                            "values");
        json_object_foreach(sel, key, v)
        {
                if (!json_is_string(v))
                        return fail(errstr, size,
                                    "budget JSON: selector.%.128s must be a "
                                    "string",
                                    key);
                if (tg_budget_selector_add(b, key, json_string_value(v), errstr,
                                           size))
                        return -1;
        }
        return 0;
}

static int get_period(json_t *o, tg_budget_t *b, char *errstr, size_t size)
{
        const char *p = json_string_value(json_object_get(o, "period"));

        if (!p || tg_period_parse(p, &b->period) != 0)
                return fail(errstr, size,
                            "budget JSON: period must be \"day\", \"month\" "
                            "or \"total\"");
        return 0;
}

static int get_thresholds(json_t *o, tg_budget_t *b, char *errstr, size_t size)
{
        json_t *a = json_object_get(o, "thresholds"), *v;
        size_t i;

        if (!a || json_is_null(a))
                return 0; /* the defaults from tg_budget_init() */
        if (!json_is_array(a) || json_array_size(a) > TG_BUDGET_THRESHOLDS_MAX)
                return fail(errstr, size,
                            "budget JSON: thresholds must be an array of at "
                            "most %d percentages",
                            TG_BUDGET_THRESHOLDS_MAX);
        b->n_thresholds = 0;
        json_array_foreach(a, i, v)
        {
                if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                    json_integer_value(v) > TG_BUDGET_THRESHOLD_MAX)
                        return fail(errstr, size,
                                    "budget JSON: thresholds[%zu] must be an "
                                    "integer 1-%d",
                                    i, TG_BUDGET_THRESHOLD_MAX);
                b->thresholds[b->n_thresholds++] = (int)json_integer_value(v);
        }
        return 0;
}

static int get_on_exceed(json_t *o, tg_budget_t *b, char *errstr, size_t size)
{
        json_t *v = json_object_get(o, "onExceed");
        const char *s = json_string_value(v);

        if (!v || json_is_null(v))
                return 0;
        if (s && strcmp(s, "reject") == 0)
                b->on_exceed_defer = 0;
        else if (s && strcmp(s, "defer") == 0)
                b->on_exceed_defer = 1;
        else
                return fail(errstr, size,
                            "budget JSON: onExceed must be \"reject\" or "
                            "\"defer\"");
        return 0;
}

/* "degradeAt": percent, "degradeTier": a tier name; both absent in
 * budgets that never degrade (and in those older CLIs wrote). */
static int get_degrade(json_t *o, tg_budget_t *b, char *errstr, size_t size)
{
        json_t *t = json_object_get(o, "degradeTier");
        int64_t at = 0; /* set by get_int; gcc 12 -O2 cannot see it */

        if (get_int(o, "degradeAt", 0, &at, errstr, size))
                return -1;
        if (at > 100)
                return fail(errstr, size,
                            "budget JSON: degradeAt must be 1-100 (0 = "
                            "never)");
        b->degrade_at = (int)at;
        if (t && (!json_is_string(t) ||
                  tg_tier_parse(json_string_value(t), &b->degrade_tier)))
                return fail(errstr, size,
                            "budget JSON: degradeTier must be \"priority\", "
                            "\"default\" or \"flex\"");
        return 0;
}

static int get_fields(json_t *o, tg_budget_t *b, char *errstr, size_t size)
{
        if (get_id(o, b, errstr, size) || get_selector(o, b, errstr, size) ||
            get_period(o, b, errstr, size) ||
            get_thresholds(o, b, errstr, size) ||
            get_on_exceed(o, b, errstr, size))
                return -1;
        if (get_int(o, "limitNanoUsd", -1, &b->limit_nano, errstr, size) ||
            get_int(o, "limitTokens", -1, &b->limit_tokens, errstr, size) ||
            get_int(o, "rpm", 0, &b->rpm, errstr, size) ||
            get_int(o, "tpm", 0, &b->tpm, errstr, size) ||
            get_degrade(o, b, errstr, size))
                return -1;
        return tg_budget_validate(b, errstr, size);
}

int tg_budget_from_json(const char *json, size_t len, tg_budget_t *out,
                        char *errstr, size_t errstr_size)
{
        json_error_t jerr;
        json_t *root = NULL;

        tg_budget_init(out);
        if (len > TG_BUDGET_JSON_MAX) {
                fail(errstr, errstr_size,
                     "budget JSON: %zu bytes, more than the %d allowed", len,
                     TG_BUDGET_JSON_MAX);
                goto err;
        }
        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                fail(errstr, errstr_size, "budget JSON: %s (column %d)",
                     jerr.text, jerr.column);
                goto err;
        }
        if (!json_is_object(root)) {
                fail(errstr, errstr_size, "budget JSON: must be an object");
                goto err;
        }
        if (get_fields(root, out, errstr, errstr_size))
                goto err;
        json_decref(root);
        return 0;
err:
        json_decref(root);
        tg_budget_clear(out);
        return -1;
}

static json_t *selector_to_json(const tg_budget_t *b)
{
        json_t *sel = json_object();

        for (size_t i = 0; sel && i < b->n_selector; i++)
                json_object_set_new(sel, b->selector[i].key,
                                    json_string(b->selector[i].value));
        return sel;
}

static json_t *thresholds_to_json(const tg_budget_t *b)
{
        json_t *a = json_array();

        for (int i = 0; a && i < b->n_thresholds; i++)
                json_array_append_new(a, json_integer(b->thresholds[i]));
        return a;
}

char *tg_budget_to_json(const tg_budget_t *b)
{
        json_t *o = json_object();
        char *out;

        if (!o)
                return NULL;
        /* Insertion order is the documented order (keys.h). */
        json_object_set_new(o, "id", json_string(b->id));
        json_object_set_new(o, "selector", selector_to_json(b));
        json_object_set_new(o, "period",
                            json_string(tg_period_name(b->period)));
        if (b->limit_nano >= 0)
                json_object_set_new(o, "limitNanoUsd",
                                    json_integer(b->limit_nano));
        if (b->limit_tokens >= 0)
                json_object_set_new(o, "limitTokens",
                                    json_integer(b->limit_tokens));
        json_object_set_new(o, "thresholds", thresholds_to_json(b));
        json_object_set_new(o, "rpm", json_integer(b->rpm));
        json_object_set_new(o, "tpm", json_integer(b->tpm));
        json_object_set_new(
            o, "onExceed",
            json_string(b->on_exceed_defer ? "defer" : "reject"));
        if (b->degrade_at > 0) {
                json_object_set_new(o, "degradeAt",
                                    json_integer(b->degrade_at));
                json_object_set_new(o, "degradeTier",
                                    json_string(tg_tier_name(b->degrade_tier)));
        }
        out = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return out;
}
