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
        int64_t acc = 0, w5;

        if (u->cache_write_1h_tokens < 0 ||
            u->cache_write_1h_tokens > u->cache_write_tokens ||
            (u->cache_write_1h_tokens > 0 && price->cache_write_1h == 0))
                return -1;
        w5 = u->cache_write_tokens - u->cache_write_1h_tokens;
        acc = add_cost(acc, tg_cost_tokens(u->input_tokens, price->input));
        acc = add_cost(acc, tg_cost_tokens(u->output_tokens, price->output));
        acc = add_cost(acc,
                       tg_cost_tokens(u->cache_read_tokens, price->cache_read));
        acc = add_cost(acc, tg_cost_tokens(w5, price->cache_write));
        acc = add_cost(acc, tg_cost_tokens(u->cache_write_1h_tokens,
                                           price->cache_write_1h));
        return acc;
}

static int64_t max2(int64_t a, int64_t b)
{
        return a > b ? a : b;
}

/* The dearest input class of p, and how many input classes have a price
 * (each is rounded up on its own: at most that many minus one extra
 * nano-dollars over one rounding of all input tokens at the dearest). */
static int64_t dearest_input(const tg_price_t *p, int *classes)
{
        const int64_t v[4] = {p->input, p->cache_read, p->cache_write,
                              p->cache_write_1h};
        int64_t m = 0;

        for (int i = 0; i < 4; i++) {
                m = max2(m, v[i]);
                *classes += v[i] > 0;
        }
        return m;
}

static int bound_tokens(const tg_model_t *model, const tg_request_t *req,
                        tg_bound_t *out)
{
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
        return 0;
}

static int bound_rate(const tg_model_t *model, const tg_tier_rate_t *r,
                      const tg_request_t *req, tg_bound_t *out)
{
        int classes = 0;
        int64_t in_price, out_price, in_cost;

        if (!r || bound_tokens(model, req, out))
                return -1;
        in_price = dearest_input(&r->base, &classes);
        out_price = r->base.output;
        /* Real input <= the bound, so long context can only apply when the
         * bound itself passes the threshold; then every token may be
         * billed at either set of prices. */
        if (model->long_context_above > 0 &&
            out->input_tokens > model->long_context_above) {
                int lc_classes = 0;
                in_price = max2(in_price,
                                dearest_input(&r->long_context, &lc_classes));
                classes = classes > lc_classes ? classes : lc_classes;
                out_price = max2(out_price, r->long_context.output);
        }
        /* At least 2, as before 1-hour writes existed, so reservations of
         * unchanged models keep their exact values. */
        in_cost = add_cost(tg_cost_tokens(out->input_tokens, in_price),
                           classes > 3 ? classes - 1 : 2);
        out->cost_nano =
            add_cost(in_cost, tg_cost_tokens(out->output_tokens, out_price));
        return out->cost_nano < 0 ? -1 : 0;
}

int tg_cost_bound_at(const tg_model_t *m, tg_tier_t tier, tg_scope_t scope,
                     const tg_request_t *req, tg_bound_t *out)
{
        return bound_rate(m, tg_model_rate(m, tier, scope), req, out);
}

int tg_cost_bound(const tg_model_t *model, const tg_request_t *req,
                  tg_bound_t *out)
{
        /* A model loaded by hand (tests) may have only `price`. */
        tg_tier_rate_t only = {.offered = 1, .base = model->price};
        const tg_tier_rate_t *r = model->rates[TG_TIER_DEFAULT][0].offered
                                      ? &model->rates[TG_TIER_DEFAULT][0]
                                      : &only;
        tg_bound_t g;

        if (bound_rate(model, r, req, out))
                return -1;
        if (model->rates[TG_TIER_DEFAULT][TG_SCOPE_GLOBAL].offered) {
                if (bound_rate(model,
                               &model->rates[TG_TIER_DEFAULT][TG_SCOPE_GLOBAL],
                               req, &g))
                        return -1;
                if (g.cost_nano > out->cost_nano)
                        *out = g;
        }
        return 0;
}

int tg_cost_is_long_context(const tg_model_t *m, const tg_usage_t *u)
{
        __extension__ typedef __int128 i128;
        i128 in = (i128)u->input_tokens + u->cache_read_tokens +
                  u->cache_write_tokens;

        return m->long_context_above > 0 && in > m->long_context_above;
}

int64_t tg_cost_usage_at(const tg_model_t *m, tg_tier_t tier, tg_scope_t scope,
                         const tg_usage_t *u)
{
        const tg_tier_rate_t *r = tg_model_rate(m, tier, scope);

        if (!r)
                return -1;
        return tg_cost_usage(
            tg_cost_is_long_context(m, u) ? &r->long_context : &r->base, u);
}

int tg_cost_bound_tier(const tg_model_t *m, tg_tier_t tier,
                       const tg_request_t *req, tg_bound_t *out)
{
        tg_bound_t g;

        if (tier == TG_TIER_DEFAULT)
                return tg_cost_bound(m, req, out);
        if (tg_cost_bound_at(m, tier, TG_SCOPE_REGIONAL, req, out) ||
            tg_cost_bound_at(m, tier, TG_SCOPE_GLOBAL, req, &g))
                return -1;
        if (g.cost_nano > out->cost_nano)
                *out = g;
        return 0;
}

int64_t tg_cost_settle(const tg_model_t *m, tg_tier_t tier, const char *target,
                       const tg_usage_t *u)
{
        if (tier == TG_TIER_DEFAULT &&
            !m->rates[TG_TIER_DEFAULT][TG_SCOPE_REGIONAL].offered)
                return tg_cost_usage(&m->price, u);
        return tg_cost_usage_at(m, tier, tg_scope_of_target(target), u);
}
