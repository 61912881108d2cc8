/*
 * Routing on the raw request path. Bedrock's URIs are
 * /model/{modelId}/converse and /model/{modelId}/invoke where {modelId} is
 * one percent-encoded path segment: "amazon.nova-lite-v1%3A0", or an ARN
 * with %3A and %2F. The label is decoded exactly once, as AWS does.
 */
#include <string.h>
#include <strings.h>

#include "sim.h"

static int hexval(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int sim_percent_decode(const char *in, size_t len, char *out, size_t size)
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                int c = (unsigned char)in[i];

                if (c == '%') {
                        int hi, lo;

                        if (i + 2 >= len)
                                return -1;
                        hi = hexval(in[i + 1]);
                        lo = hexval(in[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -1;
                        c = hi * 16 + lo;
                        i += 2;
                }
                if (c == 0 || o + 1 >= size)
                        return -1;
                out[o++] = (char)c;
        }
        out[o] = '\0';
        return (int)o;
}

sim_op_t sim_route(const char *raw_path, char *model_id, size_t model_size,
                   int *bad_encoding)
{
        const char *id, *slash;
        sim_op_t op;

        *bad_encoding = 0;
        model_id[0] = '\0';
        if (strncmp(raw_path, "/model/", 7))
                return SIM_OP_NONE;
        id = raw_path + 7;
        slash = strchr(id, '/');
        if (!slash || slash == id)
                return SIM_OP_NONE;
        if (!strcmp(slash, "/converse"))
                op = SIM_OP_CONVERSE;
        else if (!strcmp(slash, "/invoke"))
                op = SIM_OP_INVOKE;
        else
                return SIM_OP_NONE;
        if (sim_percent_decode(id, (size_t)(slash - id), model_id,
                               model_size) <= 0)
                *bad_encoding = 1;
        return op;
}

const char *sim_req_header(const sim_req_t *req, const char *name)
{
        for (int i = 0; i < req->n_headers; i++)
                if (!strcasecmp(req->headers[i].name, name))
                        return req->headers[i].value;
        return NULL;
}
