/*
 * The fields of a usage event (docs/usage-events.md) that reconcile,
 * rebuild and report read. Pointers borrow from the event's JSON.
 */
#ifndef TG_LEDGER_USAGE_EVENT_H
#define TG_LEDGER_USAGE_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TG_USAGE_SCHEMA "tollgate.usage.v1"

typedef struct tg_usage_ev {
        const char *decision; /* approved|rejected_budget|invalid|failed */
        const char *model;    /* NULL when absent */
        const char *model_id;
        int64_t ts_us; /* timestamp, else decidedAt */
        int has_ts;
        int64_t cost_nano;
        int64_t input_tokens, output_tokens;
        int64_t cache_read_tokens, cache_write_tokens;
        int64_t tokens;  /* the four above, summed */
        json_t *tags;    /* object, or NULL */
        json_t *budgets; /* array, or NULL */
} tg_usage_ev_t;

/* Returns 0, or -1 with errstr naming the field that is wrong. */
int tg_usage_ev_parse(json_t *ev, tg_usage_ev_t *out, char *errstr,
                      size_t errstr_size);

/* Entry i of the budgets array: its id and period label, checked against
 * the key schema. Returns 0 or -1 with errstr. */
int tg_usage_ev_budget(const tg_usage_ev_t *e, size_t i, const char **id,
                       const char **period, char *errstr, size_t errstr_size);

#endif
