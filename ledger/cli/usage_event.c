#include "usage_event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tgtime.h"

__attribute__((format(printf, 3, 4))) static int fail(char *errstr, size_t size,
                                                      const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
        return -1;
}

/* A count or an amount: absent or null is 0, anything else must be a
 * non-negative integer (a float here would be a bug upstream). */
static int get_count(json_t *ev, const char *name, int64_t *out, char *errstr,
                     size_t size)
{
        json_t *v = json_object_get(ev, name);

        *out = 0;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return fail(errstr, size, "%s: must be a non-negative integer",
                            name);
        *out = json_integer_value(v);
        return 0;
}

static int get_time(json_t *ev, tg_usage_ev_t *out)
{
        const char *names[] = {"timestamp", "decidedAt"};

        for (int i = 0; i < 2; i++) {
                const char *s =
                    json_string_value(json_object_get(ev, names[i]));
                if (s && tg_time_parse_rfc3339(s, &out->ts_us) == 0)
                        return out->has_ts = 1;
        }
        return 0;
}

static int get_counts(json_t *ev, tg_usage_ev_t *o, char *errstr, size_t size)
{
        if (get_count(ev, "costNanoUsd", &o->cost_nano, errstr, size) ||
            get_count(ev, "inputTokens", &o->input_tokens, errstr, size) ||
            get_count(ev, "outputTokens", &o->output_tokens, errstr, size) ||
            get_count(ev, "cacheReadInputTokens", &o->cache_read_tokens, errstr,
                      size) ||
            get_count(ev, "cacheWriteInputTokens", &o->cache_write_tokens,
                      errstr, size))
                return -1;
        if (__builtin_add_overflow(o->input_tokens, o->output_tokens,
                                   &o->tokens) ||
            __builtin_add_overflow(o->tokens, o->cache_read_tokens,
                                   &o->tokens) ||
            __builtin_add_overflow(o->tokens, o->cache_write_tokens,
                                   &o->tokens))
                return fail(errstr, size, "token counts overflow");
        return 0;
}

int tg_usage_ev_parse(json_t *ev, tg_usage_ev_t *out, char *errstr,
                      size_t errstr_size)
{
        const char *schema = json_string_value(json_object_get(ev, "schema"));

        memset(out, 0, sizeof(*out));
        if (schema && strcmp(schema, TG_USAGE_SCHEMA) != 0)
                return fail(errstr, errstr_size,
                            "schema \"%.64s\" is not " TG_USAGE_SCHEMA, schema);
        out->decision = json_string_value(json_object_get(ev, "decision"));
        if (!out->decision)
                return fail(errstr, errstr_size, "decision: missing");
        out->model = json_string_value(json_object_get(ev, "model"));
        out->model_id = json_string_value(json_object_get(ev, "modelId"));
        out->tags = json_object_get(ev, "tags");
        if (out->tags && !json_is_object(out->tags))
                return fail(errstr, errstr_size, "tags: must be an object");
        out->budgets = json_object_get(ev, "budgets");
        if (json_is_null(out->budgets))
                out->budgets = NULL;
        if (out->budgets && !json_is_array(out->budgets))
                return fail(errstr, errstr_size, "budgets: must be an array");
        get_time(ev, out);
        return get_counts(ev, out, errstr, errstr_size);
}

int tg_usage_ev_budget(const tg_usage_ev_t *e, size_t i, const char **id,
                       const char **period, char *errstr, size_t errstr_size)
{
        json_t *b = json_array_get(e->budgets, i);
        tg_period_t kind;

        *id = json_string_value(json_object_get(b, "id"));
        *period = json_string_value(json_object_get(b, "period"));
        if (!*id || !tg_budget_id_valid(*id))
                return fail(errstr, errstr_size,
                            "budgets[%zu].id: not a budget id", i);
        if (!*period || !tg_cli_period_label_kind(*period, &kind))
                return fail(errstr, errstr_size,
                            "budgets[%zu].period: not a period label", i);
        return 0;
}
