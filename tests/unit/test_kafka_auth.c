/*
 * kafka_auth.h: --kafka-auth aws-msk-iam on a librdkafka conf (defaults,
 * conflicts refused, -X SASL_PLAINTEXT allowed), and the refresh callback
 * firing on librdkafka's background thread for a client nobody polls.
 */
#include "kafka_auth.h"
#include "tg_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const tg_kafka_auth_t MSK = {"aws-msk-iam", "us-east-1", 0};

static const char *get(rd_kafka_conf_t *kc, const char *k)
{
        static char v[512];
        size_t n = sizeof(v);

        if (rd_kafka_conf_get(kc, k, v, &n) != RD_KAFKA_CONF_OK)
                v[0] = '\0';
        return v;
}

/* before, one -X property, after; returns after's result, or -2 when
 * librdkafka refused the property. */
static int with_x(const tg_kafka_auth_t *a, const char *k, const char *v,
                  char *err, size_t size)
{
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        int rc = tg_kafka_auth_before(kc, a, err, size);

        if (!rc && k &&
            rd_kafka_conf_set(kc, k, v, err, size) != RD_KAFKA_CONF_OK)
                rc = -2; /* this librdkafka refuses the property itself */
        if (!rc)
                rc = tg_kafka_auth_after(kc, a, err, size);
        rd_kafka_conf_destroy(kc);
        return rc;
}

static void test_conf(void)
{
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        tg_kafka_auth_t none = {NULL, NULL, 0}, bad = {"aws-iam", "x", 0};
        tg_kafka_auth_t noreg = {"aws-msk-iam", "", 0};
        char err[512];

        CHECK(tg_kafka_auth_before(kc, &MSK, err, sizeof(err)) == 0);
        CHECK(tg_kafka_auth_after(kc, &MSK, err, sizeof(err)) == 0);
        CHECK_STR(get(kc, "security.protocol"), "sasl_ssl");
        CHECK_STR(get(kc, "sasl.mechanisms"), "OAUTHBEARER");
        rd_kafka_conf_destroy(kc);

        /* off: the conf is untouched */
        kc = rd_kafka_conf_new();
        CHECK(tg_kafka_auth_before(kc, &none, err, sizeof(err)) == 0);
        CHECK(tg_kafka_auth_after(kc, &none, err, sizeof(err)) == 0);
        CHECK_STR(get(kc, "security.protocol"), "plaintext");
        rd_kafka_conf_destroy(kc);

        CHECK(with_x(&MSK, "security.protocol", "SASL_PLAINTEXT", err,
                     sizeof(err)) == 0);
        CHECK(with_x(&MSK, "security.protocol", "PLAINTEXT", err, sizeof(err)) <
              0);
        CHECK(strstr(err, "security.protocol=plaintext conflicts") != NULL);
        CHECK(with_x(&MSK, "sasl.mechanisms", "SCRAM-SHA-512", err,
                     sizeof(err)) < 0);
        CHECK(strstr(err, "SCRAM-SHA-512 conflicts") != NULL);
        /* Debian 12's librdkafka has no OIDC and refuses the property */
        CHECK(with_x(&MSK, "sasl.oauthbearer.method", "oidc", err,
                     sizeof(err)) < 0);
        CHECK(strstr(err, "oidc conflicts") || strstr(err, "not supported"));
        CHECK(with_x(&MSK, "enable.sasl.oauthbearer.unsecure.jwt", "true", err,
                     sizeof(err)) < 0);
        CHECK(with_x(&MSK, "sasl.oauthbearer.config", "principal=x", err,
                     sizeof(err)) < 0);
        CHECK(strstr(err, "principal=x") == NULL); /* may be a secret */
        CHECK(with_x(&bad, NULL, NULL, err, sizeof(err)) < 0);
        CHECK(strstr(err, "not none or aws-msk-iam") != NULL);
        CHECK(with_x(&noreg, NULL, NULL, err, sizeof(err)) < 0);
        CHECK(strstr(err, "region") != NULL);
}

/* A producer towards nothing, never polled: the callback still runs (on
 * the background thread) and sets tokens. */
static void test_background_refresh(void)
{
        tg_kafka_auth_t a = {"aws-msk-iam", "eu-west-1", 2};
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        unsigned long before = tg_kafka_auth_refreshes(NULL), failed;
        char err[512];
        rd_kafka_t *rk;
        int i;

        rd_kafka_conf_set(kc, "bootstrap.servers", "127.0.0.1:1", NULL, 0);
        rd_kafka_conf_set(kc, "log_level", "0", NULL, 0);
        CHECK(tg_kafka_auth_before(kc, &a, err, sizeof(err)) == 0);
        CHECK(tg_kafka_auth_after(kc, &a, err, sizeof(err)) == 0);
        rk = tg_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
        CHECK(rk != NULL);
        if (!rk) {
                rd_kafka_conf_destroy(kc);
                return;
        }
        /* first token at once, a new one at 80% of 2 s */
        for (i = 0; i < 100 && tg_kafka_auth_refreshes(NULL) < before + 2; i++)
                usleep(100 * 1000);
        CHECK(tg_kafka_auth_refreshes(&failed) >= before + 2);
        CHECK_INT(failed, 0);
        CHECK_STR(tg_kafka_auth_source(), "env");
        rd_kafka_destroy(rk);
}

int main(void)
{
        setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
        setenv("AWS_SECRET_ACCESS_KEY",
               "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
        setenv("AWS_BEARER_TOKEN_BEDROCK", "ignored-for-kafka", 1);
        test_conf();
        test_background_refresh();
        return tg_test_done("test_kafka_auth");
}
