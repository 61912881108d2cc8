/*
 * tollgate-ledger: what the command files share (options, exit codes,
 * output helpers). Each cmd_*.c implements one command.
 */
#ifndef TG_LEDGER_CLI_H
#define TG_LEDGER_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "budget.h"
#include "redis_url.h"
#include "kafka_auth.h"

#define TG_EXIT_OK    0
#define TG_EXIT_FAIL  1 /* runtime failure, or a difference found */
#define TG_EXIT_USAGE 2 /* bad command line */

#define TG_CLI_PROG        "tollgate-ledger"
#define TG_CLI_PROPS_MAX   64
#define TG_CLI_DEFAULT_URL "redis://127.0.0.1:6379"
#define TG_CLI_MSG_MAX     (1024 * 1024) /* usage events larger are skipped */
#define TG_CLI_DEPTH_MAX   32            /* JSON nesting of a usage event */

typedef struct tg_cli {
        const char *redis_url;   /* --redis, TOLLGATE_REDIS */
        tg_redis_tls_args_t tls; /* --redis-tls-*, TOLLGATE_REDIS_TLS_* */
        const char *brokers;     /* --brokers, TOLLGATE_BROKERS */
        const char *usage_topic; /* --usage-topic, TOLLGATE_USAGE_TOPIC */
        const char *props[TG_CLI_PROPS_MAX]; /* -X name=value, librdkafka */
        int n_props;
        tg_kafka_auth_t auth; /* --kafka-auth, --region, --msk-token-... */
        int timeout_ms;       /* --timeout: Redis commands, Kafka waits */
        char cmd[64];         /* "budget set", for messages */
        char topic_buf[256];
} tg_cli_t;

/* Long options every command accepts, anywhere on its command line. */
enum {
        TG_OPT_REDIS = 1000,
        TG_OPT_BROKERS,
        TG_OPT_USAGE_TOPIC,
        TG_OPT_TIMEOUT,
        TG_OPT_TLS_CA_FILE,
        TG_OPT_TLS_CA_DIR,
        TG_OPT_TLS_CERT,
        TG_OPT_TLS_KEY,
        TG_OPT_TLS_SERVER_NAME,
        TG_OPT_TLS_INSECURE,
        TG_OPT_KAFKA_AUTH,
        TG_OPT_REGION,
        TG_OPT_MSK_LIFETIME,
        TG_OPT_FIRST_LOCAL, /* commands number their own options from here */
};

#define TG_CLI_COMMON_LONGOPTS                                                 \
        {"redis", required_argument, NULL, TG_OPT_REDIS},                      \
            {"brokers", required_argument, NULL, TG_OPT_BROKERS},              \
            {"usage-topic", required_argument, NULL, TG_OPT_USAGE_TOPIC},      \
            {"timeout", required_argument, NULL, TG_OPT_TIMEOUT},              \
            {"redis-tls-ca-file", required_argument, NULL,                     \
             TG_OPT_TLS_CA_FILE},                                              \
            {"redis-tls-ca-dir", required_argument, NULL, TG_OPT_TLS_CA_DIR},  \
            {"redis-tls-cert", required_argument, NULL, TG_OPT_TLS_CERT},      \
            {"redis-tls-key", required_argument, NULL, TG_OPT_TLS_KEY},        \
            {"redis-tls-server-name", required_argument, NULL,                 \
             TG_OPT_TLS_SERVER_NAME},                                          \
            {"redis-tls-insecure", no_argument, NULL, TG_OPT_TLS_INSECURE},    \
            {"kafka-auth", required_argument, NULL, TG_OPT_KAFKA_AUTH},        \
            {"region", required_argument, NULL, TG_OPT_REGION},                \
            {"msk-token-lifetime-s", required_argument, NULL,                  \
             TG_OPT_MSK_LIFETIME},                                             \
        {                                                                      \
                "help", no_argument, NULL, 'h'                                 \
        }

/* The short options of TG_CLI_COMMON_LONGOPTS, for getopt's optstring. */
#define TG_CLI_COMMON_SHORTOPTS ":hX:"

#define TG_CLI_COMMON_HELP                                                     \
        "Common options:\n"                                                    \
        "  --redis URL         redis[s]://[[user]:password@]host[:port][/db] " \
        "or\n"                                                                 \
        "                      unix:///path.sock[?db=N]; env "                 \
        "TOLLGATE_REDIS,\n"                                                    \
        "                      default " TG_CLI_DEFAULT_URL "\n"               \
        "  --redis-tls-ca-file F, --redis-tls-ca-dir D   rediss://: CAs "      \
        "(default the system store)\n"                                         \
        "  --redis-tls-cert F, --redis-tls-key F         client certificate "  \
        "(mutual TLS)\n"                                                       \
        "  --redis-tls-server-name N   name to verify (default the host)\n"    \
        "  --redis-tls-insecure        do NOT verify the server\n"             \
        "                      env TOLLGATE_REDIS_TLS_CA_FILE, _CA_DIR, "      \
        "_CERT, "                                                              \
        "_KEY,\n"                                                              \
        "                      _SERVER_NAME, _INSECURE=1\n"                    \
        "  --brokers LIST      Kafka bootstrap servers; env "                  \
        "TOLLGATE_BROKERS\n"                                                   \
        "  --usage-topic T     env TOLLGATE_USAGE_TOPIC, default "             \
        "<TOLLGATE_TOPIC_PREFIX or tollgate>.usage\n"                          \
        "  -X name=value       librdkafka property (repeatable)\n"             \
        "  --kafka-auth MODE   none or aws-msk-iam (SASL OAUTHBEARER, TLS);\n" \
        "                      env TOLLGATE_KAFKA_AUTH\n"                      \
        "  --region R          MSK's region; env AWS_REGION\n"                 \
        "  --msk-token-lifetime-s S  aws-msk-iam token lifetime, default "     \
        "900\n"                                                                \
        "  --timeout SECONDS   Redis command and Kafka wait timeout, "         \
        "default 30\n"                                                         \
        "  -h, --help          this help\n"

/* Defaults from the environment. */
void tg_cli_init(tg_cli_t *cli);

/* Runs getopt_long over argv (argv[0] is the command word) and calls
 * `local` for options that are not common ones. `local` returns 0, or an
 * exit code (e.g. TG_EXIT_USAGE after tg_cli_usage_error()). When --help
 * is given, prints `help` and returns -1 (the caller exits 0). On return,
 * *first_arg is the index of the first positional argument. */
typedef int(tg_cli_opt_cb)(tg_cli_t *cli, int opt, const char *arg,
                           void *opaque);
int tg_cli_getopt(tg_cli_t *cli, int argc, char **argv,
                  const struct option *longopts, const char *shortopts,
                  tg_cli_opt_cb *local, void *opaque, const char *help,
                  int *first_arg);

/* "tollgate-ledger <cmd>: <message>" and a hint on stderr; returns
 * TG_EXIT_USAGE. */
int tg_cli_usage_error(const tg_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "tollgate-ledger <cmd>: <message>" on stderr; returns TG_EXIT_FAIL. */
int tg_cli_fail(const tg_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tg_cli_warn(const tg_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Strict number parsing for option values: the whole string, in range.
 * Return 0 or -1. */
int tg_cli_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* "12.50" or "$12.50" into nano-USD, exactly. */
int tg_cli_parse_usd(const char *s, int64_t *nano);

/* "2026-11-27T10:00:00Z" (RFC 3339 UTC) or a date "2026-11-27" (its UTC
 * midnight) into microseconds. */
int tg_cli_parse_time(const char *s, int64_t *us);

/* 1 when s is a period label: "YYYY-MM-DD", "YYYY-MM" or "total", and
 * stores its kind. */
int tg_cli_period_label_kind(const char *s, tg_period_t *kind);

/* Money for people: "$12.50", "$0.00001032", "-$1.00" (trailing zeros
 * trimmed, at least two decimals, exact). */
void tg_cli_usd(int64_t nano, char *out, size_t size);
/* Money for machines: "12.500000000" (all nine decimals). */
void tg_cli_usd9(int64_t nano, char *out, size_t size);

/* "costCenter=eng,environment=prod" or "(global)". */
void tg_cli_selector_str(const tg_budget_t *b, char *out, size_t size);

/* Redis (cli_redis.c). */
struct redisContext;
struct redisReply;
/* Connects to --redis. Returns 0, or an exit code after printing why (2
 * for a bad URL). */
int tg_cli_redis(tg_cli_t *cli, struct redisContext **out);

/* Reads every budget definition, sorted by id. Invalid ones are skipped
 * with a warning. Returns 0 with *out (free with tg_cli_budgets_free), or
 * -1 after printing the error. */
int tg_cli_budgets_load(tg_cli_t *cli, struct redisContext *c,
                        tg_budget_t **out, size_t *n);
void tg_cli_budgets_free(tg_budget_t *b, size_t n);

/* Reads an integer hash field value ("123"; NULL/nil = 0). Returns 0 or -1
 * when the stored value is not an integer. */
int tg_cli_reply_int(const struct redisReply *r, int64_t *out);

/* Commands. argv[0] is the command word. */
int tg_cmd_budget(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_budget_set(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_status(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_reconcile(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_rebuild(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_report(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_release(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_catalog(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_msk_token(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_creds(tg_cli_t *cli, int argc, char **argv);
int tg_cmd_profiles(tg_cli_t *cli, int argc, char **argv);

#endif
