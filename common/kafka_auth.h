/*
 * Kafka authentication every tollgate program shares (kcat's lesson: one
 * place): `--kafka-auth aws-msk-iam` (env TOLLGATE_KAFKA_AUTH, file key
 * kafka-auth; default none) makes a librdkafka conf speak SASL/OAUTHBEARER
 * over TLS with the Amazon MSK IAM token (common/aws/msk_token.h), signed
 * with the AWS credential chain (common/aws/creds.h) and refreshed before it
 * expires by librdkafka's OAUTHBEARER token refresh callback.
 * docs/operations.md, "MSK with IAM authentication".
 *
 * A program builds each conf as:
 *   tg_kafka_auth_before(kc, &auth)   its defaults, then -X properties,
 *   tg_kafka_auth_after(kc, &auth)    conflicts refused, callback set,
 *   rk = tg_kafka_new(type, kc, ...)  instead of rd_kafka_new.
 * _before sets security.protocol=SASL_SSL and sasl.mechanisms=OAUTHBEARER
 * so that -X can still choose SASL_PLAINTEXT (allowed, for test brokers:
 * MSK itself only takes TLS) or TLS options; _after refuses what cannot
 * work (another mechanism, a protocol without SASL, OIDC, the unsecured JWT
 * or an own sasl.oauthbearer.config) and signs one token at once, so missing
 * credentials or a bad region fail at start.
 *
 * Threads: the refresh callback runs on librdkafka's background thread
 * (rd_kafka_sasl_background_callbacks_enable, set up by tg_kafka_new), not
 * from the application's polls: the worker serves forwarded queues and
 * event queues, the CLI and the topics tool never poll the main queue, and
 * a blocking init_transactions must not wait for a token the loop would
 * fetch. The credentials are one process-wide provider made at the first
 * _after (AWS_BEARER_TOKEN_BEDROCK is ignored here: a Bedrock API key cannot
 * sign for Kafka); tg_creds_get is thread-safe and never does I/O.
 * Tokens and credentials are never logged nor put in error strings.
 */
#ifndef TG_KAFKA_AUTH_H
#define TG_KAFKA_AUTH_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <time.h>

#include "aws/msk_token.h"

#define TG_KAFKA_AUTH_NONE    "none"
#define TG_KAFKA_AUTH_MSK_IAM "aws-msk-iam"

/* What a program was told; strings are borrowed (its config owns them). */
typedef struct tg_kafka_auth {
        const char *mode;   /* NULL, "" or "none"; "aws-msk-iam" */
        const char *region; /* MSK's region; NULL/"": refused when on */
        long lifetime_s;    /* token lifetime; 0: 900 (the signer's) */
} tg_kafka_auth_t;

/* Fills a from TOLLGATE_KAFKA_AUTH, AWS_REGION (else AWS_DEFAULT_REGION)
 * and TOLLGATE_MSK_TOKEN_LIFETIME_S, for programs without common/config.c.
 * Returns 0, or -1 with errstr for a bad lifetime (then lifetime_s is -1,
 * which _before/_after refuse too). */
int tg_kafka_auth_env(tg_kafka_auth_t *a, char *errstr, size_t errstr_size);

/* Parses a lifetime in seconds (1-3600). Returns 0 or -1 with errstr. */
int tg_kafka_auth_lifetime(const char *s, long *out, char *errstr,
                           size_t errstr_size);

/* 1 when a asks for MSK IAM; -1 with errstr for an unknown mode; 0 none. */
int tg_kafka_auth_on(const tg_kafka_auth_t *a, char *errstr,
                     size_t errstr_size);

/* Before the program's -X properties: 0, or -1 with errstr. */
int tg_kafka_auth_before(rd_kafka_conf_t *kc, const tg_kafka_auth_t *a,
                         char *errstr, size_t errstr_size);

/* After them: 0, or -1 with errstr. No-op when off. */
int tg_kafka_auth_after(rd_kafka_conf_t *kc, const tg_kafka_auth_t *a,
                        char *errstr, size_t errstr_size);

/* rd_kafka_new, then the SASL callbacks moved to the background thread
 * when kc was set up by tg_kafka_auth_after. Takes kc on success, like
 * rd_kafka_new; on failure kc stays the caller's (when the background
 * thread cannot be had, the half-made client is left, not freed). */
rd_kafka_t *tg_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *kc,
                         char *errstr, size_t errstr_size);

/* A token at `at` (0: now) with the process's credentials, for
 * `tollgate-ledger msk-token`. Returns 0, or -1 with errstr. */
int tg_kafka_auth_token(const tg_kafka_auth_t *a, time_t at,
                        tg_msk_token_t *out, char *errstr, size_t errstr_size);

/* The credential source used ("env", "profile:x", ...), or "" before the
 * first _after/_token. */
const char *tg_kafka_auth_source(void);

/* 1 while the last token refresh of any client of the process failed (no
 * credentials, a signing error): cleared by the next one that succeeds
 * (librdkafka retries a failed refresh by itself). Any thread. */
int tg_kafka_auth_failing(void);

/* How many tokens the refresh callback set, and failed to set (tests). */
unsigned long tg_kafka_auth_refreshes(unsigned long *failures);

#endif
