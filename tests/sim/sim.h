/*
 * tollgate-bedrock-sim: shared types.
 *
 * The simulator speaks Amazon Bedrock Runtime's wire protocol (restJson1)
 * so that tollgate's worker, boto3 and the fault tests can run against it
 * without an AWS account. One sim_ctx_t per process; one sim_req_t per HTTP
 * request, created when MHD sees the request line and freed when MHD
 * reports the request complete.
 */
#ifndef SIM_H
#define SIM_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dynbuf.h"
#include "sim_auth.h"
#include "sim_clock.h"
#include "sim_control.h"
#include "sim_errors.h"
#include "sim_knobs.h"
#include "sim_options.h"
#include "sim_quota.h"
#include "sim_rng.h"
#include "sim_stats.h"
#include "sim_timer.h"

#define SIM_MAX_REQ_HEADERS   64
#define SIM_MAX_REPLY_HEADERS 4
#define SIM_MODEL_ID_MAX      2048
#define SIM_ERRSTR_SIZE       512

typedef enum sim_op {
        SIM_OP_NONE, /* not routed yet or unknown path */
        SIM_OP_CONVERSE,
        SIM_OP_INVOKE,
        SIM_OP_ADMIN,
} sim_op_t;

typedef struct sim_header {
        const char *name; /* owned by MHD for the request's lifetime */
        const char *value;
} sim_header_t;

/* What a handler answers; the server turns it into an MHD response. */
typedef struct sim_reply {
        int status;
        char *body; /* malloc'd, owned until queued */
        size_t body_len;
        const char *content_type;
        int is_error; /* then error sets x-amzn-ErrorType */
        sim_err_t error;
        int auth_failure;
        int n_headers;
        struct {
                const char *name; /* static */
                char value[32];
        } headers[SIM_MAX_REPLY_HEADERS];
        uint64_t input_tokens;
        uint64_t output_tokens;
} sim_reply_t;

typedef struct sim_req {
        char *raw_uri; /* as received, before any unescaping */
        const char *raw_path;
        const char *raw_query; /* NULL when absent */
        const char *method;
        sim_header_t headers[SIM_MAX_REQ_HEADERS];
        int n_headers;
        int too_many_headers;
        tg_dynbuf_t body;  /* capped at max_body_bytes (common/dynbuf.h) */
        int body_overflow; /* declared or sent over that cap */
        int started;
        int admin;
        int reply_ready;
        sim_op_t op;
        char model_id[SIM_MODEL_ID_MAX + 1];
        char request_id[37];
        uint64_t seq;
        sim_rng_t rng;
        uint64_t latency_ms;
        sim_reply_t reply;
} sim_req_t;

typedef struct sim_ctx {
        sim_opts_t opts;
        sim_knobs_t knobs;
        sim_quota_t quota;
        sim_stats_t stats;
        sim_timer_t timer;
        sim_auth_cfg_t auth;
        atomic_uint_fast64_t seq;
        uint64_t seed;
        struct MHD_Daemon *daemon;
        unsigned short port;
        time_t started; /* STS/IMDS credential generations count from it */
        sim_control_t *control; /* the control plane (sim_control.h) */
} sim_ctx_t;

/* sim_server.c */
int sim_server_start(sim_ctx_t *ctx, char *errstr, size_t errstr_size);
void sim_server_stop(sim_ctx_t *ctx);

/* sim_dispatch.c: everything between "body complete" and "reply ready". */
void sim_dispatch(sim_ctx_t *ctx, sim_req_t *req);

/* sim_route.c */
sim_op_t sim_route(const char *raw_path, char *model_id, size_t model_size,
                   int *bad_encoding);
int sim_percent_decode(const char *in, size_t len, char *out, size_t size);

/* sim_converse.c / sim_invoke.c / sim_admin.c */
void sim_converse(sim_ctx_t *ctx, sim_req_t *req,
                  const sim_knobs_snapshot_t *knobs);
void sim_invoke(sim_ctx_t *ctx, sim_req_t *req,
                const sim_knobs_snapshot_t *knobs);
void sim_admin(sim_ctx_t *ctx, sim_req_t *req);

/* sim_aws.c: STS (POST / with Action=...) and IMDSv2 (/latest/...). 1 when
 * the request was one of theirs (reply filled), else 0. */
int sim_aws_handle(sim_ctx_t *ctx, sim_req_t *req);

/* sim_reply.c */
void sim_reply_json(sim_reply_t *reply, int status, char *body);
void sim_reply_text(sim_reply_t *reply, int status, const char *text);
void sim_reply_header(sim_reply_t *reply, const char *name, uint64_t value);
void sim_reply_clear(sim_reply_t *reply);
/* Dumps value as the body and drops the reference. */
void sim_reply_value(sim_reply_t *reply, int status, json_t *value);
/* The body as a JSON object, or NULL with a ValidationException set. */
json_t *sim_req_json(const sim_req_t *req, sim_reply_t *reply);
const char *sim_req_header(const sim_req_t *req, const char *name);

#endif
