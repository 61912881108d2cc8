/*
 * The order AWS applies its checks in: a too-large body, authentication,
 * routing (unknown operations, undecodable model ids), the account quota, then
 * the operation's own validation. Only requests that pass all of these can draw
 * an injected fault, since a real model error needs a valid request.
 */
#include <string.h>
#include <time.h>

#include "sim.h"

/* Routing is decided before authentication, so that the stats can name
 * the operation of a rejected request, but answered after it. */
static int route(sim_req_t *req, int *bad_encoding)
{
        req->op = sim_route(req->raw_path, req->model_id, sizeof(req->model_id),
                            bad_encoding);
        if (strcmp(req->method, "POST"))
                req->op = SIM_OP_NONE;
        return req->op == SIM_OP_NONE ? -1 : 0;
}

static int route_error(sim_req_t *req, int routed, int bad_encoding)
{
        if (routed) {
                sim_reply_error(&req->reply, SIM_ERR_UNKNOWN_OPERATION, NULL);
                return -1;
        }
        if (bad_encoding) {
                sim_reply_error(&req->reply, SIM_ERR_VALIDATION,
                                "The provided model identifier is invalid.");
                return -1;
        }
        return 0;
}

static void inject_fault(sim_req_t *req, const sim_knobs_snapshot_t *k)
{
        int fault;

        if (req->reply.status != 200)
                return;
        fault = sim_knobs_pick_fault(k, &req->rng);
        if (fault >= 0)
                sim_reply_error(&req->reply, (sim_err_t)fault, NULL);
}

void sim_dispatch(sim_ctx_t *ctx, sim_req_t *req)
{
        sim_knobs_snapshot_t k;
        int unrouted, bad_encoding;

        if (req->admin) {
                sim_admin(ctx, req);
                return;
        }
        if (sim_aws_handle(ctx, req) || sim_control_handle(ctx, req))
                return;
        sim_knobs_get(&ctx->knobs, &k);
        if (req->body_overflow) {
                sim_reply_error(&req->reply, SIM_ERR_VALIDATION,
                                "Input is too long for requested model.");
                return;
        }
        unrouted = route(req, &bad_encoding);
        if (sim_auth_check(&ctx->auth, req, time(NULL), &req->reply) ||
            route_error(req, unrouted, bad_encoding))
                return;
        if (!sim_quota_take(&ctx->quota, k.quota_rps, sim_now_ns())) {
                sim_reply_error(&req->reply, SIM_ERR_THROTTLING, NULL);
                return;
        }
        req->latency_ms = sim_latency_sample(&k.latency, &req->rng);
        if (req->op == SIM_OP_CONVERSE)
                sim_converse(ctx, req, &k);
        else
                sim_invoke(ctx, req, &k);
        inject_fault(req, &k);
        /* Errors answer at once, as Bedrock's front end does; only
         * successful inferences take the simulated model time. */
        if (req->reply.status != 200)
                req->latency_ms = 0;
}
