/*
 * The one place every configuration source lands (kcat's lesson): built-in
 * defaults, then a file (--config), then environment variables, then flags.
 * Later sources win. `-X prop=value` passes any librdkafka property through
 * (to both clients, or one with a "consumer."/"producer." prefix).
 *
 * Options are a table (config.c); each has a long flag, an environment
 * variable, and a file key equal to the flag name without dashes.
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TG_CONFIG_X_MAX 128

typedef struct tg_kv {
        char *key;
        char *value;
} tg_kv_t;

typedef struct tg_config {
        char *brokers;
        char *group;
        char *redis;
        char *bedrock_endpoint; /* empty =
                                   https://bedrock-runtime.R.amazonaws.com */
        char *region;
        char *catalog;
        char *topic_prefix; /* topics are <prefix>.requests etc. */
        char *worker_id;
        int worker_id_set;         /* given (flag, env, file), not default */
        int64_t static_membership; /* 1: worker_id is group.instance.id */
        char *log_level;
        char *metrics_labels; /* tag keys used as metric labels, comma list */
        /* Redis over TLS (redis_url.h): "" unset; tg_config_load folds them
         * into `redis` as tls-* query parameters once every source is in. */
        char *redis_tls_ca_file;
        char *redis_tls_ca_dir;
        char *redis_tls_cert;
        char *redis_tls_key;
        char *redis_tls_server_name;
        int64_t redis_tls_insecure;
        char *kafka_auth; /* "none" | "aws-msk-iam" (kafka_auth.h) */
        int64_t max_inflight;
        int64_t admit_window; /* admissions awaiting Redis, 0 no limit */
        int64_t ledger_batch; /* requests per admit/finish call, 1-1024 */
        int64_t max_attempts;
        int64_t backoff_base_ms;
        int64_t backoff_cap_ms;
        int64_t connect_timeout_ms;
        int64_t request_timeout_ms;
        int64_t lease_ms;
        int64_t retention_s;
        int64_t max_request_bytes;
        int64_t drain_timeout_ms;
        int64_t metrics_port; /* 0 = off */
        int64_t log_decisions;
        int64_t model_concurrency; /* initial per-model limit (adaptive) */
        int64_t model_rate_min;    /* calls/s floor of the adaptive rate */
        int64_t throttle_retry_ms; /* throttled calls retry for this long */
        int64_t transactions;      /* 1: exactly-once outputs */
        int64_t txn_interval_ms;
        int64_t msk_token_lifetime_s; /* MSK IAM token lifetime */
        tg_kv_t x[TG_CONFIG_X_MAX];   /* -X pass-through, in order */
        size_t n_x;
} tg_config_t;

/* Which options a binary takes: a bit per group, so tollgate-submit does not
 * advertise --max-inflight. */
#define TG_OPT_KAFKA  0x1
#define TG_OPT_WORKER 0x2
#define TG_OPT_REDIS  0x4

/* Fills defaults. Strings are owned by the config. */
void tg_config_init(tg_config_t *c);
void tg_config_destroy(tg_config_t *c);

/* Applies the file, then the environment, then argv. Recognised options are
 * removed from argv (argc updated); positional and unknown arguments stay,
 * in order, for the binary to handle. With TG_OPT_REDIS, the redis-tls-*
 * options are then folded into c->redis (refused when this build has no
 * Redis TLS). Returns 0, 1 when --help or
 * --print-config was handled (caller exits 0), or -1 with errstr. */
int tg_config_load(tg_config_t *c, unsigned groups, int *argc, char **argv,
                   char *errstr, size_t errstr_size);

/* Sets one option by its file key ("max-inflight") or a librdkafka property
 * ("kafka.security.protocol" or via -X). Returns 0 or -1 with errstr. */
int tg_config_set(tg_config_t *c, const char *key, const char *value,
                  char *errstr, size_t errstr_size);

/* Prints the effective configuration as file lines, secrets masked. */
void tg_config_print(const tg_config_t *c, unsigned groups, FILE *out);

/* Prints the option table for --help. */
void tg_config_usage(unsigned groups, FILE *out);

/* The Kafka authentication part of c (kafka_auth.h); out borrows c's
 * strings. */
struct tg_kafka_auth;
void tg_config_kafka_auth(const tg_config_t *c, struct tg_kafka_auth *out);

/* "<prefix>.<name>" into out. */
void tg_config_topic(const tg_config_t *c, const char *name, char *out,
                     size_t size);

/* 1 when a librdkafka property name holds a secret (password, secret, key
 * material, token): masked by tg_config_print and never logged. */
int tg_config_is_secret(const char *key);

#endif
