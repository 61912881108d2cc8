/* Private to kafka_auth.c and kafka_auth_token.c. */
#ifndef TG_KAFKA_AUTH_INT_H
#define TG_KAFKA_AUTH_INT_H

#include "aws/creds.h"
#include "kafka_auth.h"

/* Starts sasl.oauthbearer.config, which carries region and lifetime to
 * the refresh callback (librdkafka hands the callback only that string and
 * the client's opaque, which is the program's). */
#define TG_KA_MARKER "tollgate-msk-iam"

/* The process's provider (made on first use); NULL with errstr. */
tg_creds_t *tg_kafka_auth_creds(char *errstr, size_t size);

/* A token with the process's credentials at `at` (0: now). */
int tg_kafka_auth_sign(const char *region, long lifetime_s, time_t at,
                       tg_msk_token_t *out, char *errstr, size_t size);

void tg_kafka_auth_refresh_cb(rd_kafka_t *rk, const char *cfg, void *opaque);

#endif
