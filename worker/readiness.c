/*
 * What /readyz says (docs/operations.md, "Readiness"): one function
 * computes it from everything that stops the worker from doing its work,
 * and is called whenever one of them may have changed (the ledger's state
 * callback, the consumer's error and statistics callbacks, signals, fatal
 * errors) and once a second from the tick, so that a condition that clears
 * by itself (credentials refreshed again, a broker accepting the new
 * token) makes the worker ready again without anyone telling it.
 *
 * Not ready, every reason that holds, joined by "; ":
 *   fatal error / draining   (alone: nothing else matters then)
 *   starting                 Redis not reached yet
 *   redis unavailable
 *   aws credentials expired or unobtainable   tg_creds_valid (the refresh
 *                            failed and the last ones expired)
 *   kafka authentication: no MSK IAM token    the last token refresh
 *                            failed (kafka_auth.h)
 *   kafka authentication failed               librdkafka reported
 *                            RD_KAFKA_RESP_ERR__AUTHENTICATION and no
 *                            statistics report since showed a broker up
 *                            (state UP comes only after authentication);
 *                            left out when statistics are off (consumer.c)
 * Reasons are fixed words: a broker's or an AWS error text stays in the
 * log, where the sources already put it without secrets. Each change is
 * logged once (tg_metrics_set_ready says when it changed).
 *
 * Loop thread only: librdkafka serves the consumer's callbacks from our
 * polls of its queue on the loop.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "kafka_auth.h"
#include "log.h"
#include "tgtime.h"
#include "worker.h"

static void add(char *buf, size_t size, const char *why)
{
        size_t n = strlen(buf);

        snprintf(buf + n, size - n, "%s%s", n ? "; " : "", why);
}

static void kafka_reasons(tg_worker_t *w, char *buf, size_t size)
{
        if (tg_kafka_auth_failing())
                add(buf, size, "kafka authentication: no MSK IAM token");
        else if (w->kafka_auth_err_ms > w->kafka_up_ms)
                add(buf, size, "kafka authentication failed");
}

void tg_ready_update(tg_worker_t *w)
{
        char why[TG_READY_REASON_MAX] = "";

        if (!w->metrics)
                return;
        if (w->fatal) {
                add(why, sizeof(why), "fatal error (see the log)");
        } else if (w->stopping) {
                add(why, sizeof(why), "draining");
        } else {
                if (!w->ledger_was_up)
                        add(why, sizeof(why), "starting");
                else if (!w->ledger || !tg_ledger_up(w->ledger))
                        add(why, sizeof(why), "redis unavailable");
                if (w->creds && !tg_creds_valid(w->creds))
                        add(why, sizeof(why),
                            "aws credentials expired or unobtainable");
                kafka_reasons(w, why, sizeof(why));
        }
        if (!tg_metrics_set_ready(w->metrics, !why[0], why))
                return;
        if (why[0])
                tg_log(TG_LOG_WARN, "not ready: %s", why);
        else
                tg_log(TG_LOG_INFO, "ready");
}

void tg_ready_kafka_auth_error(tg_worker_t *w)
{
        w->kafka_auth_err_ms = tg_mono_ms();
        tg_ready_update(w);
}

/* Any broker in state UP: connected and, with SASL, authenticated. */
static int broker_up(json_t *brokers)
{
        const char *name;
        json_t *b;

        json_object_foreach(brokers, name, b)
        {
                const char *st = json_string_value(json_object_get(b, "state"));

                if (st && strcmp(st, "UP") == 0)
                        return 1;
        }
        return 0;
}

void tg_ready_kafka_stats(tg_worker_t *w, const char *json, size_t len)
{
        json_t *root;

        /* Only an authentication error not yet cleared needs these
         * statistics: do not parse a large JSON each second for nothing. */
        if (w->kafka_auth_err_ms <= w->kafka_up_ms)
                return;
        root = json_loadb(json, len, 0, NULL);
        if (root && broker_up(json_object_get(root, "brokers"))) {
                w->kafka_up_ms = tg_mono_ms();
                if (w->kafka_auth_err_ms)
                        tg_ready_update(w);
        }
        json_decref(root);
}
