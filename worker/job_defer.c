/*
 * Deferral (a budget with onExceed=defer): a request over such a budget is
 * not answered `rejected`; its original bytes are parked on PREFIX.deferred
 * with the budget and period in headers, and `tollgate-ledger release` puts
 * them back on the requests topic once the period rolled over or the limit
 * was raised. Nothing is charged and no event is published until then: the
 * request is not finished, only postponed.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "worker.h"

static rd_kafka_headers_t *defer_headers(rd_kafka_message_t *m,
                                         const tg_job_budget_t *b)
{
        rd_kafka_headers_t *orig = NULL, *h;

        if (rd_kafka_message_headers(m, &orig) == 0)
                h = rd_kafka_headers_copy(orig);
        else
                h = rd_kafka_headers_new(2);
        rd_kafka_header_remove(h, "tollgate-deferred-budget");
        rd_kafka_header_remove(h, "tollgate-deferred-period");
        rd_kafka_header_add(h, "tollgate-deferred-budget", -1, b->id, -1);
        rd_kafka_header_add(h, "tollgate-deferred-period", -1, b->period, -1);
        return h;
}

int tg_job_emit_deferred(tg_job_t *j)
{
        rd_kafka_headers_t *h = j->hdrs;

        j->hdrs = NULL; /* consumed by the send */
        j->deliveries = 1;
        return tg_producer_send(j->w, j->w->t_deferred, j->request_id,
                                strlen(j->request_id), j->msg->payload,
                                j->msg->len, j, h);
}

/* Returns 1 when the request was deferred, 0 when the budget rejects. */
int tg_job_defer(tg_job_t *j, const char *budget_id)
{
        tg_worker_t *w = j->w;
        const tg_job_budget_t *b = NULL;

        for (size_t i = 0; i < j->n_budgets; i++)
                if (strcmp(j->budgets[i].id, budget_id) == 0)
                        b = &j->budgets[i];
        if (!b || !b->defer)
                return 0;
        tg_metrics_deferred(w->metrics, b->id);
        tg_log(TG_LOG_INFO, "%s deferred: over budget %s for %s", j->request_id,
               b->id, b->period);
        j->hdrs = defer_headers(j->msg, b);
        tg_job_end(j, TG_END_DEFERRED, NULL);
        return 1;
}
