/*
 * How the worker joins its consumer group (docs/operations.md, "Pod churn";
 * docs/architecture.md, "Rebalances").
 *
 * - Assignment: cooperative-sticky by default, so a join or a leave moves
 *   only the partitions that change owner and the others keep working
 *   (consumer.c, rebalance_cooperative). An eager strategy (range,
 *   roundrobin) given with -X still works (rebalance_eager).
 * - Static membership: an explicit worker id (--worker-id,
 *   TOLLGATE_WORKER_ID; the Kubernetes manifests set it from the pod name)
 *   is the consumer's group.instance.id unless --static-membership 0, so a
 *   restarted worker takes its partitions back without a rebalance. The
 *   price: one that dies and never comes back holds them until
 *   session.timeout.ms (one that drains leaves first; an idle one rejoins:
 *   consumer.c).
 *
 * Settings the worker cannot honour are refused here, at start, with the
 * reason, instead of a consumer that runs and reads nothing.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "worker.h"

/* Kafka's rule for group.instance.id (as for topic names). */
#define INSTANCE_ID_MAX 249

static int conf_get(rd_kafka_conf_t *kc, const char *name, char *out,
                    size_t size)
{
        size_t n = size;

        out[0] = '\0';
        if (rd_kafka_conf_get(kc, name, out, &n) != RD_KAFKA_CONF_OK)
                return -1; /* not a property of this librdkafka */
        return 0;
}

/* Every name known, and all of one protocol: librdkafka would otherwise
 * fail at the first rebalance, or pick the eager protocol for a mix. */
static int check_strategy(const char *list, int *cooperative, char *errstr,
                          size_t size)
{
        char buf[256], *save = NULL;
        int eager = 0, coop = 0;

        snprintf(buf, sizeof(buf), "%s", list);
        for (char *s = strtok_r(buf, ", ", &save); s;
             s = strtok_r(NULL, ", ", &save)) {
                if (strcmp(s, "cooperative-sticky") == 0)
                        coop++;
                else if (strcmp(s, "range") == 0 ||
                         strcmp(s, "roundrobin") == 0)
                        eager++;
                else
                        return snprintf(errstr, size,
                                        "partition.assignment.strategy: "
                                        "\"%.64s\" is not one the worker "
                                        "supports (cooperative-sticky, "
                                        "range, roundrobin)",
                                        s),
                               -1;
        }
        if (!eager && !coop)
                return snprintf(errstr, size,
                                "partition.assignment.strategy is empty"),
                       -1;
        if (eager && coop)
                return snprintf(errstr, size,
                                "partition.assignment.strategy \"%.128s\" "
                                "mixes eager and cooperative assignors: give "
                                "cooperative-sticky alone, or range and/or "
                                "roundrobin",
                                list),
                       -1;
        *cooperative = coop > 0;
        return 0;
}

static int instance_id_valid(const char *id)
{
        size_t n = strlen(id);

        if (n == 0 || n > INSTANCE_ID_MAX)
                return 0;
        for (const char *p = id; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
                      *p == '-'))
                        return 0;
        return 1;
}

static int static_membership(rd_kafka_conf_t *kc, const tg_config_t *c,
                             char *errstr, size_t size)
{
        char v[300], st[32];

        conf_get(kc, "group.instance.id", v, sizeof(v));
        if (v[0] && !c->static_membership)
                return snprintf(errstr, size,
                                "group.instance.id is set (-X) but "
                                "static-membership is 0: drop one of them"),
                       -1;
        if (!v[0] && c->static_membership && c->worker_id_set) {
                if (!instance_id_valid(c->worker_id))
                        return snprintf(errstr, size,
                                        "worker-id \"%.64s\" cannot be a "
                                        "group.instance.id (1-%d of "
                                        "[a-zA-Z0-9._-]): change it or set "
                                        "static-membership 0",
                                        c->worker_id, INSTANCE_ID_MAX),
                               -1;
                if (rd_kafka_conf_set(kc, "group.instance.id", c->worker_id,
                                      errstr, size) != RD_KAFKA_CONF_OK)
                        return -1;
                snprintf(v, sizeof(v), "%s", c->worker_id);
        }
        if (v[0]) {
                conf_get(kc, "session.timeout.ms", st, sizeof(st));
                tg_log(TG_LOG_INFO,
                       "static membership as %s: a restart within "
                       "session.timeout.ms (%s ms) keeps the partitions; a "
                       "worker that does not return holds them that long",
                       v, st);
        }
        return 0;
}

int tg_assignment_conf(rd_kafka_conf_t *kc, const tg_config_t *c,
                       int *cooperative, char *errstr, size_t size)
{
        char v[256];

        if (conf_get(kc, "partition.assignment.strategy", v, sizeof(v)) ||
            check_strategy(v, cooperative, errstr, size))
                return -1;
        /* KIP-848 (librdkafka 2.4+): the broker assigns, and this worker's
         * rebalance handling has not been tried with it. */
        if (conf_get(kc, "group.protocol", v, sizeof(v)) == 0 && v[0] &&
            strcmp(v, "classic") != 0)
                return snprintf(errstr, size,
                                "group.protocol=%.32s is not supported by "
                                "the worker (classic only)",
                                v),
                       -1;
        /* Offsets are stored only below the oldest unfinished request
         * (offsets.c); librdkafka storing them itself skips requests. */
        if (conf_get(kc, "enable.auto.offset.store", v, sizeof(v)) == 0 &&
            strcmp(v, "true") == 0)
                return snprintf(errstr, size,
                                "enable.auto.offset.store=true is refused: "
                                "the worker stores offsets itself, below the "
                                "oldest unfinished request"),
                       -1;
        return static_membership(kc, c, errstr, size);
}
