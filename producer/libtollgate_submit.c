/* Producing one request: prepare it, then hand it to librdkafka keyed by
 * its requestId so that all events of a request share a partition. */
#include <stdio.h>
#include <string.h>

#include "libtollgate_int.h"

tg_submit_result_t tg_client_produce(tg_client_t *cl, const tg_prepared_t *p,
                                     void *msg_opaque, char *errstr,
                                     size_t errstr_size)
{
        rd_kafka_resp_err_t err;
        int waited = 0;

        for (;;) {
                err = rd_kafka_producev(
                    cl->rk, RD_KAFKA_V_TOPIC(cl->topic),
                    RD_KAFKA_V_KEY(p->request_id, strlen(p->request_id)),
                    RD_KAFKA_V_VALUE((void *)p->json, p->len),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
                    waited >= QUEUE_FULL_WAIT_MS)
                        break;
                /* Room comes from acks: serve their reports. */
                rd_kafka_poll(cl->rk, 100);
                waited += 100;
        }
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
                snprintf(errstr, errstr_size,
                         "request is %zu bytes, over the producer's "
                         "message.max.bytes",
                         p->len);
                return TG_SUBMIT_INVALID;
        }
        if (err) {
                snprintf(errstr, errstr_size, "produce to %s: %s", cl->topic,
                         rd_kafka_err2str(err));
                return TG_SUBMIT_ERROR;
        }
        cl->inflight++;
        cl->inflight_bytes += p->len;
        return TG_SUBMIT_OK;
}

tg_submit_result_t tg_client_submit(tg_client_t *cl, const char *json,
                                    size_t len, const char *default_id,
                                    char *request_id_out, void *msg_opaque,
                                    char *errstr, size_t errstr_size)
{
        tg_prepared_t p;
        tg_submit_result_t r;

        if (tg_submit_prepare(json, len, default_id, cl->max_bytes, cl->catalog,
                              &p, errstr, errstr_size) != TG_PARSE_OK)
                return TG_SUBMIT_INVALID;
        if (request_id_out)
                memcpy(request_id_out, p.request_id, sizeof(p.request_id));
        r = tg_client_produce(cl, &p, msg_opaque, errstr, errstr_size);
        tg_prepared_release(&p);
        return r;
}
