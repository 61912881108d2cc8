/* The Kafka side of the replay: watermarks, assignment, the read loop. */
#include "replay_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgtime.h"

__attribute__((format(printf, 3, 4))) static int fail(char *errstr, size_t size,
                                                      const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
        return -1;
}

static int conf_set(rd_kafka_conf_t *kc, const char *name, const char *value,
                    char *errstr, size_t size)
{
        char why[256];

        if (rd_kafka_conf_set(kc, name, value, why, sizeof(why)) ==
            RD_KAFKA_CONF_OK)
                return 0;
        return fail(errstr, size, "kafka property %s: %s", name, why);
}

/* -X name=value; "consumer." prefixed names are ours, "producer." not. */
static int conf_props(rd_kafka_conf_t *kc, const tg_replay_conf_t *conf,
                      char *errstr, size_t size)
{
        char name[256];

        for (int i = 0; i < conf->n_props; i++) {
                const char *p = conf->props[i], *eq = strchr(p, '=');
                if (strncmp(p, "producer.", 9) == 0)
                        continue;
                if (strncmp(p, "consumer.", 9) == 0)
                        p += 9;
                snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
                if (conf_set(kc, name, eq + 1, errstr, size))
                        return -1;
        }
        return 0;
}

static rd_kafka_t *consumer_new(const tg_replay_conf_t *conf, char *errstr,
                                size_t size)
{
        /* A group id is needed for assign(), but no group is joined and
         * nothing is committed: the replay leaves no trace on the brokers. */
        static const char *const props[][2] = {
            {"group.id", "tollgate-ledger-replay"},
            {"client.id", "tollgate-ledger"},
            {"enable.auto.commit", "false"},
            {"enable.auto.offset.store", "false"},
            {"isolation.level", "read_committed"},
            {"enable.partition.eof", "true"},
            {"auto.offset.reset", "earliest"},
        };
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_t *rk;
        char why[512];

        if (conf_set(kc, "bootstrap.servers", conf->brokers, errstr, size))
                goto err;
        for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
                if (conf_set(kc, props[i][0], props[i][1], errstr, size))
                        goto err;
        if (tg_kafka_auth_before(kc, conf->auth, errstr, size) ||
            conf_props(kc, conf, errstr, size) ||
            tg_kafka_auth_after(kc, conf->auth, errstr, size))
                goto err;
        rk = tg_kafka_new(RD_KAFKA_CONSUMER, kc, why, sizeof(why));
        if (rk)
                return rk; /* kc is owned by rk now */
        fail(errstr, size, "kafka: %s", why);
err:
        rd_kafka_conf_destroy(kc);
        return NULL;
}

/* The partition count of the topic, or -1. */
static int32_t partition_count(tg_replay_t *r, char *errstr, size_t size)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, r->conf->topic, NULL);
        rd_kafka_resp_err_t err;
        int32_t n = -1;

        if (!rkt)
                return fail(errstr, size, "kafka: bad topic name \"%s\"",
                            r->conf->topic);
        err = rd_kafka_metadata(r->rk, 0, rkt, &md, r->conf->timeout_ms);
        if (err)
                fail(errstr, size, "kafka %s: cannot read metadata: %s",
                     r->conf->brokers, rd_kafka_err2str(err));
        else if (md->topic_cnt != 1 || md->topics[0].err)
                fail(errstr, size, "kafka: topic \"%s\": %s", r->conf->topic,
                     md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                        : "not found");
        else
                n = md->topics[0].partition_cnt;
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return n;
}

static int state_alloc(tg_replay_t *r, int32_t n)
{
        r->nparts = n;
        r->end = calloc((size_t)n + 1, sizeof(*r->end));
        r->next = calloc((size_t)n + 1, sizeof(*r->next));
        r->done = calloc((size_t)n + 1, 1);
        return r->end && r->next && r->done ? 0 : -1;
}

/* Takes each partition's watermarks and assigns those with messages.
 * With read_committed the high watermark is the last stable offset. */
static int assign_all(tg_replay_t *r, char *errstr, size_t size)
{
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(r->nparts);
        rd_kafka_resp_err_t err = 0;
        int64_t lo, hi;

        for (int32_t p = 0; p < r->nparts && !err; p++) {
                err = rd_kafka_query_watermark_offsets(
                    r->rk, r->conf->topic, p, &lo, &hi, r->conf->timeout_ms);
                if (err || hi <= lo) {
                        r->done[p] = 1;
                        continue;
                }
                r->end[p] = hi;
                r->next[p] = lo;
                r->remaining++;
                rd_kafka_topic_partition_list_add(l, r->conf->topic, p)
                    ->offset = lo;
        }
        if (err)
                fail(errstr, size, "kafka: watermarks of %s: %s",
                     r->conf->topic, rd_kafka_err2str(err));
        else if (r->remaining && (err = rd_kafka_assign(r->rk, l)) !=
                                     RD_KAFKA_RESP_ERR_NO_ERROR)
                fail(errstr, size, "kafka: assign: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(l);
        return err ? -1 : 0;
}

static void mark_done(tg_replay_t *r, int32_t p)
{
        if (!r->done[p]) {
                r->done[p] = 1;
                r->remaining--;
        }
}

/* Returns 1 on progress, 0 when nothing moved, -1 to stop. */
static int on_message(tg_replay_t *r, const rd_kafka_message_t *m, char *errstr,
                      size_t size)
{
        int32_t p = m->partition;

        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (p >= 0 && p < r->nparts && m->offset >= r->end[p])
                        mark_done(r, p);
                return 1;
        }
        if (m->err) {
                snprintf(r->last_error, sizeof(r->last_error), "%s",
                         rd_kafka_message_errstr(m));
                if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                    m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
                        return fail(errstr, size, "kafka: %s", r->last_error);
                return 0; /* transient: librdkafka retries */
        }
        if (p < 0 || p >= r->nparts || r->done[p] || m->offset >= r->end[p]) {
                if (p >= 0 && p < r->nparts)
                        mark_done(r, p);
                return 1;
        }
        r->next[p] = m->offset + 1;
        if (m->offset >= r->end[p] - 1)
                mark_done(r, p);
        return tg_replay_msg(r, m, errstr, size) ? -1 : 1;
}

static int timed_out(tg_replay_t *r, char *errstr, size_t size)
{
        int32_t p = 0;

        while (p < r->nparts && r->done[p])
                p++;
        return fail(errstr, size,
                    "kafka: no progress for %d s on %s partition %d (at "
                    "offset %lld of %lld)%s%s",
                    r->conf->timeout_ms / 1000, r->conf->topic, (int)p,
                    (long long)r->next[p], (long long)r->end[p],
                    r->last_error[0] ? "; last error: " : "", r->last_error);
}

static int read_all(tg_replay_t *r, char *errstr, size_t size)
{
        int64_t last = tg_mono_ms();

        while (r->remaining > 0) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 200);
                int rc = 0;
                if (m) {
                        rc = on_message(r, m, errstr, size);
                        rd_kafka_message_destroy(m);
                }
                if (rc < 0)
                        return -1;
                if (rc > 0)
                        last = tg_mono_ms();
                else if (tg_mono_ms() - last > r->conf->timeout_ms)
                        return timed_out(r, errstr, size);
        }
        return 0;
}

static void free_seen(void *v)
{
        free(v);
}

int tg_replay_run(const tg_replay_conf_t *conf, tg_replay_event_cb *on_event,
                  tg_replay_issue_cb *on_issue, void *opaque,
                  tg_replay_stats_t *stats, char *errstr, size_t errstr_size)
{
        tg_replay_t r = {.conf = conf,
                         .on_event = on_event,
                         .on_issue = on_issue,
                         .opaque = opaque,
                         .stats = stats};
        int32_t n;
        int rc = -1;

        memset(stats, 0, sizeof(*stats));
        tg_strmap_init(&r.seen);
        if (!conf->brokers || !*conf->brokers)
                return fail(errstr, errstr_size,
                            "no Kafka brokers: pass --brokers or set "
                            "TOLLGATE_BROKERS");
        if (!(r.rk = consumer_new(conf, errstr, errstr_size)))
                return -1;
        if ((n = partition_count(&r, errstr, errstr_size)) < 0)
                goto err;
        if (state_alloc(&r, n)) {
                fail(errstr, errstr_size, "out of memory");
                goto err;
        }
        stats->partitions = n;
        if (assign_all(&r, errstr, errstr_size) ||
            read_all(&r, errstr, errstr_size))
                goto err;
        rc = 0;
err:
        rd_kafka_consumer_close(r.rk);
        rd_kafka_destroy(r.rk);
        tg_strmap_free(&r.seen, free_seen);
        free(r.end);
        free(r.next);
        free(r.done);
        return rc;
}
