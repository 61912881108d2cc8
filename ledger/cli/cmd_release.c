/*
 * release: put deferred requests back on the requests topic.
 *
 * A budget with onExceed=defer parks over-budget requests on
 * PREFIX.deferred instead of rejecting them. Once the period rolled over or
 * the limit was raised, this command moves them back, where the workers
 * admit them afresh (and park them again if they still do not fit). Run it
 * by hand, or at 00:00 UTC from a scheduler (docs/operations.md).
 */
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "Usage: " TG_CLI_PROG " release [--topic-prefix P] [--budget ID] "
    "[--group G]\n"
    "\n"
    "Moves the requests parked on P.deferred (by budgets with\n"
    "--on-exceed defer) back to P.requests, committing as it goes, and\n"
    "stops at the end of the topic. With --budget, only those parked by\n"
    "that budget move; the others are parked again.\n"
    "\n"
    "  --topic-prefix P  topics prefix (env TOLLGATE_TOPIC_PREFIX, default "
    "tollgate)\n"
    "  --budget ID       only requests deferred by this budget\n"
    "  --group G         consumer group (default tollgate-release)\n"
    "\n" TG_CLI_COMMON_HELP;

enum { OPT_PREFIX = TG_OPT_FIRST_LOCAL, OPT_BUDGET, OPT_GROUP };

typedef struct release {
        char prefix[128];
        const char *budget;
        const char *group;
        char t_deferred[200], t_requests[200];
        long moved, kept;
} release_t;

static int on_opt(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        release_t *r = opaque;

        if (opt == OPT_PREFIX)
                snprintf(r->prefix, sizeof(r->prefix), "%s", arg);
        else if (opt == OPT_BUDGET)
                r->budget = arg;
        else if (opt == OPT_GROUP)
                r->group = arg;
        else
                return tg_cli_usage_error(cli, "unknown option");
        return 0;
}

static rd_kafka_t *client(tg_cli_t *cli, rd_kafka_type_t type,
                          const char *group)
{
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        char err[512];
        rd_kafka_t *rk;
        int bad = 0;

        bad |= rd_kafka_conf_set(kc, "bootstrap.servers", cli->brokers, err,
                                 sizeof(err)) != RD_KAFKA_CONF_OK;
        if (group) {
                bad |= rd_kafka_conf_set(kc, "group.id", group, err,
                                         sizeof(err)) != RD_KAFKA_CONF_OK;
                rd_kafka_conf_set(kc, "enable.auto.commit", "false", NULL, 0);
                rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", NULL, 0);
                rd_kafka_conf_set(kc, "enable.partition.eof", "true", NULL, 0);
                rd_kafka_conf_set(kc, "isolation.level", "read_committed", NULL,
                                  0);
        } else {
                rd_kafka_conf_set(kc, "enable.idempotence", "true", NULL, 0);
        }
        if (!bad && tg_kafka_auth_before(kc, &cli->auth, err, sizeof(err)))
                bad = 1;
        for (int i = 0; i < cli->n_props && !bad; i++) {
                char name[256];
                const char *eq = strchr(cli->props[i], '=');
                snprintf(name, sizeof(name), "%.*s", (int)(eq - cli->props[i]),
                         cli->props[i]);
                bad |= rd_kafka_conf_set(kc, name, eq + 1, err, sizeof(err)) !=
                       RD_KAFKA_CONF_OK;
        }
        if (!bad && tg_kafka_auth_after(kc, &cli->auth, err, sizeof(err)))
                bad = 1;
        if (bad) {
                tg_cli_fail(cli, "%s", err);
                rd_kafka_conf_destroy(kc);
                return NULL;
        }
        rk = tg_kafka_new(type, kc, err, sizeof(err));
        if (!rk) {
                tg_cli_fail(cli, "%s", err);
                rd_kafka_conf_destroy(kc);
        }
        return rk;
}

static const char *header(rd_kafka_message_t *m, const char *name, char *out,
                          size_t size)
{
        rd_kafka_headers_t *h;
        const void *v;
        size_t len;

        out[0] = '\0';
        if (rd_kafka_message_headers(m, &h) == 0 &&
            rd_kafka_header_get_last(h, name, &v, &len) == 0 && v)
                snprintf(out, size, "%.*s", (int)len, (const char *)v);
        return out;
}

static int forward(rd_kafka_t *p, release_t *r, rd_kafka_message_t *m)
{
        char budget[128];
        int keep = r->budget && strcmp(header(m, "tollgate-deferred-budget",
                                              budget, sizeof(budget)),
                                       r->budget) != 0;
        rd_kafka_headers_t *h = NULL;

        if (rd_kafka_message_headers(m, &h) == 0)
                h = rd_kafka_headers_copy(h);
        if (!keep && h) {
                rd_kafka_header_remove(h, "tollgate-deferred-budget");
                rd_kafka_header_remove(h, "tollgate-deferred-period");
        }
        if (keep)
                r->kept++;
        else
                r->moved++;
        return rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC((keep ? r->t_deferred : r->t_requests)),
            RD_KAFKA_V_KEY(m->key, m->key_len),
            RD_KAFKA_V_VALUE(m->payload, m->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(h ? h : rd_kafka_headers_new(0)),
            RD_KAFKA_V_END);
}

/* Consumes to the end of every assigned partition. Returns 0 or -1. */
static int drain(tg_cli_t *cli, rd_kafka_t *c, rd_kafka_t *p, release_t *r)
{
        int eofs = 0, assigned = -1;
        int64_t waited = 0;

        while (waited < cli->timeout_ms) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
                rd_kafka_topic_partition_list_t *a = NULL;
                if (assigned < 0 && rd_kafka_assignment(c, &a) == 0 && a) {
                        if (a->cnt > 0)
                                assigned = a->cnt;
                        rd_kafka_topic_partition_list_destroy(a);
                }
                if (!m) {
                        waited += 200;
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        rd_kafka_message_destroy(m);
                        if (++eofs >= assigned && assigned > 0)
                                return 0;
                        continue;
                }
                if (m->err || forward(p, r, m)) {
                        tg_cli_fail(cli, "%s", rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        return -1;
                }
                rd_kafka_message_destroy(m);
                rd_kafka_poll(p, 0);
        }
        return tg_cli_fail(cli, "timed out reading %s", r->t_deferred), -1;
}

static int run(tg_cli_t *cli, release_t *r)
{
        rd_kafka_t *c = client(cli, RD_KAFKA_CONSUMER, r->group);
        rd_kafka_t *p = client(cli, RD_KAFKA_PRODUCER, NULL);
        rd_kafka_topic_partition_list_t *t;
        int rc = TG_EXIT_FAIL;

        if (!c || !p)
                goto err;
        rd_kafka_poll_set_consumer(c);
        t = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(t, r->t_deferred,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(c, t);
        rd_kafka_topic_partition_list_destroy(t);
        if (drain(cli, c, p, r))
                goto err;
        /* Produced before committed: a crash in between moves a request
         * twice, which the ledger's idempotency absorbs; never zero times. */
        if (rd_kafka_flush(p, cli->timeout_ms) || rd_kafka_outq_len(p) > 0) {
                tg_cli_fail(cli, "could not deliver every request");
                goto err;
        }
        rd_kafka_commit(c, NULL, 0);
        printf("released %ld deferred request(s) to %s; %ld left parked\n",
               r->moved, r->t_requests, r->kept);
        rc = TG_EXIT_OK;
err:
        if (c) {
                rd_kafka_consumer_close(c);
                rd_kafka_destroy(c);
        }
        if (p)
                rd_kafka_destroy(p);
        return rc;
}

int tg_cmd_release(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"topic-prefix", required_argument, NULL, OPT_PREFIX},
            {"budget", required_argument, NULL, OPT_BUDGET},
            {"group", required_argument, NULL, OPT_GROUP},
            {NULL, 0, NULL, 0}};
        const char *env = getenv("TOLLGATE_TOPIC_PREFIX");
        release_t r = {.group = "tollgate-release"};
        int first, rc;

        snprintf(r.prefix, sizeof(r.prefix), "%s",
                 env && *env ? env : "tollgate");
        rc = tg_cli_getopt(cli, argc, argv, longopts, TG_CLI_COMMON_SHORTOPTS,
                           on_opt, &r, help, &first);
        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if (first < argc)
                return tg_cli_usage_error(cli, "unexpected argument \"%s\"",
                                          argv[first]);
        if (!cli->brokers || !*cli->brokers)
                return tg_cli_usage_error(cli, "--brokers is required");
        snprintf(r.t_deferred, sizeof(r.t_deferred), "%s.deferred", r.prefix);
        snprintf(r.t_requests, sizeof(r.t_requests), "%s.requests", r.prefix);
        return run(cli, &r);
}
