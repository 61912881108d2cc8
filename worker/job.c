/*
 * A job's start (parse, resolve) and end (all events delivered -> offset
 * released -> freed), and the outbox's ops; its states in between are
 * job_state.c's.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/bedrock_auth.h"
#include "log.h"
#include "tgtime.h"
#include "worker.h"

void tg_job_list_push(tg_job_list_t *l, tg_job_t *j)
{
        j->wait_next = NULL;
        if (l->tail)
                l->tail->wait_next = j;
        else
                l->head = j;
        l->tail = j;
        l->len++;
}

tg_job_t *tg_job_list_pop(tg_job_list_t *l)
{
        tg_job_t *j = l->head;

        if (!j)
                return NULL;
        l->head = j->wait_next;
        if (!l->head)
                l->tail = NULL;
        l->len--;
        j->wait_next = NULL;
        return j;
}

static void all_add(tg_worker_t *w, tg_job_t *j)
{
        j->all_next = w->jobs;
        if (w->jobs)
                w->jobs->all_prev = j;
        w->jobs = j;
}

static void all_remove(tg_worker_t *w, tg_job_t *j)
{
        if (j->all_prev)
                j->all_prev->all_next = j->all_next;
        else
                w->jobs = j->all_next;
        if (j->all_next)
                j->all_next->all_prev = j->all_prev;
}

/* The id every event of this message carries: the request's own, else the
 * Kafka key when it is a valid id, else one derived from where the message
 * sits, so a redelivery gets the same id. */
static void pick_request_id(tg_job_t *j)
{
        rd_kafka_message_t *m = j->msg;

        if (j->req.request_id[0]) {
                snprintf(j->request_id, sizeof(j->request_id), "%s",
                         j->req.request_id);
        } else if (m->key && tg_request_id_valid(m->key, m->key_len)) {
                snprintf(j->request_id, sizeof(j->request_id), "%.*s",
                         (int)m->key_len, (const char *)m->key);
        } else {
                /* The topic is hashed so the id stays within 128 chars. */
                uint64_t h = 14695981039346656037ULL;
                for (const char *t = rd_kafka_topic_name(m->rkt); *t; t++)
                        h = (h ^ (unsigned char)*t) * 1099511628211ULL;
                snprintf(j->request_id, sizeof(j->request_id),
                         "kafka-%016llx-%d-%lld", (unsigned long long)h,
                         (int)m->partition, (long long)m->offset);
        }
}

static void pick_timestamp(tg_job_t *j)
{
        rd_kafka_timestamp_type_t tt;
        int64_t ms = rd_kafka_message_timestamp(j->msg, &tt);

        if (j->req.timestamp[0])
                snprintf(j->timestamp, sizeof(j->timestamp), "%s",
                         j->req.timestamp);
        else
                tg_time_format_us((ms > 0 ? ms : tg_time_now_us() / 1000) *
                                      1000,
                                  j->timestamp, sizeof(j->timestamp));
}

static void invalid(tg_job_t *j, const char *why)
{
        snprintf(j->reason, sizeof(j->reason), "invalid: %s", why);
        tg_job_end(j, TG_END_INVALID, j->reason);
}

static void track(tg_worker_t *w, tg_job_t *j)
{
        tg_outbox_track(w->outbox, &j->ob, j->partition, j->offset);
}

static void start_valid(tg_job_t *j)
{
        char err[512];

        if (tg_catalog_resolve(j->w->catalog, j->req.model, &j->req, &j->res,
                               err, sizeof(err)))
                return invalid(j, err);
        if (tg_request_check_model(&j->req, j->res.model, err, sizeof(err)))
                return invalid(j, err);
        tg_tier_pick_init(&j->tier, &j->req);
        if (tg_cost_bound_tier(j->res.model, j->tier.tier, &j->req, &j->bound))
                return invalid(j, "request too large to price");
        tg_job_admit(j);
}

void tg_job_start(tg_worker_t *w, rd_kafka_message_t *msg)
{
        tg_job_t *j;
        char err[512];
        tg_parse_result_t r;

        if (msg->err) {
                if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        tg_log(TG_LOG_WARN, "consume: %s",
                               rd_kafka_message_errstr(msg));
                rd_kafka_message_destroy(msg);
                return;
        }
        /* After a fatal error nothing starts (the rest of a batch): the
         * restart reads these again. */
        j = w->fatal ? NULL : calloc(1, sizeof(*j));
        if (!j) {
                rd_kafka_message_destroy(msg);
                /* Untracked, its offset would be committed past once later
                 * ones finish: stop instead, it is read again. */
                if (!w->fatal)
                        tg_worker_fatal(w, "out of memory for a request");
                return;
        }
        j->w = w;
        j->msg = msg;
        j->partition = msg->partition;
        j->offset = msg->offset;
        j->t0_us = tg_mono_us();
        tg_job_state_begin(j);
        all_add(w, j);
        w->inflight++;
        track(w, j);
        tg_metrics_inflight(w->metrics, (int64_t)w->inflight);
        r = tg_request_parse(&j->req, msg->payload, msg->len,
                             (size_t)w->conf->max_request_bytes, err,
                             sizeof(err));
        if (r == TG_PARSE_NOT_JSON)
                return tg_job_dlq(j, err);
        j->parsed = 1;
        pick_request_id(j);
        pick_timestamp(j);
        if (r == TG_PARSE_INVALID)
                return invalid(j, err);
        start_valid(j);
}

static void free_job(uv_handle_t *h)
{
        free(h->data);
}

void tg_job_free(tg_job_t *j)
{
        tg_worker_t *w = j->w;

        tg_job_state_done(j);
        all_remove(w, j);
        w->inflight--;
        tg_metrics_inflight(w->metrics, (int64_t)w->inflight);
        if (j->msg)
                rd_kafka_message_destroy(j->msg);
        tg_request_destroy(&j->req);
        free(j->budgets);
        free(j->stored_completion);
        free(j->stored_usage);
        free(j->stored_alerts);
        free(j->completion_built);
        free(j->usage_built);
        free(j->body);
        tg_dynbuf_free(&j->resp);
        tg_bedrock_auth_free(j->headers);
        if (j->hdrs)
                rd_kafka_headers_destroy(j->hdrs);
        if (j->easy) {
                curl_multi_remove_handle(w->multi, j->easy);
                tg_http_easy_put(w, j->easy);
        }
        if (j->has_out)
                tg_converse_result_free(&j->out);
        if (j->timer_open)
                uv_close((uv_handle_t *)&j->timer, free_job);
        else
                free(j);
        tg_worker_flow(w);
}

void tg_job_delivered(void *job)
{
        tg_job_t *j = job;

        if (--j->deliveries > 0)
                return;
        tg_outbox_delivered(j->w->outbox, &j->ob); /* frees it */
}

/* The outbox's ops (outbox.h): the jobs behind its entries. */
#define JOB_OF(e) ((tg_job_t *)((char *)(e)-offsetof(tg_job_t, ob)))

static int ob_emit(tg_outbox_entry_t *e, void *opaque)
{
        return tg_job_emit(JOB_OF(e));
}

static void ob_drop(tg_outbox_entry_t *e, void *opaque)
{
        tg_job_free(JOB_OF(e));
}

static void ob_release(int32_t p, int64_t offset, void *opaque)
{
        tg_worker_t *w = opaque;

        if (w->txn)
                tg_txn_offset(w, p, offset);
        else
                tg_consumer_store(w, p, offset);
}

/* Refused outright (not a delivery failure). In a transaction: abort and
 * read again (or stop if that fails); without: stop before losing more,
 * the offset stays uncommitted. */
static void ob_refused(int32_t p, const char *why, void *opaque)
{
        tg_worker_t *w = opaque;

        if (w->txn)
                tg_txn_abort(w, why);
        else
                tg_worker_fatal(w, "partition %d: %s", (int)p, why);
}

tg_outbox_t *tg_jobs_outbox_new(tg_worker_t *w)
{
        static const tg_outbox_ops_t ops = {ob_emit, ob_drop, ob_release,
                                            ob_refused};

        return tg_outbox_new(w->txn, &ops, w);
}
