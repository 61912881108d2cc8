/* Client configuration and the librdkafka confs built from it. */
#include <stdio.h>
#include <string.h>

#include "kafka_auth.h"
#include "libtollgate_int.h"

void tg_client_conf_init(tg_client_conf_t *conf)
{
        memset(conf, 0, sizeof(*conf));
        conf->brokers = "127.0.0.1:9092";
        conf->topic_prefix = "tollgate";
        conf->client_id = "tollgate-submit";
}

void tg_client_conf_from_config(tg_client_conf_t *conf, const tg_config_t *c)
{
        conf->brokers = c->brokers;
        conf->topic_prefix = c->topic_prefix;
        conf->max_request_bytes = (size_t)c->max_request_bytes;
        conf->props = c->x;
        conf->n_props = c->n_x;
        conf->kafka_auth = c->kafka_auth;
        conf->region = c->region;
        conf->msk_token_lifetime_s = (long)c->msk_token_lifetime_s;
}

void tg_kconf_topic(const tg_client_conf_t *conf, const char *name, char *out,
                    size_t size)
{
        const char *full = strcmp(name, "requests") == 0
                               ? conf->topic
                               : conf->completions_topic;

        if (full && *full)
                snprintf(out, size, "%s", full);
        else
                snprintf(out, size, "%s.%s",
                         conf->topic_prefix ? conf->topic_prefix : "tollgate",
                         name);
}

int tg_kconf_set_all(rd_kafka_conf_t *kc, const char *const (*kv)[2],
                     char *errstr, size_t errstr_size)
{
        for (; kv[0][0]; kv++)
                if (rd_kafka_conf_set(kc, kv[0][0], kv[0][1], errstr,
                                      errstr_size) != RD_KAFKA_CONF_OK)
                        return -1;
        return 0;
}

/* -X properties: "producer.x" only for the producer, "consumer.x" only for
 * the consumer, anything else for both (as the worker does). */
static int apply_props(rd_kafka_conf_t *kc, const tg_client_conf_t *conf,
                       const char *who, char *errstr, size_t size)
{
        size_t wl = strlen(who);

        for (size_t i = 0; i < conf->n_props; i++) {
                const char *k = conf->props[i].key;
                if (strncmp(k, "consumer.", 9) == 0 ||
                    strncmp(k, "producer.", 9) == 0) {
                        if (strncmp(k, who, wl) != 0)
                                continue;
                        k += wl + 1;
                }
                if (rd_kafka_conf_set(kc, k, conf->props[i].value, errstr,
                                      size) != RD_KAFKA_CONF_OK)
                        return -1;
        }
        return 0;
}

rd_kafka_conf_t *tg_kconf_new(const tg_client_conf_t *conf, const char *who,
                              const char *const (*defaults)[2], char *errstr,
                              size_t errstr_size)
{
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        const char *const base[][2] = {
            {"bootstrap.servers", conf->brokers},
            {"client.id",
             conf->client_id ? conf->client_id : "tollgate-submit"},
            {NULL, NULL},
        };

        const tg_kafka_auth_t auth = {conf->kafka_auth, conf->region,
                                      conf->msk_token_lifetime_s};

        /* The caller's defaults go before -X so that a user can still
         * override linger.ms, compression and the like; --kafka-auth goes
         * around -X (common/kafka_auth.h). */
        if (tg_kconf_set_all(kc, base, errstr, errstr_size) ||
            tg_kconf_set_all(kc, defaults, errstr, errstr_size) ||
            tg_kafka_auth_before(kc, &auth, errstr, errstr_size) ||
            apply_props(kc, conf, who, errstr, errstr_size) ||
            tg_kafka_auth_after(kc, &auth, errstr, errstr_size)) {
                rd_kafka_conf_destroy(kc);
                return NULL;
        }
        return kc;
}
