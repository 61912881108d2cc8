/* libtollgate's insides, shared by its files only. */
#ifndef TOLLGATE_INT_H
#define TOLLGATE_INT_H

#include <librdkafka/rdkafka.h>

#include "tollgate.h"

/* ---- libtollgate_client.c, libtollgate_submit.c ---- */

/* How long submit serves delivery reports waiting for queue room. */
#define QUEUE_FULL_WAIT_MS 30000

struct tg_client {
        rd_kafka_t *rk;
        char topic[512];
        size_t max_bytes;
        const tg_catalog_t *catalog;
        tg_delivery_cb *on_delivery;
        void *opaque;
        size_t inflight;
        size_t inflight_bytes;
        char last_error[512];
        int fatal;
};

/* ---- libtollgate_conf.c ---- */

/* A librdkafka conf with bootstrap.servers, client.id, then `defaults`
 * (name/value pairs ending with a NULL name), then conf->props: plain names
 * and those prefixed with `who` ("producer" or "consumer"). Returns NULL
 * with errstr. */
rd_kafka_conf_t *tg_kconf_new(const tg_client_conf_t *conf, const char *who,
                              const char *const (*defaults)[2], char *errstr,
                              size_t errstr_size);

/* Sets name=value pairs (a NULL name ends the list). Returns 0 or -1. */
int tg_kconf_set_all(rd_kafka_conf_t *kc, const char *const (*kv)[2],
                     char *errstr, size_t errstr_size);

/* The requests or completions topic name for conf into out. */
void tg_kconf_topic(const tg_client_conf_t *conf, const char *name, char *out,
                    size_t size);

/* ---- libtollgate_idset.c: requestId -> completion, open addressing ---- */

typedef struct tg_idslot {
        char *id;   /* owned; NULL = empty slot */
        char *json; /* owned completion, NUL-terminated; NULL = none yet */
        size_t len;
} tg_idslot_t;

typedef struct tg_idset {
        tg_idslot_t *slots;
        size_t cap; /* a power of two */
        size_t n;   /* ids */
        size_t found;
} tg_idset_t;

int tg_idset_init(tg_idset_t *s, size_t hint);
void tg_idset_free(tg_idset_t *s);
/* Returns 0 (added or already there) or -1 on ENOMEM. */
int tg_idset_add(tg_idset_t *s, const char *id);
tg_idslot_t *tg_idset_find(const tg_idset_t *s, const char *id, size_t len);
/* Replaces the slot's completion with a copy of json. 0 or -1. */
int tg_idset_store(tg_idset_t *s, tg_idslot_t *slot, const void *json,
                   size_t len);

/* ---- libtollgate_collector.c, libtollgate_collect.c ---- */

#define BATCH 512

struct tg_collector {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        rd_kafka_queue_t *q;
        char topic[512];
        int32_t n_parts;
        int32_t started;       /* partitions consume_start'ed */
        unsigned char *at_end; /* per partition: EOF seen once */
        int32_t n_at_end;
        tg_idset_t set;
        char last_error[256];
};

#endif
