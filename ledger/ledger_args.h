/*
 * One builder for the argument lists of the ledger's scripts (keys, then
 * arguments; strings by reference, numbers formatted in place), with the
 * one limit on budgets per request they are sized for. A list that would
 * not fit is refused as a whole: tg_ledger_args_eval returns -1 and nothing
 * is sent.
 *
 * Owned by its caller (on the stack: ~60 KiB); strings added must live
 * until tg_ledger_args_eval returns (the ledger formats the command at
 * once).
 */
#ifndef TG_LEDGER_ARGS_H
#define TG_LEDGER_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

/* A request matching more budgets fails ("too many matching budgets"). */
#define TG_BUDGETS_PER_REQUEST 250
/* admit.lua: 3 + 2 per budget keys, 8 + 5 per budget arguments, and
 * with degrading 1 + 3 per budget more (the largest); the ledger's own
 * limit (EVAL_ARGS_MAX) is above it. */
#define TG_LEDGER_ARGS_MAX (12 + 10 * TG_BUDGETS_PER_REQUEST)
#define TG_LEDGER_NUMS_MAX (8 + 6 * TG_BUDGETS_PER_REQUEST)

typedef struct tg_ledger_args {
        const char *v[TG_LEDGER_ARGS_MAX];
        size_t l[TG_LEDGER_ARGS_MAX];
        int n, nkeys;
        char num[TG_LEDGER_NUMS_MAX][24];
        int nn;
        int full; /* something did not fit */
} tg_ledger_args_t;

/* Only the counters: the arrays are written as they fill. */
void tg_ledger_args_init(tg_ledger_args_t *a);
void tg_ledger_args_str(tg_ledger_args_t *a, const char *s);
/* len bytes, NULs and all (stored.h's packed events). */
void tg_ledger_args_bin(tg_ledger_args_t *a, const char *s, size_t len);
void tg_ledger_args_int(tg_ledger_args_t *a, int64_t v);
/* What was added so far are the keys. */
void tg_ledger_args_keys_done(tg_ledger_args_t *a);
int tg_ledger_args_eval(tg_ledger_t *l, tg_script_t script, tg_ledger_args_t *a,
                        tg_ledger_cb *cb, void *opaque);

#endif
