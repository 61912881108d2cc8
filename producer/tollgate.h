/*
 * libtollgate: submit requests to tollgate from code, and collect their
 * completions. tollgate-submit is built on it.
 *
 *   tg_client_conf_t conf;
 *   tg_client_conf_init(&conf);
 *   conf.brokers = "127.0.0.1:9092";
 *   conf.on_delivery = my_cb;
 *   tg_client_t *cl = tg_client_new(&conf, err, sizeof(err));
 *   tg_client_submit(cl, json, len, NULL, id, NULL, err, sizeof(err));
 *   tg_client_flush(cl, 30000);
 *   tg_client_destroy(cl);
 *
 * Threading: a client or a collector is used from one thread at a time;
 * callbacks run inside tg_client_poll/flush/submit on that thread.
 * Errors are reported in errstr buffers the caller provides.
 */
#ifndef TOLLGATE_H
#define TOLLGATE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"
#include "request.h"

/* Room for a requestId and its NUL. */
#define TG_ID_SIZE (TG_REQUEST_ID_MAX + 1)

/* ---- preparing a request (no Kafka) ----------------------------------- */

/* One request as it is produced: the input bytes with requestId and
 * timestamp filled in when they were absent. */
typedef struct tg_prepared {
        const char *json; /* the bytes to produce: points into the input
                           * when nothing was filled, else into buf */
        size_t len;
        char *buf; /* owned, NULL when json is the input */
        char request_id[TG_ID_SIZE];
        unsigned filled_id : 1;
        unsigned filled_timestamp : 1;
} tg_prepared_t;

/* Validates one request with tg_request_parse (the worker's rules) and,
 * when `catalog` is given, checks that the model resolves. When requestId
 * is absent it uses `default_id` (NULL or not a valid requestId: a fresh
 * UUID); when timestamp is
 * absent, now (RFC 3339 UTC). The two fields are spliced in after the
 * opening brace, so every other byte of the input is produced as it came:
 * numbers, escapes and key order are the submitter's, not jansson's.
 *
 * `max_size` caps the produced size (0 = TG_REQUEST_SIZE_DEFAULT).
 * Returns TG_PARSE_OK with `out` filled (release it with
 * tg_prepared_release), or TG_PARSE_NOT_JSON / TG_PARSE_INVALID with the
 * user-facing reason in errstr and nothing to release. */
tg_parse_result_t tg_submit_prepare(const char *json, size_t len,
                                    const char *default_id, size_t max_size,
                                    const tg_catalog_t *catalog,
                                    tg_prepared_t *out, char *errstr,
                                    size_t errstr_size);

void tg_prepared_release(tg_prepared_t *p);

/* ---- JSONL input with a line-length cap -------------------------------- */

typedef struct tg_lines tg_lines_t;

typedef struct tg_line {
        const char *data; /* valid until the next call; NULL when over */
        size_t len;       /* bytes without "\n" or "\r\n" */
        int64_t lineno;   /* 1-based */
        int over;         /* 1: longer than max_line; len is its length,
                           * counted while skipping, never buffered */
} tg_line_t;

/* Reads lines from fd (not owned, not closed) holding at most about
 * max_line + 64 KiB in memory whatever the input. Returns NULL on ENOMEM. */
tg_lines_t *tg_lines_new(int fd, size_t max_line);

/* Returns 1 with a line, 0 at end of input, -1 on a read error (errno set;
 * EINTR is returned to the caller so a signal can stop the reading). */
int tg_lines_next(tg_lines_t *r, tg_line_t *line);

/* Bytes consumed from fd so far (for progress against a file size). */
uint64_t tg_lines_offset(const tg_lines_t *r);

void tg_lines_destroy(tg_lines_t *r);

/* ---- the client: producing requests ------------------------------------ */

typedef struct tg_client tg_client_t;

/* Called once per submitted request, from tg_client_poll/flush (or submit
 * while it waits for queue room). error is NULL when the broker acked the
 * request (acks=all); else it says why it was not delivered. msg_opaque is
 * what was passed to tg_client_submit. */
typedef void(tg_delivery_cb)(const char *request_id, const char *error,
                             void *msg_opaque, void *opaque);

typedef struct tg_client_conf {
        const char *brokers;      /* bootstrap.servers */
        const char *topic_prefix; /* "tollgate" */
        const char *topic;        /* requests topic; NULL: PREFIX.requests */
        const char *completions_topic; /* NULL: PREFIX.completions */
        size_t max_request_bytes;      /* 0: TG_REQUEST_SIZE_DEFAULT */
        const tg_catalog_t *catalog;   /* borrowed; NULL: models unchecked */
        const tg_kv_t *props;          /* borrowed librdkafka properties (-X); a
                                        * "producer." or "consumer." prefix applies
                                        * one to that client only */
        size_t n_props;
        const char *client_id; /* "tollgate-submit" */
        tg_delivery_cb *on_delivery;
        void *opaque;
        /* Kafka authentication (common/kafka_auth.h): NULL or "none", or
         * "aws-msk-iam" with the cluster's region and a token lifetime in
         * seconds (0: 900). Borrowed. */
        const char *kafka_auth;
        const char *region;
        long msk_token_lifetime_s;
} tg_client_conf_t;

/* Defaults: local broker, prefix "tollgate", everything else empty. */
void tg_client_conf_init(tg_client_conf_t *conf);

/* Points conf at a loaded tg_config_t (brokers, topic prefix, request size
 * limit, -X properties). conf borrows c's strings: keep c alive. */
void tg_client_conf_from_config(tg_client_conf_t *conf, const tg_config_t *c);

/* An idempotent producer (enable.idempotence=true, acks=all). conf is read
 * during the call only, except catalog and opaque, which stay borrowed.
 * Returns NULL with errstr on a bad property. Does not contact the brokers:
 * see tg_client_check. */
tg_client_t *tg_client_new(const tg_client_conf_t *conf, char *errstr,
                           size_t errstr_size);

/* Asks the brokers for the requests topic's metadata: 0 when it exists,
 * -1 with errstr when the brokers are unreachable within timeout_ms or the
 * topic is missing. Optional, so that a typo fails in seconds, not after
 * message.timeout.ms. */
int tg_client_check(tg_client_t *cl, int timeout_ms, char *errstr,
                    size_t errstr_size);

typedef enum tg_submit_result {
        TG_SUBMIT_ERROR = -1,  /* not produced, and the client cannot produce
                                * now (queue full for 30 s, fatal error) */
        TG_SUBMIT_OK = 0,      /* produced; on_delivery will tell */
        TG_SUBMIT_INVALID = 1, /* not produced: this request breaks a rule
                                * (errstr says which); others may go on */
} tg_submit_result_t;

/* Prepares (tg_submit_prepare) and produces one request keyed by its
 * requestId, which is copied to request_id_out (TG_ID_SIZE bytes, may be
 * NULL). default_id as for tg_submit_prepare. When the local queue is full
 * it serves delivery reports until there is room (up to about 30 s). */
tg_submit_result_t tg_client_submit(tg_client_t *cl, const char *json,
                                    size_t len, const char *default_id,
                                    char *request_id_out, void *msg_opaque,
                                    char *errstr, size_t errstr_size);

/* Produces an already prepared request. */
tg_submit_result_t tg_client_produce(tg_client_t *cl, const tg_prepared_t *p,
                                     void *msg_opaque, char *errstr,
                                     size_t errstr_size);

/* Serves delivery reports, waiting up to timeout_ms for the first. Returns
 * how many were served. */
int tg_client_poll(tg_client_t *cl, int timeout_ms);

/* Waits until every submitted request has its delivery report. Returns 0,
 * or -1 when timeout_ms passed first (the rest stay queued). */
int tg_client_flush(tg_client_t *cl, int timeout_ms);

/* Requests submitted whose delivery report has not been served yet, and
 * their bytes (for flow control). */
size_t tg_client_inflight(const tg_client_t *cl, size_t *bytes);

/* The last error librdkafka reported (e.g. "1/1 brokers are down"), or an
 * empty string; returns 1 when it was fatal (the producer is unusable). */
int tg_client_last_error(const tg_client_t *cl, char *errstr,
                         size_t errstr_size);

/* Destroys the client without waiting: call tg_client_flush first. What is
 * still queued is dropped and reported to on_delivery as not delivered. */
void tg_client_destroy(tg_client_t *cl);

/* ---- the collector: completions of known requestIds -------------------- */

typedef struct tg_collector tg_collector_t;

/* Reads the completions topic from the beginning of every partition, with
 * isolation.level=read_committed and no consumer group (nothing is
 * committed, nothing joins), and keeps the completion of each requestId it
 * is asked for: the last one seen, since a worker re-publishes an identical
 * completion for a duplicate. Others are skipped. ids (n of them, may be 0)
 * are copied. Returns NULL with errstr when the topic has no partitions or
 * the brokers cannot be reached within about 10 s. */
tg_collector_t *tg_collector_new(const tg_client_conf_t *conf,
                                 const char *const *ids, size_t n, char *errstr,
                                 size_t errstr_size);

/* Adds a requestId to look for (duplicates are one). Completions that were
 * read before it was added are not looked at again: add an id before the
 * request is submitted, or rely on the worker re-publishing it. */
int tg_collector_add(tg_collector_t *co, const char *id);

/* Reads what has arrived, waiting up to timeout_ms. Returns how many wanted
 * completions were read (an id seen twice counts twice), or -1 with errstr
 * on an error that ends collecting (e.g. the topic is gone). */
int tg_collector_poll(tg_collector_t *co, int timeout_ms, char *errstr,
                      size_t errstr_size);

/* Distinct ids asked for, and how many of them have a completion. */
size_t tg_collector_wanted(const tg_collector_t *co);
size_t tg_collector_found(const tg_collector_t *co);

/* 1 when every id asked for has a completion. */
int tg_collector_done(const tg_collector_t *co);

/* 1 once every partition was read up to its end (as of some moment after
 * tg_collector_new): everything published before that moment was seen. */
int tg_collector_caught_up(const tg_collector_t *co);

/* The completion JSON of id (len bytes, NUL-terminated), or NULL when none
 * was read or id was not asked for. Owned by the collector, valid until the
 * next tg_collector_poll or tg_collector_destroy. */
const char *tg_collector_get(const tg_collector_t *co, const char *id,
                             size_t *len);

void tg_collector_destroy(tg_collector_t *co);

#endif
