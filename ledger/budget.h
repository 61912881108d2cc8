/*
 * Budget definitions: the type, its JSON form (the value of a field of
 * tg:{tg}:budgets, see keys.h) and selector matching.
 *
 * Used by the worker (to decide which budgets a request is charged against)
 * and by tollgate-ledger (to write and show them).
 */
#ifndef TG_LEDGER_BUDGET_H
#define TG_LEDGER_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "request.h"

#define TG_BUDGET_THRESHOLDS_MAX 8
#define TG_BUDGET_SELECTOR_MAX   TG_TAGS_MAX
#define TG_BUDGET_THRESHOLD_MAX  1000 /* percent; >100 alerts on overruns */
#define TG_BUDGET_JSON_MAX       (64 * 1024)

/* One selector pair; both strings are owned (malloc'd). */
typedef struct tg_budget_sel {
        char *key;
        char *value;
} tg_budget_sel_t;

typedef struct tg_budget {
        char id[TG_BUDGET_ID_MAX + 1];
        tg_budget_sel_t selector[TG_BUDGET_SELECTOR_MAX];
        size_t n_selector; /* 0 = global: matches every request */
        tg_period_t period;
        int64_t limit_nano;                       /* nano-USD, -1 = none */
        int64_t limit_tokens;                     /* -1 = none */
        int thresholds[TG_BUDGET_THRESHOLDS_MAX]; /* percent, ascending */
        int n_thresholds;
        int64_t rpm;         /* requests per minute, 0 = none */
        int64_t tpm;         /* tokens per minute, 0 = none */
        int on_exceed_defer; /* 1: defer over-budget requests, 0: reject */
        /* Degrade instead of reject (docs/operations.md, "Service tiers,
         * prompt caching and request metadata"): once spent reaches
         * degrade_at percent of limit_nano, matching requests go at
         * degrade_tier. 0 = never. */
        int degrade_at;
        tg_tier_t degrade_tier;
} tg_budget_t;

/* An empty budget: no selector, month, no limits, thresholds 50/80/100,
 * no rate limits, reject. */
void tg_budget_init(tg_budget_t *b);

/* Frees the selector strings and re-initialises b. */
void tg_budget_clear(tg_budget_t *b);

/* Adds a selector pair after checking it against the AWS tag rules; a key
 * may appear once. Returns 0, or -1 with errstr. */
int tg_budget_selector_add(tg_budget_t *b, const char *key, const char *value,
                           char *errstr, size_t errstr_size);

/* Checks what the JSON form cannot express by itself: the id, at least one
 * limit, non-negative numbers, thresholds 1-1000 strictly ascending.
 * Returns 0, or -1 with errstr. */
int tg_budget_validate(const tg_budget_t *b, char *errstr, size_t errstr_size);

/* Parses and validates a definition (len bytes, need not be NUL-terminated,
 * at most TG_BUDGET_JSON_MAX). out is initialised first, so it must not
 * hold selector strings (clear it before reuse). Unknown fields are ignored
 * so that an older worker reads what a newer CLI writes. On error out is
 * left cleared and errstr names the field. */
int tg_budget_from_json(const char *json, size_t len, tg_budget_t *out,
                        char *errstr, size_t errstr_size);

/* The compact JSON form (keys.h), malloc'd; NULL on out-of-memory. */
char *tg_budget_to_json(const tg_budget_t *b);

/* ---- Degrade instead of reject (budget_degrade.c; admit.lua decides) ---- */

/* The tier a request goes at, as admission settled it. Owned by the job;
 * loop thread only, like the job. */
typedef struct tg_tier_pick {
        tg_tier_t asked; /* the request's service_tier, else default */
        tg_tier_t tier;  /* reserved at, and asked of Bedrock */
        int send;        /* send serviceTier: asked for, or degraded */
        char by[TG_BUDGET_ID_MAX + 1]; /* the budget that degraded it, "" */
} tg_tier_pick_t;

void tg_tier_pick_init(tg_tier_pick_t *p, const tg_request_t *req);

/* The bound admit.lua may move a request to for a budget that degrades
 * at `degrade_at` % to tier `to`: tg_cost_bound_tier() at `to`, or -1
 * when the budget never degrades, the model does not offer `to`, or it is
 * not cheaper than res_nano (the bound at the request's own tier). */
struct tg_model;
int64_t tg_degrade_bound(const struct tg_model *m, const tg_request_t *req,
                         int degrade_at, tg_tier_t to, int64_t res_nano);

/* What admit.lua said: the tier name and the degrading budget of its
 * "ok" reply (or of a resumed record; "" tier = the request's own).
 * Returns 0, or -1 when the tier is not one we know (p unchanged). */
int tg_tier_pick_take(tg_tier_pick_t *p, const char *tier, const char *by);

/* 1 when every selector pair is among tags with an equal value (so an
 * empty selector always matches), else 0. */
int tg_budget_matches(const tg_budget_t *b, const tg_tag_t *tags,
                      size_t n_tags);

#endif
