/*
 * The token side of kafka_auth.h: the process's credential provider and
 * librdkafka's OAUTHBEARER refresh callback. The callback runs on
 * librdkafka's background thread; everything here is thread-safe.
 */
#include "kafka_auth_int.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static pthread_mutex_t ka_mu = PTHREAD_MUTEX_INITIALIZER;
static tg_creds_t *ka_creds; /* process-wide, lives until exit */
static atomic_ulong ka_ok, ka_failed;
static atomic_int ka_failing; /* the last refresh failed */

/* A Bedrock API key is first in the chain (creds.h) but cannot sign for
 * Kafka: hide it, so the chain goes on to SigV4 credentials. */
static const char *ka_getenv(void *opaque, const char *name)
{
        (void)opaque;
        if (strcmp(name, "AWS_BEARER_TOKEN_BEDROCK") == 0)
                return NULL;
        return getenv(name);
}

tg_creds_t *tg_kafka_auth_creds(char *errstr, size_t size)
{
        tg_creds_conf_t cc;
        tg_creds_t *c;

        pthread_mutex_lock(&ka_mu);
        if (!ka_creds) {
                memset(&cc, 0, sizeof(cc));
                cc.getenv_fn = ka_getenv;
                curl_global_init(CURL_GLOBAL_DEFAULT); /* creds.h asks */
                ka_creds = tg_creds_new(&cc, errstr, size);
                if (ka_creds)
                        tg_log(TG_LOG_INFO,
                               "kafka auth aws-msk-iam: credentials from %s",
                               tg_creds_source(ka_creds));
        }
        c = ka_creds;
        pthread_mutex_unlock(&ka_mu);
        return c;
}

const char *tg_kafka_auth_source(void)
{
        const char *s;

        pthread_mutex_lock(&ka_mu);
        s = ka_creds ? tg_creds_source(ka_creds) : "";
        pthread_mutex_unlock(&ka_mu);
        return s;
}

int tg_kafka_auth_failing(void)
{
        return atomic_load(&ka_failing);
}

unsigned long tg_kafka_auth_refreshes(unsigned long *failures)
{
        if (failures)
                *failures = atomic_load(&ka_failed);
        return atomic_load(&ka_ok);
}

int tg_kafka_auth_sign(const char *region, long lifetime_s, time_t at,
                       tg_msk_token_t *out, char *errstr, size_t size)
{
        tg_creds_snapshot_t *snap = malloc(sizeof(*snap));
        tg_creds_t *c = tg_kafka_auth_creds(errstr, size);
        char why[256];
        int rc = -1;

        if (!snap)
                return snprintf(errstr, size, "out of memory"), -1;
        if (!c)
                goto done;
        if (tg_creds_get(c, snap)) {
                tg_creds_last_error(c, why, sizeof(why));
                snprintf(errstr, size, "AWS credentials expired (%s)", why);
                goto done;
        }
        rc = tg_msk_token_make(region, snap, at ? at : time(NULL), lifetime_s,
                               out, errstr, size);
done:
        tg_secret_wipe(snap, sizeof(*snap));
        free(snap);
        return rc;
}

/* "tollgate-msk-iam region=R lifetime=N", written by kafka_auth.c. */
static int ka_parse(const char *cfg, char *region, size_t rsize, long *life)
{
        const char *r, *l;
        size_t n;

        if (!cfg || strncmp(cfg, TG_KA_MARKER, strlen(TG_KA_MARKER)) != 0)
                return -1;
        r = strstr(cfg, " region=");
        l = strstr(cfg, " lifetime=");
        if (!r || !l || l < r)
                return -1;
        r += 8;
        n = (size_t)(l - r);
        if (n == 0 || n >= rsize)
                return -1;
        memcpy(region, r, n);
        region[n] = '\0';
        *life = strtol(l + 10, NULL, 10);
        return 0;
}

void tg_kafka_auth_refresh_cb(rd_kafka_t *rk, const char *cfg, void *opaque)
{
        tg_msk_token_t *tok = malloc(sizeof(*tok));
        char region[80], err[512] = "", why[512];
        long life = 0;

        (void)opaque;
        if (!tok)
                snprintf(err, sizeof(err), "out of memory");
        else if (ka_parse(cfg, region, sizeof(region), &life))
                snprintf(err, sizeof(err), "bad internal configuration");
        else if (tg_kafka_auth_sign(region, life, 0, tok, why, sizeof(why)))
                snprintf(err, sizeof(err), "%.400s", why);
        else if (rd_kafka_oauthbearer_set_token(
                     rk, tok->value, tok->expires_ms, "aws-msk-iam", NULL, 0,
                     why, sizeof(why)) != RD_KAFKA_RESP_ERR_NO_ERROR)
                snprintf(err, sizeof(err), "librdkafka refused it: %.400s",
                         why);
        if (tok) {
                tg_secret_wipe(tok, sizeof(*tok));
                free(tok);
        }
        if (!err[0]) {
                atomic_fetch_add(&ka_ok, 1);
                atomic_store(&ka_failing, 0);
                tg_log(TG_LOG_DEBUG,
                       "kafka auth aws-msk-iam: token refreshed "
                       "for %s",
                       rd_kafka_name(rk));
                return;
        }
        atomic_fetch_add(&ka_failed, 1);
        atomic_store(&ka_failing, 1);
        snprintf(why, sizeof(why), "MSK IAM token not made: %.400s", err);
        /* librdkafka reports it through the client's error callback and
         * retries the refresh by itself. */
        rd_kafka_oauthbearer_set_token_failure(rk, why);
}
