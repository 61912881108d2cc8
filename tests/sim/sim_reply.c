#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void sim_reply_clear(sim_reply_t *reply)
{
        free(reply->body);
        memset(reply, 0, sizeof(*reply));
}

void sim_reply_json(sim_reply_t *reply, int status, char *body)
{
        sim_reply_clear(reply);
        reply->status = status;
        reply->body = body;
        reply->body_len = body ? strlen(body) : 0;
        reply->content_type = "application/json";
}

void sim_reply_text(sim_reply_t *reply, int status, const char *text)
{
        sim_reply_clear(reply);
        reply->status = status;
        reply->body = strdup(text);
        reply->body_len = reply->body ? strlen(text) : 0;
        reply->content_type = "text/plain";
}

void sim_reply_header(sim_reply_t *reply, const char *name, uint64_t value)
{
        if (reply->n_headers >= SIM_MAX_REPLY_HEADERS)
                return;
        reply->headers[reply->n_headers].name = name;
        snprintf(reply->headers[reply->n_headers].value,
                 sizeof(reply->headers[0].value), "%llu",
                 (unsigned long long)value);
        reply->n_headers++;
}

void sim_reply_value(sim_reply_t *reply, int status, json_t *value)
{
        sim_reply_json(reply, status, json_dumps(value, JSON_COMPACT));
        json_decref(value);
}

json_t *sim_req_json(const sim_req_t *req, sim_reply_t *reply)
{
        json_error_t jerr;
        json_t *root = NULL;

        if (tg_dynbuf_len(&req->body))
                root = json_loadb(tg_dynbuf_ptr(&req->body),
                                  tg_dynbuf_len(&req->body),
                                  JSON_REJECT_DUPLICATES, &jerr);
        if (json_is_object(root))
                return root;
        json_decref(root);
        sim_reply_error(reply, SIM_ERR_VALIDATION, NULL);
        return NULL;
}
