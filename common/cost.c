/*
 * Money arithmetic in integer nano-USD. Prices are per 1M tokens, so a cost
 * is tokens * price / 1e6, rounded up once per token class: we never bill
 * less than AWS, and the sum of events equals the ledger to the nano-dollar.
 */
#include <stdint.h>
#include <string.h>

#include "catalog.h"

#define NANO_PER_USD 1000000000LL

int tg_usd_parse_nano(const char *s, int64_t *out)
{
        int64_t whole = 0, frac = 0;
        int frac_digits = 0;
        const char *p = s;

        if (!*p)
                return -1;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (whole > (INT64_MAX / NANO_PER_USD - 9) / 10)
                        return -1;
                whole = whole * 10 + (*p - '0');
        }
        if (p == s && *p != '.')
                return -1;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -1;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (++frac_digits > 9)
                                return -1;
                        frac = frac * 10 + (*p - '0');
                }
        }
        if (*p)
                return -1;
        for (; frac_digits < 9; frac_digits++)
                frac *= 10;
        *out = whole * NANO_PER_USD + frac;
        return 0;
}

int64_t tg_cost_tokens(int64_t tokens, int64_t nano_per_mtok)
{
        __extension__ typedef unsigned __int128 u128;
        u128 n;

        if (tokens < 0 || nano_per_mtok < 0)
                return -1;
        n = ((u128)tokens * (u128)nano_per_mtok + 999999u) / 1000000u;
        return n > (u128)INT64_MAX ? -1 : (int64_t)n;
}

static int64_t add_cost(int64_t acc, int64_t c)
{
        if (acc < 0 || c < 0 || c > INT64_MAX - acc)
                return -1;
        return acc + c;
}

int64_t tg_cost_usage(const tg_price_t *price, const tg_usage_t *u)
{
        int64_t acc = 0;

        acc = add_cost(acc, tg_cost_tokens(u->input_tokens, price->input));
        acc = add_cost(acc, tg_cost_tokens(u->output_tokens, price->output));
        acc = add_cost(acc,
                       tg_cost_tokens(u->cache_read_tokens, price->cache_read));
        acc = add_cost(
            acc, tg_cost_tokens(u->cache_write_tokens, price->cache_write));
        return acc;
}

static int64_t max3(int64_t a, int64_t b, int64_t c)
{
        int64_t m = a > b ? a : b;
        return m > c ? m : c;
}

int tg_cost_bound(const tg_model_t *model, const tg_request_t *req,
                  tg_bound_t *out)
{
        const tg_price_t *p = &model->price;
        int64_t in_price = max3(p->input, p->cache_write, p->cache_read);
        int64_t in_cost, out_cost;

        /* The catalog caps the overheads; stay exact for any model. */
        if (model->message_overhead_tokens < 0 ||
            model->message_overhead_tokens > INT64_MAX / TG_MESSAGES_MAX ||
            req->n_messages > TG_MESSAGES_MAX)
                return -1;
        out->input_tokens = add_cost(
            add_cost((int64_t)req->text_bytes,
                     (int64_t)req->n_messages * model->message_overhead_tokens),
            model->request_overhead_tokens);
        if (out->input_tokens < 0)
                return -1;
        out->output_tokens = req->params.max_tokens > 0
                                 ? req->params.max_tokens
                                 : model->max_output_tokens;
        /* Input tokens may be split over three classes, each rounded up on
         * its own: at most two more nano-dollars than one rounding. */
        in_cost = add_cost(tg_cost_tokens(out->input_tokens, in_price), 2);
        out_cost = tg_cost_tokens(out->output_tokens, p->output);
        out->cost_nano = add_cost(in_cost, out_cost);
        return out->cost_nano < 0 ? -1 : 0;
}
