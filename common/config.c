#include "config.h"
#include "errfmt.h"
#include "kafka_auth.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TG_CONFIG_LINE_MAX 4096

int tg_config_load_file(tg_config_t *c, const char *path, char *errstr,
                        size_t size);
int tg_config_load_env(tg_config_t *c, unsigned groups, char *errstr,
                       size_t size);

/* OPT_BOOL: an int that is 0 or 1; a bare "--flag" sets it. */
typedef enum opt_type { OPT_STR, OPT_INT, OPT_BOOL } opt_type_t;

typedef struct opt {
        const char *name; /* flag without "--", file key */
        const char *env;
        opt_type_t type;
        size_t offset;
        unsigned group;
        const char *help;
} opt_t;

#define S(f) OPT_STR, offsetof(tg_config_t, f)
#define I(f) OPT_INT, offsetof(tg_config_t, f)
#define B(f) OPT_BOOL, offsetof(tg_config_t, f)

static const opt_t opts[] = {
    {"brokers", "TOLLGATE_BROKERS", S(brokers), TG_OPT_KAFKA,
     "Kafka bootstrap servers"},
    {"topic-prefix", "TOLLGATE_TOPIC_PREFIX", S(topic_prefix), TG_OPT_KAFKA,
     "topics are PREFIX.requests, PREFIX.completions, ..."},
    {"group", "TOLLGATE_GROUP", S(group), TG_OPT_WORKER, "consumer group id"},
    {"redis", "TOLLGATE_REDIS", S(redis), TG_OPT_REDIS,
     "redis[s]://[[user]:password@]host:port[/db] or unix:///path"},
    {"redis-tls-ca-file", "TOLLGATE_REDIS_TLS_CA_FILE", S(redis_tls_ca_file),
     TG_OPT_REDIS, "rediss://: CA bundle (PEM; default the system store)"},
    {"redis-tls-ca-dir", "TOLLGATE_REDIS_TLS_CA_DIR", S(redis_tls_ca_dir),
     TG_OPT_REDIS, "rediss://: CA directory (c_rehash/openssl rehash)"},
    {"redis-tls-cert", "TOLLGATE_REDIS_TLS_CERT", S(redis_tls_cert),
     TG_OPT_REDIS, "rediss://: client certificate chain (PEM), mutual TLS"},
    {"redis-tls-key", "TOLLGATE_REDIS_TLS_KEY", S(redis_tls_key), TG_OPT_REDIS,
     "rediss://: the client certificate's private key (PEM)"},
    {"redis-tls-server-name", "TOLLGATE_REDIS_TLS_SERVER_NAME",
     S(redis_tls_server_name), TG_OPT_REDIS,
     "rediss://: name to verify and send as SNI (default the URL's host)"},
    {"redis-tls-insecure", "TOLLGATE_REDIS_TLS_INSECURE", B(redis_tls_insecure),
     TG_OPT_REDIS, "rediss://: 1 = do NOT verify the server (warned)"},
    {"bedrock-endpoint", "TOLLGATE_BEDROCK_ENDPOINT", S(bedrock_endpoint),
     TG_OPT_WORKER, "override https://bedrock-runtime.REGION.amazonaws.com"},
    {"region", "AWS_REGION", S(region), TG_OPT_KAFKA | TG_OPT_WORKER,
     "AWS region (Bedrock's, and MSK's with kafka-auth aws-msk-iam)"},
    {"kafka-auth", "TOLLGATE_KAFKA_AUTH", S(kafka_auth), TG_OPT_KAFKA,
     "none | aws-msk-iam (SASL OAUTHBEARER over TLS, AWS credentials)"},
    {"msk-token-lifetime-s", "TOLLGATE_MSK_TOKEN_LIFETIME_S",
     I(msk_token_lifetime_s), TG_OPT_KAFKA,
     "aws-msk-iam token lifetime, 1-3600 s; refreshed at 80%"},
    {"catalog", "TOLLGATE_CATALOG", S(catalog), TG_OPT_WORKER,
     "model catalog JSON file"},
    {"worker-id", "TOLLGATE_WORKER_ID", S(worker_id), TG_OPT_WORKER,
     "this worker's id in events and leases (default host-pid)"},
    {"static-membership", "TOLLGATE_STATIC_MEMBERSHIP", I(static_membership),
     TG_OPT_WORKER,
     "1: an explicit worker-id is also the consumer's group.instance.id "
     "(default 1)"},
    {"log-level", "TOLLGATE_LOG_LEVEL", S(log_level),
     TG_OPT_KAFKA | TG_OPT_WORKER | TG_OPT_REDIS, "debug|info|warn|error"},
    {"max-inflight", "TOLLGATE_MAX_INFLIGHT", I(max_inflight), TG_OPT_WORKER,
     "requests in flight per process"},
    {"admit-window", "TOLLGATE_ADMIT_WINDOW", I(admit_window), TG_OPT_WORKER,
     "admissions awaiting Redis at once (0: no limit); more wait their turn"},
    {"ledger-batch", "TOLLGATE_LEDGER_BATCH", I(ledger_batch), TG_OPT_WORKER,
     "most requests admitted (or settled) in one Redis call, 1-1024; a "
     "batch is what is ready on the loop, never waited for (1: one call "
     "each)"},
    {"max-attempts", "TOLLGATE_MAX_ATTEMPTS", I(max_attempts), TG_OPT_WORKER,
     "Bedrock attempts per request (retryable errors)"},
    {"backoff-base-ms", "TOLLGATE_BACKOFF_BASE_MS", I(backoff_base_ms),
     TG_OPT_WORKER, "first retry window (full jitter)"},
    {"backoff-cap-ms", "TOLLGATE_BACKOFF_CAP_MS", I(backoff_cap_ms),
     TG_OPT_WORKER, "largest retry window"},
    {"connect-timeout-ms", "TOLLGATE_CONNECT_TIMEOUT_MS", I(connect_timeout_ms),
     TG_OPT_WORKER, "Bedrock connect timeout"},
    {"request-timeout-ms", "TOLLGATE_REQUEST_TIMEOUT_MS", I(request_timeout_ms),
     TG_OPT_WORKER, "Bedrock total timeout"},
    {"model-concurrency", "TOLLGATE_MODEL_CONCURRENCY", I(model_concurrency),
     TG_OPT_WORKER, "starting per-model concurrency (adapts to throttling)"},
    {"model-rate-min", "TOLLGATE_MODEL_RATE_MIN", I(model_rate_min),
     TG_OPT_WORKER,
     "floor of the per-model call rate (calls/s) learned from throttling"},
    {"throttle-retry-ms", "TOLLGATE_THROTTLE_RETRY_MS", I(throttle_retry_ms),
     TG_OPT_WORKER,
     "throttled calls retry (paced, not counted in max-attempts) this long"},
    {"transactions", "TOLLGATE_TRANSACTIONS", I(transactions), TG_OPT_WORKER,
     "1: events and offsets in one Kafka transaction (exactly once)"},
    {"txn-interval-ms", "TOLLGATE_TXN_INTERVAL_MS", I(txn_interval_ms),
     TG_OPT_WORKER, "how often a transaction commits"},
    {"lease-ms", "TOLLGATE_LEASE_MS", I(lease_ms), TG_OPT_WORKER,
     "reservation lease; a dead worker's is released after it"},
    {"retention-s", "TOLLGATE_RETENTION_S", I(retention_s), TG_OPT_WORKER,
     "how long a finished request is remembered (idempotency)"},
    {"max-request-bytes", "TOLLGATE_MAX_REQUEST_BYTES", I(max_request_bytes),
     TG_OPT_KAFKA, "larger requests are invalid"},
    {"drain-timeout-ms", "TOLLGATE_DRAIN_TIMEOUT_MS", I(drain_timeout_ms),
     TG_OPT_WORKER, "SIGTERM: finish in-flight work for up to this long"},
    {"metrics-port", "TOLLGATE_METRICS_PORT", I(metrics_port), TG_OPT_WORKER,
     "/metrics, /healthz, /readyz port (0 = off)"},
    {"metrics-labels", "TOLLGATE_METRICS_LABELS", S(metrics_labels),
     TG_OPT_WORKER, "tag keys that become metric labels (up to 8)"},
    {"log-decisions", "TOLLGATE_LOG_DECISIONS", I(log_decisions), TG_OPT_WORKER,
     "1: one JSON log line per decision"},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

/* The common helper (errfmt.h), under the name this file's callers use. */
#define cfg_fail tg_errf

static void set_str(char **dst, const char *v)
{
        free(*dst);
        *dst = strdup(v);
}

void tg_config_init(tg_config_t *c)
{
        char host[128] = "worker";
        char id[192];
        const char *region = getenv("AWS_DEFAULT_REGION");

        memset(c, 0, sizeof(*c));
        gethostname(host, sizeof(host) - 1);
        snprintf(id, sizeof(id), "%s-%d", host, (int)getpid());
        set_str(&c->brokers, "127.0.0.1:9092");
        set_str(&c->group, "tollgate-workers");
        set_str(&c->redis, "redis://127.0.0.1:6379");
        set_str(&c->bedrock_endpoint, "");
        set_str(&c->region, region ? region : "us-east-1");
        set_str(&c->catalog, TOLLGATE_DEFAULT_CATALOG);
        set_str(&c->topic_prefix, "tollgate");
        set_str(&c->worker_id, id);
        set_str(&c->log_level, "info");
        set_str(&c->metrics_labels, "costCenter,applicationId,environment");
        set_str(&c->redis_tls_ca_file, "");
        set_str(&c->redis_tls_ca_dir, "");
        set_str(&c->redis_tls_cert, "");
        set_str(&c->redis_tls_key, "");
        set_str(&c->redis_tls_server_name, "");
        set_str(&c->kafka_auth, TG_KAFKA_AUTH_NONE);
        c->msk_token_lifetime_s = TG_MSK_TOKEN_LIFETIME_DEFAULT;
        c->max_inflight = 4096;
        c->admit_window = 256;
        c->ledger_batch = 64;
        c->max_attempts = 6;
        c->backoff_base_ms = 100;
        c->backoff_cap_ms = 20000;
        c->connect_timeout_ms = 5000;
        c->request_timeout_ms = 600000;
        c->model_concurrency = 1024;
        c->model_rate_min = 1;
        c->throttle_retry_ms = 10 * 60 * 1000;
        c->transactions = 1;
        c->txn_interval_ms = 100;
        /* With an explicit worker id (docs/operations.md, "Pod churn"; the
         * gap it leaves with cooperative-sticky: worker/consumer.c,
         * tg_consumer_tick). */
        c->static_membership = 1;
        c->lease_ms = 120 * 1000; /* renewed every lease/3 while live */
        c->retention_s = 7 * 24 * 3600;
        c->max_request_bytes = 1024 * 1024;
        c->drain_timeout_ms = 30000;
        c->metrics_port = 0;
        c->log_decisions = 0;
}

void tg_config_destroy(tg_config_t *c)
{
        for (size_t i = 0; i < N_OPTS; i++)
                if (opts[i].type == OPT_STR)
                        free(*(char **)((char *)c + opts[i].offset));
        for (size_t i = 0; i < c->n_x; i++) {
                free(c->x[i].key);
                free(c->x[i].value);
        }
        memset(c, 0, sizeof(*c));
}

static int set_x(tg_config_t *c, const char *key, const char *value,
                 char *errstr, size_t size)
{
        for (size_t i = 0; i < c->n_x; i++) {
                if (strcmp(c->x[i].key, key) == 0) {
                        set_str(&c->x[i].value, value);
                        return 0;
                }
        }
        if (c->n_x == TG_CONFIG_X_MAX)
                return cfg_fail(errstr, size, "-X: more than %d properties",
                                TG_CONFIG_X_MAX);
        c->x[c->n_x].key = strdup(key);
        c->x[c->n_x].value = strdup(value);
        c->n_x++;
        return 0;
}

static int set_bool(tg_config_t *c, const opt_t *o, const char *value,
                    char *errstr, size_t size)
{
        int64_t *dst = (int64_t *)((char *)c + o->offset);

        if (!strcmp(value, "1") || !strcmp(value, "true") ||
            !strcmp(value, "yes"))
                *dst = 1;
        else if (!strcmp(value, "0") || !strcmp(value, "false") ||
                 !strcmp(value, "no"))
                *dst = 0;
        else
                return cfg_fail(errstr, size,
                                "--%s: expected 1 or 0, got "
                                "\"%.32s\"",
                                o->name, value);
        return 0;
}

static int set_opt(tg_config_t *c, const opt_t *o, const char *value,
                   char *errstr, size_t size)
{
        char *end;
        long long v;

        if (o->type == OPT_STR) {
                set_str((char **)((char *)c + o->offset), value);
                /* static membership needs an id that survives a restart:
                 * only one given, never the host-pid default */
                if (o->offset == offsetof(tg_config_t, worker_id))
                        c->worker_id_set = 1;
                return 0;
        }
        if (o->type == OPT_BOOL)
                return set_bool(c, o, value, errstr, size);
        v = strtoll(value, &end, 10);
        if (!*value || *end || v < 0)
                return cfg_fail(errstr, size,
                                "--%s: expected a non-negative integer, got "
                                "\"%.32s\"",
                                o->name, value);
        *(int64_t *)((char *)c + o->offset) = v;
        return 0;
}

static const opt_t *find_opt(const char *name)
{
        for (size_t i = 0; i < N_OPTS; i++)
                if (strcmp(opts[i].name, name) == 0)
                        return &opts[i];
        return NULL;
}

/* 1 when "--name" alone means "--name 1" (config_args.c). */
int tg_config_is_switch(const char *name)
{
        const opt_t *o = find_opt(name);

        return o && o->type == OPT_BOOL;
}

int tg_config_set(tg_config_t *c, const char *key, const char *value,
                  char *errstr, size_t errstr_size)
{
        const opt_t *o = find_opt(key);

        if (o)
                return set_opt(c, o, value, errstr, errstr_size);
        if (strncmp(key, "kafka.", 6) == 0)
                return set_x(c, key + 6, value, errstr, errstr_size);
        return cfg_fail(errstr, errstr_size, "unknown option \"%.64s\"", key);
}

static char *trim(char *s)
{
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

int tg_config_load_file(tg_config_t *c, const char *path, char *errstr,
                        size_t size)
{
        FILE *f = fopen(path, "r");
        char line[TG_CONFIG_LINE_MAX];
        int lineno = 0, rc = 0;

        if (!f)
                return cfg_fail(errstr, size, "--config: cannot open %s", path);
        while (rc == 0 && fgets(line, sizeof(line), f)) {
                char *eq, *key;
                lineno++;
                key = trim(line);
                if (!*key || *key == '#')
                        continue;
                eq = strchr(key, '=');
                if (!eq) {
                        rc = cfg_fail(errstr, size,
                                      "%s:%d: expected key = value", path,
                                      lineno);
                        break;
                }
                *eq = '\0';
                rc = tg_config_set(c, trim(key), trim(eq + 1), errstr, size);
        }
        fclose(f);
        return rc;
}

int tg_config_load_env(tg_config_t *c, unsigned groups, char *errstr,
                       size_t size)
{
        for (size_t i = 0; i < N_OPTS; i++) {
                const char *v = getenv(opts[i].env);
                if ((opts[i].group & groups) && v && *v &&
                    set_opt(c, &opts[i], v, errstr, size))
                        return -1;
        }
        return 0;
}

void tg_config_usage(unsigned groups, FILE *out)
{
        fprintf(out, "Options (flag, environment variable; a --config file "
                     "takes the flag names as keys):\n");
        for (size_t i = 0; i < N_OPTS; i++) {
                if (!(opts[i].group & groups))
                        continue;
                fprintf(out, "  --%-20s %-28s %s\n", opts[i].name, opts[i].env,
                        opts[i].help);
        }
        fprintf(out, "  --config FILE          TOLLGATE_CONFIG              "
                     "key = value lines\n"
                     "  -X prop=value          (any librdkafka property; "
                     "prefix consumer. or producer. for one client)\n"
                     "  --print-config         print the effective "
                     "configuration, secrets masked\n"
                     "Precedence: defaults < file < environment < flags.\n");
}

int tg_config_is_secret(const char *key)
{
        /* sasl.oauthbearer.config carries the unsecured JWT's claims and
         * extensions: treat it as a secret whole */
        static const char *words[] = {
            "password", "secret", "token", "key", "jaas", "oauthbearer.config"};

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strstr(key, words[i]))
                        return 1;
        return 0;
}

/* Redis URLs may carry a password: print scheme and host only. */
static void print_redis(const char *url, FILE *out)
{
        const char *at = strrchr(url, '@'), *scheme = strstr(url, "://");

        if (at && scheme && at > scheme)
                fprintf(out, "redis = %.*s://***@%s\n", (int)(scheme - url),
                        url, at + 1);
        else
                fprintf(out, "redis = %s\n", url);
}

void tg_config_print(const tg_config_t *c, unsigned groups, FILE *out)
{
        for (size_t i = 0; i < N_OPTS; i++) {
                const void *p = (const char *)c + opts[i].offset;
                if (!(opts[i].group & groups))
                        continue;
                if (opts[i].type != OPT_STR)
                        fprintf(out, "%s = %lld\n", opts[i].name,
                                (long long)*(const int64_t *)p);
                else if (strcmp(opts[i].name, "redis") == 0)
                        print_redis(*(char *const *)p, out);
                else
                        fprintf(out, "%s = %s\n", opts[i].name,
                                *(char *const *)p);
        }
        for (size_t i = 0; i < c->n_x; i++)
                fprintf(out, "kafka.%s = %s\n", c->x[i].key,
                        tg_config_is_secret(c->x[i].key) ? "***"
                                                         : c->x[i].value);
}

void tg_config_kafka_auth(const tg_config_t *c, struct tg_kafka_auth *out)
{
        memset(out, 0, sizeof(*out));
        out->mode = c->kafka_auth;
        out->region = c->region;
        out->lifetime_s = (long)c->msk_token_lifetime_s;
}

void tg_config_topic(const tg_config_t *c, const char *name, char *out,
                     size_t size)
{
        snprintf(out, size, "%s.%s", c->topic_prefix, name);
}
