#include "ledger_args.h"

#include <stdio.h>
#include <string.h>

void tg_ledger_args_init(tg_ledger_args_t *a)
{
        a->n = a->nkeys = a->nn = a->full = 0;
}

void tg_ledger_args_str(tg_ledger_args_t *a, const char *s)
{
        tg_ledger_args_bin(a, s, strlen(s));
}

void tg_ledger_args_bin(tg_ledger_args_t *a, const char *s, size_t len)
{
        if (a->n == TG_LEDGER_ARGS_MAX) {
                a->full = 1;
                return;
        }
        a->v[a->n] = s;
        a->l[a->n++] = len;
}

void tg_ledger_args_int(tg_ledger_args_t *a, int64_t v)
{
        if (a->nn == TG_LEDGER_NUMS_MAX) {
                a->full = 1;
                return;
        }
        snprintf(a->num[a->nn], sizeof(a->num[0]), "%lld", (long long)v);
        tg_ledger_args_str(a, a->num[a->nn++]);
}

void tg_ledger_args_keys_done(tg_ledger_args_t *a)
{
        a->nkeys = a->n;
}

int tg_ledger_args_eval(tg_ledger_t *l, tg_script_t script, tg_ledger_args_t *a,
                        tg_ledger_cb *cb, void *opaque)
{
        if (a->full)
                return -1;
        return tg_ledger_eval(l, script, a->nkeys, a->n - a->nkeys, a->v, a->l,
                              cb, opaque);
}
