/*
 * Test-only endpoints, under paths AWS never uses: GET /healthz,
 * GET /_sim/stats, POST /_sim/reset, GET and POST /_sim/config. They need
 * no signature and are not counted in the stats.
 */
#include <string.h>

#include "sim.h"

static void admin_error(sim_reply_t *reply, int status, const char *message)
{
        sim_reply_value(reply, status, json_pack("{s:s}", "message", message));
}

static void admin_config(sim_ctx_t *ctx, sim_req_t *req)
{
        sim_knobs_snapshot_t snap;
        char errstr[SIM_ERRSTR_SIZE];

        if (!strcmp(req->method, "POST")) {
                json_error_t jerr;
                json_t *changes =
                    json_loadb(tg_dynbuf_ptr(&req->body),
                               tg_dynbuf_len(&req->body), 0, &jerr);
                int rc = sim_knobs_apply_json(&ctx->knobs, changes, errstr,
                                              sizeof(errstr));

                json_decref(changes);
                if (rc) {
                        admin_error(&req->reply, 400, errstr);
                        return;
                }
        }
        sim_knobs_get(&ctx->knobs, &snap);
        sim_reply_value(&req->reply, 200, sim_knobs_to_json(&snap));
}

void sim_admin(sim_ctx_t *ctx, sim_req_t *req)
{
        const char *path = req->raw_path;
        int get = !strcmp(req->method, "GET");
        int post = !strcmp(req->method, "POST");

        if (!strcmp(path, "/healthz") && get)
                sim_reply_text(&req->reply, 200, "ok");
        else if (!strcmp(path, "/_sim/stats") && get)
                sim_reply_value(&req->reply, 200,
                                sim_stats_to_json(&ctx->stats));
        else if (!strcmp(path, "/_sim/reset") && post) {
                sim_stats_reset(&ctx->stats);
                sim_reply_value(&req->reply, 200,
                                sim_stats_to_json(&ctx->stats));
        } else if (!strcmp(path, "/_sim/config") && (get || post))
                admin_config(ctx, req);
        else if (!strncmp(path, "/_sim/control", 13))
                sim_control_admin(ctx, req);
        else
                admin_error(&req->reply, 404, "no such admin endpoint");
}
