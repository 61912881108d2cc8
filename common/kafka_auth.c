/* The conf side of kafka_auth.h: options, defaults, conflicts. */
#include "kafka_auth_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static int ka_fail(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ka_fail(char *errstr, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
        return -1;
}

int tg_kafka_auth_lifetime(const char *s, long *out, char *errstr,
                           size_t errstr_size)
{
        char *end;
        long v;

        v = s && *s ? strtol(s, &end, 10) : -1;
        if (!s || !*s || *end || v < TG_MSK_TOKEN_LIFETIME_MIN ||
            v > TG_MSK_TOKEN_LIFETIME_MAX)
                return ka_fail(errstr, errstr_size,
                               "msk-token-lifetime-s: expected 1-3600 "
                               "seconds, got \"%.32s\"",
                               s ? s : "");
        *out = v;
        return 0;
}

int tg_kafka_auth_env(tg_kafka_auth_t *a, char *errstr, size_t errstr_size)
{
        const char *life = getenv("TOLLGATE_MSK_TOKEN_LIFETIME_S");

        memset(a, 0, sizeof(*a));
        a->mode = getenv("TOLLGATE_KAFKA_AUTH");
        a->region = getenv("AWS_REGION");
        if (!a->region || !*a->region)
                a->region = getenv("AWS_DEFAULT_REGION");
        if (life && *life &&
            tg_kafka_auth_lifetime(life, &a->lifetime_s, errstr, errstr_size)) {
                a->lifetime_s = -1; /* refused again where it is used */
                return -1;
        }
        return 0;
}

int tg_kafka_auth_on(const tg_kafka_auth_t *a, char *errstr, size_t errstr_size)
{
        if (!a || !a->mode || !*a->mode ||
            strcmp(a->mode, TG_KAFKA_AUTH_NONE) == 0)
                return 0;
        if (strcmp(a->mode, TG_KAFKA_AUTH_MSK_IAM) == 0)
                return 1;
        return ka_fail(errstr, errstr_size,
                       "--kafka-auth: \"%.32s\" is not none or aws-msk-iam",
                       a->mode);
}

static long ka_life(const tg_kafka_auth_t *a)
{
        return a->lifetime_s ? a->lifetime_s : TG_MSK_TOKEN_LIFETIME_DEFAULT;
}

/* What goes into sasl.oauthbearer.config (kafka_auth_int.h). */
static int ka_cfg(const tg_kafka_auth_t *a, char *out, size_t size,
                  char *errstr, size_t errstr_size)
{
        if (!a->region || !*a->region)
                return ka_fail(errstr, errstr_size,
                               "--kafka-auth aws-msk-iam needs the cluster's "
                               "region (--region or AWS_REGION)");
        if (ka_life(a) < TG_MSK_TOKEN_LIFETIME_MIN ||
            ka_life(a) > TG_MSK_TOKEN_LIFETIME_MAX)
                return ka_fail(errstr, errstr_size,
                               "msk-token-lifetime-s: expected 1-3600 "
                               "seconds");
        snprintf(out, size, TG_KA_MARKER " region=%.64s lifetime=%ld",
                 a->region, ka_life(a));
        return 0;
}

static int ka_set(rd_kafka_conf_t *kc, const char *k, const char *v,
                  char *errstr, size_t size)
{
        char why[256];

        if (rd_kafka_conf_set(kc, k, v, why, sizeof(why)) == RD_KAFKA_CONF_OK)
                return 0;
        return ka_fail(errstr, size, "kafka-auth: %s: %s", k, why);
}

int tg_kafka_auth_before(rd_kafka_conf_t *kc, const tg_kafka_auth_t *a,
                         char *errstr, size_t errstr_size)
{
        char cfg[160];
        int on = tg_kafka_auth_on(a, errstr, errstr_size);

        if (on <= 0)
                return on;
        if (ka_cfg(a, cfg, sizeof(cfg), errstr, errstr_size) ||
            ka_set(kc, "security.protocol", "SASL_SSL", errstr, errstr_size) ||
            ka_set(kc, "sasl.mechanisms", "OAUTHBEARER", errstr, errstr_size) ||
            ka_set(kc, "sasl.oauthbearer.config", cfg, errstr, errstr_size))
                return -1;
        return 0;
}

/* The value of a property, "" when unknown to this librdkafka. */
static const char *ka_get(rd_kafka_conf_t *kc, const char *k, char *buf,
                          size_t size)
{
        size_t n = size;

        if (rd_kafka_conf_get(kc, k, buf, &n) != RD_KAFKA_CONF_OK)
                buf[0] = '\0';
        return buf;
}

/* Refuses -X properties that cannot work with MSK IAM. Values are quoted
 * only for non-secret properties. */
static int ka_conflicts(rd_kafka_conf_t *kc, const char *cfg, char *errstr,
                        size_t size)
{
        char v[512];

        ka_get(kc, "security.protocol", v, sizeof(v));
        if (strcasecmp(v, "sasl_ssl") != 0 &&
            strcasecmp(v, "sasl_plaintext") != 0)
                return ka_fail(errstr, size,
                               "--kafka-auth aws-msk-iam needs "
                               "security.protocol SASL_SSL (or "
                               "SASL_PLAINTEXT for a test broker); -X "
                               "security.protocol=%.32s conflicts",
                               v);
        ka_get(kc, "sasl.mechanisms", v, sizeof(v));
        if (strcmp(v, "OAUTHBEARER") != 0)
                return ka_fail(errstr, size,
                               "--kafka-auth aws-msk-iam uses SASL "
                               "OAUTHBEARER; -X sasl.mechanisms=%.32s "
                               "conflicts",
                               v);
        ka_get(kc, "sasl.oauthbearer.method", v, sizeof(v));
        if (v[0] && strcmp(v, "default") != 0)
                return ka_fail(errstr, size,
                               "--kafka-auth aws-msk-iam makes its own "
                               "tokens; -X sasl.oauthbearer.method=%.32s "
                               "conflicts",
                               v);
        ka_get(kc, "enable.sasl.oauthbearer.unsecure.jwt", v, sizeof(v));
        if (strcmp(v, "true") == 0)
                return ka_fail(errstr, size,
                               "--kafka-auth aws-msk-iam conflicts with -X "
                               "enable.sasl.oauthbearer.unsecure.jwt=true");
        ka_get(kc, "sasl.oauthbearer.config", v, sizeof(v));
        if (strcmp(v, cfg) != 0)
                return ka_fail(errstr, size,
                               "--kafka-auth aws-msk-iam conflicts with -X "
                               "sasl.oauthbearer.config");
        return 0;
}

int tg_kafka_auth_after(rd_kafka_conf_t *kc, const tg_kafka_auth_t *a,
                        char *errstr, size_t errstr_size)
{
        char cfg[160], v[32];
        tg_msk_token_t *tok;
        int on = tg_kafka_auth_on(a, errstr, errstr_size), rc;

        if (on <= 0)
                return on;
        if (ka_cfg(a, cfg, sizeof(cfg), errstr, errstr_size) ||
            ka_conflicts(kc, cfg, errstr, errstr_size))
                return -1;
        /* A token now: no credentials or a bad region fail at start. */
        if (!(tok = malloc(sizeof(*tok))))
                return ka_fail(errstr, errstr_size, "out of memory");
        rc = tg_kafka_auth_sign(a->region, ka_life(a), 0, tok, errstr,
                                errstr_size);
        tg_secret_wipe(tok, sizeof(*tok));
        free(tok);
        if (rc)
                return -1;
        if (strcasecmp(ka_get(kc, "security.protocol", v, sizeof(v)),
                       "sasl_plaintext") == 0)
                tg_log(TG_LOG_WARN,
                       "kafka auth aws-msk-iam over SASL_PLAINTEXT: tokens "
                       "travel unencrypted (test brokers only; MSK needs "
                       "SASL_SSL)");
        rd_kafka_conf_set_oauthbearer_token_refresh_cb(
            kc, tg_kafka_auth_refresh_cb);
        rd_kafka_conf_enable_sasl_queue(kc, 1);
        return 0;
}

static int ka_configured(rd_kafka_conf_t *kc)
{
        char v[160];

        return strncmp(ka_get(kc, "sasl.oauthbearer.config", v, sizeof(v)),
                       TG_KA_MARKER " ", strlen(TG_KA_MARKER) + 1) == 0;
}

rd_kafka_t *tg_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *kc,
                         char *errstr, size_t errstr_size)
{
        int ours = ka_configured(kc);
        rd_kafka_error_t *e;
        rd_kafka_t *rk = rd_kafka_new(type, kc, errstr, errstr_size);

        if (!rk || !ours)
                return rk;
        /* Only now may the callback run (librdkafka PR 3572): the token
         * refresh happens on the background thread from here on. */
        e = rd_kafka_sasl_background_callbacks_enable(rk);
        if (!e)
                return rk;
        ka_fail(errstr, errstr_size,
                "kafka-auth: cannot serve token refreshes in the "
                "background: %s",
                rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        /* rk owns kc now, and callers free kc when NULL comes back: rk is
         * left alive (no thread for it to use: the program exits). */
        return NULL;
}

int tg_kafka_auth_token(const tg_kafka_auth_t *a, time_t at,
                        tg_msk_token_t *out, char *errstr, size_t errstr_size)
{
        char cfg[160];

        if (ka_cfg(a, cfg, sizeof(cfg), errstr, errstr_size))
                return -1;
        return tg_kafka_auth_sign(a->region, ka_life(a), at, out, errstr,
                                  errstr_size);
}
