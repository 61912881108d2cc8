/*
 * POST /model/{modelId}/converse, answered as the Converse API reference
 * documents it:
 *
 *   {"output": {"message": {"role": "assistant",
 *                           "content": [{"text": "..."}]}},
 *    "stopReason": "end_turn" | "max_tokens" | "stop_sequence",
 *    "usage": {"inputTokens": I, "outputTokens": O, "totalTokens": I+O},
 *    "metrics": {"latencyMs": L}}
 */
#include <stdlib.h>

#include "sim.h"
#include "sim_converse.h"

static const char *stop_reason(sim_stop_t stop)
{
        switch (stop) {
        case SIM_STOP_MAX:
                return "max_tokens";
        case SIM_STOP_SEQUENCE:
                return "stop_sequence";
        default:
                return "end_turn";
        }
}

static json_t *converse_json(const sim_text_out_t *out, uint64_t in_tokens,
                             uint64_t latency_ms)
{
        return json_pack(
            "{s:{s:{s:s,s:[{s:s}]}},s:s,s:{s:I,s:I,s:I},s:{s:I}}", "output",
            "message", "role", "assistant", "content", "text", out->text,
            "stopReason", stop_reason(out->stop), "usage", "inputTokens",
            (json_int_t)in_tokens, "outputTokens", (json_int_t)out->tokens,
            "totalTokens", (json_int_t)(in_tokens + out->tokens), "metrics",
            "latencyMs", (json_int_t)latency_ms);
}

void sim_converse(sim_ctx_t *ctx, sim_req_t *req,
                  const sim_knobs_snapshot_t *knobs)
{
        sim_reply_t *reply = &req->reply;
        sim_text_out_t out = {0};
        sim_prompt_t p;
        json_t *body = sim_req_json(req, reply);

        if (!body || sim_converse_validate(body, &p, reply))
                goto err;
        if (sim_text_generate(&p.text, knobs->output_tokens, p.max_tokens,
                              p.stops, p.n_stops, &out)) {
                sim_reply_error(reply, SIM_ERR_INTERNAL, NULL);
                goto err;
        }
        sim_reply_value(
            reply, 200,
            converse_json(&out, p.text.input_tokens, req->latency_ms));
        reply->input_tokens = p.text.input_tokens;
        reply->output_tokens = out.tokens;
err:
        free(out.text);
        json_decref(body);
}
