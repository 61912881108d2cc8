/*
 * tollgate-topics: create (or delete) tollgate's Kafka topics with
 * librdkafka's Admin API.
 *
 * Creation is idempotent: a topic that already exists counts as success.
 * After creating, the tool waits until the broker's metadata shows every
 * topic with a leader for each partition, so a producer started right after
 * does not race the topic's creation. With --delete it deletes the topics
 * and waits until they are gone (a missing topic counts as deleted).
 *
 * Exit status: 0 on success, 1 on a Kafka error or timeout, 2 on bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafka_auth.h"

#define TG_MAX_TOPICS      64
#define TG_TOPIC_NAME_MAX  250
#define TG_DEFAULT_BROKERS "127.0.0.1:19092"

/* The default topic set, as suffixes of the prefix ("tollgate.requests"). */
static const char *tg_default_topics[] = {
    "requests", "completions", "usage", "alerts", "dlq", "deferred",
};
#define TG_DEFAULT_TOPIC_CNT                                                   \
        (sizeof(tg_default_topics) / sizeof(tg_default_topics[0]))

struct tg_opts {
        const char *brokers;
        const char *prefix;
        int partitions;
        int replication;
        int timeout_ms;
        int delete;
        const char *topics[TG_MAX_TOPICS]; /* --topic arguments, as given */
        size_t topic_cnt;
        char names[TG_MAX_TOPICS][TG_TOPIC_NAME_MAX + 1]; /* resolved */
        size_t name_cnt;
        const char *props[TG_MAX_TOPICS]; /* -X, applied after parsing */
        size_t prop_cnt;
        tg_kafka_auth_t auth; /* --kafka-auth etc. (common/kafka_auth.h) */
};

enum { OPT_KAFKA_AUTH = 1000, OPT_REGION, OPT_MSK_LIFETIME };

static void tg_usage(FILE *fp)
{
        fprintf(
            fp,
            "Usage: tollgate-topics [OPTIONS]\n"
            "\n"
            "Create tollgate's Kafka topics (idempotent): PREFIX.requests,"
            " PREFIX.completions\n"
            "(cleanup.policy=compact,delete), PREFIX.usage (retention.ms=-1),"
            " PREFIX.alerts,"
            " PREFIX.dlq,\n"
            "PREFIX.deferred.\n"
            "\n"
            "Options:\n"
            "  -b, --brokers B       bootstrap servers (env "
            "TOLLGATE_BROKERS, default " TG_DEFAULT_BROKERS ")\n"
            "  -p, --partitions N    partitions per topic (default 4)\n"
            "  -r, --replication R   replication factor (default 1)\n"
            "  -P, --prefix P        topic name prefix (default "
            "tollgate)\n"
            "  -t, --topic NAME      only this topic (repeatable); a "
            "default suffix such as\n"
            "                        'requests' means PREFIX.requests, "
            "any other name is used as is\n"
            "  -d, --delete          delete the topics instead "
            "(missing topics are fine)\n"
            "  -T, --timeout-ms MS   overall timeout (default 30000)\n"
            "  -X PROP=VALUE         set a librdkafka property (e.g. "
            "security.protocol)\n"
            "  --kafka-auth MODE     none or aws-msk-iam (env "
            "TOLLGATE_KAFKA_AUTH)\n"
            "  --region R            MSK's region (env AWS_REGION)\n"
            "  --msk-token-lifetime-s S  aws-msk-iam token lifetime "
            "(default 900)\n"
            "  -h, --help            show this help\n");
}

static int tg_parse_int(const char *s, int min, int max, int *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return -1;
        *out = (int)v;
        return 0;
}

static int tg_set_prop(rd_kafka_conf_t *conf, const char *kv)
{
        char errstr[512], key[256];
        const char *eq = strchr(kv, '=');
        size_t klen;

        if (!eq || eq == kv || (klen = (size_t)(eq - kv)) >= sizeof(key)) {
                fprintf(stderr, "tollgate-topics: -X expects PROP=VALUE\n");
                return -1;
        }
        memcpy(key, kv, klen);
        key[klen] = '\0';
        if (rd_kafka_conf_set(conf, key, eq + 1, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "tollgate-topics: %s\n", errstr);
                return -1;
        }
        return 0;
}

/* --kafka-auth around the -X properties (common/kafka_auth.h). */
static int tg_apply_props(struct tg_opts *o, rd_kafka_conf_t *conf)
{
        char errstr[512];
        size_t i;

        if (tg_kafka_auth_before(conf, &o->auth, errstr, sizeof(errstr)))
                goto err;
        for (i = 0; i < o->prop_cnt; i++)
                if (tg_set_prop(conf, o->props[i]))
                        return -1;
        if (tg_kafka_auth_after(conf, &o->auth, errstr, sizeof(errstr)))
                goto err;
        return 0;
err:
        fprintf(stderr, "tollgate-topics: %s\n", errstr);
        return -1;
}

static int tg_parse_opt(struct tg_opts *o, rd_kafka_conf_t *conf, int c)
{
        switch (c) {
        case 'b':
                o->brokers = optarg;
                return 0;
        case 'p':
                return tg_parse_int(optarg, 1, 100000, &o->partitions);
        case 'r':
                return tg_parse_int(optarg, 1, 100, &o->replication);
        case 'P':
                o->prefix = optarg;
                return 0;
        case 'T':
                return tg_parse_int(optarg, 100, 3600000, &o->timeout_ms);
        case 'd':
                o->delete = 1;
                return 0;
        case 'X':
                if (o->prop_cnt == TG_MAX_TOPICS)
                        return -1;
                o->props[o->prop_cnt++] = optarg;
                return 0;
        case OPT_KAFKA_AUTH:
                o->auth.mode = optarg;
                return tg_kafka_auth_on(&o->auth, NULL, 0) < 0 ? -1 : 0;
        case OPT_REGION:
                o->auth.region = optarg;
                return 0;
        case OPT_MSK_LIFETIME:
                return tg_kafka_auth_lifetime(optarg, &o->auth.lifetime_s, NULL,
                                              0);
        case 't':
                if (o->topic_cnt == TG_MAX_TOPICS)
                        return -1;
                o->topics[o->topic_cnt++] = optarg;
                return 0;
        }
        return -1;
}

/* Returns 0 to go on, 1 after --help, -1 on a usage error. */
static int tg_parse_args(struct tg_opts *o, rd_kafka_conf_t *conf, int argc,
                         char **argv)
{
        static const struct option longopts[] = {
            {"brokers", required_argument, NULL, 'b'},
            {"partitions", required_argument, NULL, 'p'},
            {"replication", required_argument, NULL, 'r'},
            {"prefix", required_argument, NULL, 'P'},
            {"topic", required_argument, NULL, 't'},
            {"delete", no_argument, NULL, 'd'},
            {"timeout-ms", required_argument, NULL, 'T'},
            {"help", no_argument, NULL, 'h'},
            {"kafka-auth", required_argument, NULL, OPT_KAFKA_AUTH},
            {"region", required_argument, NULL, OPT_REGION},
            {"msk-token-lifetime-s", required_argument, NULL, OPT_MSK_LIFETIME},
            {NULL, 0, NULL, 0},
        };
        int c;

        while ((c = getopt_long(argc, argv, "b:p:r:P:t:dT:X:h", longopts,
                                NULL)) != -1) {
                if (c == 'h')
                        return 1;
                if (c == '?' || tg_parse_opt(o, conf, c) == -1) {
                        if (c != '?')
                                fprintf(stderr,
                                        "tollgate-topics: bad value for "
                                        "%s: %s\n",
                                        argv[optind - 1], optarg);
                        return -1;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "tollgate-topics: unexpected argument: %s\n",
                        argv[optind]);
                return -1;
        }
        return 0;
}

static int tg_is_default_suffix(const char *name)
{
        size_t i;

        for (i = 0; i < TG_DEFAULT_TOPIC_CNT; i++)
                if (!strcmp(name, tg_default_topics[i]))
                        return 1;
        return 0;
}

static int tg_add_name(struct tg_opts *o, const char *prefix, const char *name)
{
        int n;

        if (prefix && *prefix)
                n = snprintf(o->names[o->name_cnt], TG_TOPIC_NAME_MAX + 1,
                             "%s.%s", prefix, name);
        else
                n = snprintf(o->names[o->name_cnt], TG_TOPIC_NAME_MAX + 1, "%s",
                             name);
        if (n <= 0 || n > TG_TOPIC_NAME_MAX) {
                fprintf(stderr, "tollgate-topics: topic name too long: %s\n",
                        name);
                return -1;
        }
        o->name_cnt++;
        return 0;
}

/* Turns the prefix and --topic arguments into full topic names. */
static int tg_resolve_names(struct tg_opts *o)
{
        size_t i;

        if (!o->topic_cnt) {
                for (i = 0; i < TG_DEFAULT_TOPIC_CNT; i++)
                        if (tg_add_name(o, o->prefix, tg_default_topics[i]))
                                return -1;
                return 0;
        }
        for (i = 0; i < o->topic_cnt; i++) {
                const char *t = o->topics[i];
                const char *p = tg_is_default_suffix(t) ? o->prefix : NULL;

                if (!*t || tg_add_name(o, p, t))
                        return -1;
        }
        return 0;
}

static int tg_has_suffix(const char *name, const char *suffix)
{
        const char *dot = strrchr(name, '.');

        return !strcmp(dot ? dot : name, suffix);
}

static int tg_is_compacted(const char *name)
{
        return tg_has_suffix(name, ".completions");
}

static rd_kafka_t *tg_client_new(rd_kafka_conf_t *conf, const char *brokers)
{
        char errstr[512];
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "tollgate-topics: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rk = tg_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "tollgate-topics: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

static rd_kafka_AdminOptions_t *
tg_admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms)
{
        char errstr[512];
        rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, op);

        if (rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, errstr,
                                                      sizeof(errstr)) ||
            rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, errstr,
                                                        sizeof(errstr))) {
                fprintf(stderr, "tollgate-topics: %s\n", errstr);
                rd_kafka_AdminOptions_destroy(ao);
                return NULL;
        }
        return ao;
}

/* Waits for the admin result event; NULL (with a message) on timeout. */
static rd_kafka_event_t *tg_wait_event(rd_kafka_queue_t *q, int timeout_ms)
{
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 5000);

        if (!ev) {
                fprintf(stderr, "tollgate-topics: no answer from the broker "
                                "within the timeout\n");
                return NULL;
        }
        if (rd_kafka_event_error(ev)) {
                fprintf(stderr, "tollgate-topics: %s\n",
                        rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return NULL;
        }
        return ev;
}

/* Prints one line per topic result; returns the number of real errors. */
static int tg_report(const rd_kafka_topic_result_t **res, size_t cnt,
                     int delete, int partitions)
{
        int errors = 0;
        size_t i;

        for (i = 0; i < cnt; i++) {
                const char *name = rd_kafka_topic_result_name(res[i]);
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);

                if (!err && delete)
                        printf("deleted %s\n", name);
                else if (!err)
                        printf("created %s (%d partitions)\n", name,
                               partitions);
                else if (!delete &&err ==
                         RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        printf("exists  %s\n", name);
                else if (delete &&err ==
                         RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                        printf("absent  %s\n", name);
                else {
                        printf("error   %s: %s\n", name,
                               rd_kafka_topic_result_error_string(res[i]));
                        errors++;
                }
        }
        return errors;
}

static int tg_create(rd_kafka_t *rk, rd_kafka_queue_t *q,
                     const struct tg_opts *o)
{
        rd_kafka_NewTopic_t *nt[TG_MAX_TOPICS] = {0};
        rd_kafka_AdminOptions_t *ao = NULL;
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_topic_result_t **res;
        char errstr[512];
        size_t i, cnt;
        int r = -1;

        for (i = 0; i < o->name_cnt; i++) {
                nt[i] = rd_kafka_NewTopic_new(o->names[i], o->partitions,
                                              o->replication, errstr,
                                              sizeof(errstr));
                if (!nt[i]) {
                        fprintf(stderr, "tollgate-topics: %s: %s\n",
                                o->names[i], errstr);
                        goto err;
                }
                if (tg_is_compacted(o->names[i]) &&
                    rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy",
                                                 "compact,delete"))
                        goto err;
                /* The usage topic is the ledger's source of truth:
                 * reconcile and rebuild replay it, so keep it all. */
                if (tg_has_suffix(o->names[i], ".usage") &&
                    rd_kafka_NewTopic_set_config(nt[i], "retention.ms", "-1"))
                        goto err;
        }
        ao =
            tg_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, o->timeout_ms);
        if (!ao)
                goto err;
        rd_kafka_CreateTopics(rk, nt, o->name_cnt, ao, q);
        ev = tg_wait_event(q, o->timeout_ms);
        if (!ev)
                goto err;
        res = rd_kafka_CreateTopics_result_topics(
            rd_kafka_event_CreateTopics_result(ev), &cnt);
        r = tg_report(res, cnt, 0, o->partitions) ? -1 : 0;
err:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (ao)
                rd_kafka_AdminOptions_destroy(ao);
        for (i = 0; i < o->name_cnt; i++)
                if (nt[i])
                        rd_kafka_NewTopic_destroy(nt[i]);
        return r;
}

static int tg_delete(rd_kafka_t *rk, rd_kafka_queue_t *q,
                     const struct tg_opts *o)
{
        rd_kafka_DeleteTopic_t *dt[TG_MAX_TOPICS] = {0};
        rd_kafka_AdminOptions_t *ao = NULL;
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_topic_result_t **res;
        size_t i, cnt;
        int r = -1;

        for (i = 0; i < o->name_cnt; i++)
                dt[i] = rd_kafka_DeleteTopic_new(o->names[i]);
        ao =
            tg_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, o->timeout_ms);
        if (!ao)
                goto err;
        rd_kafka_DeleteTopics(rk, dt, o->name_cnt, ao, q);
        ev = tg_wait_event(q, o->timeout_ms);
        if (!ev)
                goto err;
        res = rd_kafka_DeleteTopics_result_topics(
            rd_kafka_event_DeleteTopics_result(ev), &cnt);
        r = tg_report(res, cnt, 1, 0) ? -1 : 0;
err:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (ao)
                rd_kafka_AdminOptions_destroy(ao);
        for (i = 0; i < o->name_cnt; i++)
                rd_kafka_DeleteTopic_destroy(dt[i]);
        return r;
}

/* 1 when the topic is in the metadata with a leader for every partition. */
static int tg_topic_ready(const rd_kafka_metadata_t *md, const char *name)
{
        int i, j;

        for (i = 0; i < md->topic_cnt; i++) {
                const rd_kafka_metadata_topic_t *t = &md->topics[i];

                if (strcmp(t->topic, name))
                        continue;
                if (t->err || t->partition_cnt == 0)
                        return 0;
                for (j = 0; j < t->partition_cnt; j++)
                        if (t->partitions[j].err || t->partitions[j].leader < 0)
                                return 0;
                return 1;
        }
        return 0;
}

/* 1 when every topic is ready (present) or, for delete, absent. */
static int tg_all_settled(rd_kafka_t *rk, const struct tg_opts *o)
{
        const struct rd_kafka_metadata *md;
        size_t i;
        int ok = 1;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 5000))
                return 0;
        for (i = 0; i < o->name_cnt && ok; i++)
                ok = tg_topic_ready(md, o->names[i]) == !o->delete;
        rd_kafka_metadata_destroy(md);
        return ok;
}

static int tg_wait_settled(rd_kafka_t *rk, const struct tg_opts *o)
{
        struct timespec pause = {0, 200 * 1000 * 1000};
        int waited = 0;

        while (!tg_all_settled(rk, o)) {
                if (waited >= o->timeout_ms) {
                        fprintf(stderr,
                                "tollgate-topics: topics not %s in the "
                                "metadata after %d ms\n",
                                o->delete ? "gone" : "ready", waited);
                        return -1;
                }
                nanosleep(&pause, NULL);
                waited += 200;
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct tg_opts o = {.brokers = getenv("TOLLGATE_BROKERS"),
                            .prefix = "tollgate",
                            .partitions = 4,
                            .replication = 1,
                            .timeout_ms = 30000};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_queue_t *q = NULL;
        rd_kafka_t *rk = NULL;
        int r, status = 1;

        tg_kafka_auth_env(&o.auth, NULL, 0); /* a bad lifetime fails below */
        r = tg_parse_args(&o, conf, argc, argv);
        if (r || tg_resolve_names(&o) || tg_apply_props(&o, conf)) {
                if (r == 1)
                        tg_usage(stdout);
                else
                        fprintf(stderr, "Try 'tollgate-topics --help'.\n");
                rd_kafka_conf_destroy(conf);
                return r == 1 ? 0 : 2;
        }
        if (!o.brokers || !*o.brokers)
                o.brokers = TG_DEFAULT_BROKERS;
        rk = tg_client_new(conf, o.brokers); /* takes conf */
        if (!rk)
                goto err;
        q = rd_kafka_queue_new(rk);
        r = o.delete ? tg_delete(rk, q, &o) : tg_create(rk, q, &o);
        if (r || tg_wait_settled(rk, &o))
                goto err;
        status = 0;
err:
        if (q)
                rd_kafka_queue_destroy(q);
        if (rk)
                rd_kafka_destroy(rk);
        return status;
}
