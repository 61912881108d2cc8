/* The Kafka half of totals.h: sums of approved usage events. */
#include "totals.h"

#include <stdlib.h>
#include <string.h>

#include "usage_event.h"

void tg_totals_init(tg_totals_t *t)
{
        memset(t, 0, sizeof(*t));
        tg_strmap_init(&t->pairs);
        t->issues = json_array();
}

void tg_totals_free(tg_totals_t *t)
{
        tg_strmap_free(&t->pairs, free);
        json_decref(t->issues);
        memset(t, 0, sizeof(*t));
}

tg_pair_t *tg_totals_pair(tg_totals_t *t, const char *id, const char *period)
{
        char key[TG_BUDGET_ID_MAX + TG_PERIOD_LABEL_MAX + 2];
        int n = snprintf(key, sizeof(key), "%s:%s", id, period);
        int added;
        void **slot;
        tg_pair_t *p;

        if (n < 0 || (size_t)n >= sizeof(key))
                return NULL;
        slot = tg_strmap_put(&t->pairs, key, (size_t)n, &added);
        if (!slot)
                return NULL;
        if (!added)
                return *slot;
        if (!(p = calloc(1, sizeof(*p))))
                return NULL;
        snprintf(p->id, sizeof(p->id), "%s", id);
        snprintf(p->period, sizeof(p->period), "%s", period);
        *slot = p;
        return p;
}

/* Checks every entry before adding any: an event counts whole or not. */
static int budgets_check(const tg_usage_ev_t *e, char *errstr, size_t size)
{
        size_t n = json_array_size(e->budgets);
        const char *id, *period, *id2, *period2;

        for (size_t i = 0; i < n; i++) {
                if (tg_usage_ev_budget(e, i, &id, &period, errstr, size))
                        return 1;
                for (size_t j = 0; j < i; j++) {
                        tg_usage_ev_budget(e, j, &id2, &period2, errstr, size);
                        if (!strcmp(id, id2) && !strcmp(period, period2))
                                return snprintf(errstr, size,
                                                "budgets: %s %s listed twice",
                                                id, period),
                                       1;
                }
        }
        return 0;
}

static int add(tg_pair_t *p, const tg_usage_ev_t *e)
{
        p->in_kafka = 1;
        p->k_approved++;
        return __builtin_add_overflow(p->k_spent, e->cost_nano, &p->k_spent) ||
               __builtin_add_overflow(p->k_tokens, e->tokens, &p->k_tokens);
}

static int on_event(json_t *ev, const char *rid, void *opaque, char *errstr,
                    size_t size)
{
        tg_totals_t *t = opaque;
        const char *id, *period;
        tg_usage_ev_t e;

        if (tg_usage_ev_parse(ev, &e, errstr, size))
                return 1;
        if (strcmp(e.decision, "approved") != 0)
                return 0; /* only approved requests are charged */
        if (budgets_check(&e, errstr, size))
                return 1;
        for (size_t i = 0; i < json_array_size(e.budgets); i++) {
                tg_usage_ev_budget(&e, i, &id, &period, errstr, size);
                tg_pair_t *p = tg_totals_pair(t, id, period);
                if (!p)
                        return snprintf(errstr, size, "out of memory"), -1;
                if (add(p, &e))
                        return snprintf(errstr, size,
                                        "budget %s %s: sum overflows int64", id,
                                        period),
                               -1;
        }
        return 0;
}

static void on_issue(const tg_replay_issue_t *is, void *opaque)
{
        tg_totals_t *t = opaque;

        json_array_append_new(
            t->issues,
            json_pack("{s:s, s:s, s:i, s:I, s:s}", "kind",
                      is->kind == TG_REPLAY_CONFLICT ? "conflict" : "malformed",
                      "requestId", is->request_id, "partition",
                      (int)is->partition, "offset", (json_int_t)is->offset,
                      "reason", is->reason));
}

int tg_totals_from_kafka(tg_cli_t *cli, tg_totals_t *t)
{
        tg_replay_conf_t conf = {.brokers = cli->brokers,
                                 .topic = cli->usage_topic,
                                 .props = cli->props,
                                 .n_props = cli->n_props,
                                 .auth = &cli->auth,
                                 .timeout_ms = cli->timeout_ms,
                                 .max_message = TG_CLI_MSG_MAX};
        char err[512];

        if (tg_replay_run(&conf, on_event, on_issue, t, &t->stats, err,
                          sizeof(err)))
                return tg_cli_fail(cli, "%s", err);
        return 0;
}

static int by_pair(const void *a, const void *b)
{
        const tg_pair_t *x = *(tg_pair_t *const *)a;
        const tg_pair_t *y = *(tg_pair_t *const *)b;
        int c = strcmp(x->id, y->id);

        return c ? c : strcmp(x->period, y->period);
}

tg_pair_t **tg_totals_sorted(const tg_totals_t *t, size_t *n)
{
        tg_pair_t **out = calloc(t->pairs.n + 1, sizeof(*out));

        *n = 0;
        if (!out)
                return NULL;
        for (size_t i = 0; i < t->pairs.cap; i++)
                if (t->pairs.slots[i].key)
                        out[(*n)++] = t->pairs.slots[i].value;
        qsort(out, *n, sizeof(*out), by_pair);
        return out;
}

void tg_totals_print_issues(const tg_totals_t *t)
{
        size_t i;
        json_t *is;

        json_array_foreach(t->issues, i, is)
        {
                fprintf(stderr, "%s: partition %lld offset %lld%s%s: %s\n",
                        json_string_value(json_object_get(is, "kind")),
                        json_integer_value(json_object_get(is, "partition")),
                        json_integer_value(json_object_get(is, "offset")),
                        *json_string_value(json_object_get(is, "requestId"))
                            ? " requestId "
                            : "",
                        json_string_value(json_object_get(is, "requestId")),
                        json_string_value(json_object_get(is, "reason")));
        }
}
