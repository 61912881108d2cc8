/*
 * Degrade instead of reject: the worker's side of it. admit.lua decides
 * (atomically, with the admission) from the bounds computed here; this
 * reads back what it decided. docs/operations.md, "Service tiers, prompt
 * caching and request metadata".
 */
#include <stdio.h>
#include <string.h>

#include "budget.h"
#include "catalog.h"

void tg_tier_pick_init(tg_tier_pick_t *p, const tg_request_t *req)
{
        memset(p, 0, sizeof(*p));
        p->asked = p->tier = tg_request_tier(req);
        p->send = req->params.has_service_tier;
}

int64_t tg_degrade_bound(const tg_model_t *m, const tg_request_t *req,
                         int degrade_at, tg_tier_t to, int64_t res_nano)
{
        tg_bound_t b;

        if (degrade_at <= 0 || !m || tg_cost_bound_tier(m, to, req, &b) ||
            b.cost_nano >= res_nano)
                return -1;
        return b.cost_nano;
}

int tg_tier_pick_take(tg_tier_pick_t *p, const char *tier, const char *by)
{
        tg_tier_t t;

        if (!tier || !*tier)
                return 0;
        if (tg_tier_parse(tier, &t))
                return -1;
        p->tier = t;
        snprintf(p->by, sizeof(p->by), "%s", by ? by : "");
        if (p->by[0] || t != p->asked)
                p->send = 1;
        return 0;
}
