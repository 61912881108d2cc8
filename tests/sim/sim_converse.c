/*
 * POST /model/{modelId}/converse, answered as the Converse API reference
 * documents it:
 *
 *   {"output": {"message": {"role": "assistant",
 *                           "content": [{"text": "..."}]}},
 *    "stopReason": "end_turn" | "max_tokens" | "stop_sequence",
 *    "usage": {"inputTokens": I, "outputTokens": O, "totalTokens": I+O,
 *              with cache points also "cacheReadInputTokens",
 *              "cacheWriteInputTokens" and "cacheDetails" (sim_cache.c)},
 *    "metrics": {"latencyMs": L},
 *    "serviceTier": {"type": the tier asked for, else "default"}}
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

/* usage with the prompt cache's split: inputTokens is what was neither
 * read from nor written to the cache (Bedrock's meaning), and the cache
 * fields appear when the request had cache points. */
static json_t *usage_json(const sim_prompt_t *p, const sim_cache_use_t *c,
                          uint64_t out_tokens)
{
        uint64_t in = p->text.input_tokens;
        uint64_t cached = c->read + c->write_5m + c->write_1h;
        json_t *u, *d;

        u = json_pack("{s:I,s:I,s:I}", "inputTokens", (json_int_t)(in - cached),
                      "outputTokens", (json_int_t)out_tokens, "totalTokens",
                      (json_int_t)(in + out_tokens));
        if (!u || !p->n_points)
                return u;
        json_object_set_new(u, "cacheReadInputTokens",
                            json_integer((json_int_t)c->read));
        json_object_set_new(
            u, "cacheWriteInputTokens",
            json_integer((json_int_t)(c->write_5m + c->write_1h)));
        if (!c->write_5m && !c->write_1h)
                return u;
        /* sorted 1h before 5m, as the service model documents */
        d = json_array();
        if (c->write_1h)
                json_array_append_new(d, json_pack("{s:s,s:I}", "ttl", "1h",
                                                   "inputTokens",
                                                   (json_int_t)c->write_1h));
        if (c->write_5m)
                json_array_append_new(d, json_pack("{s:s,s:I}", "ttl", "5m",
                                                   "inputTokens",
                                                   (json_int_t)c->write_5m));
        json_object_set_new(u, "cacheDetails", d);
        return u;
}

static json_t *converse_json(const sim_text_out_t *out, const sim_prompt_t *p,
                             const sim_cache_use_t *c, uint64_t latency_ms)
{
        return json_pack("{s:{s:{s:s,s:[{s:s}]}},s:s,s:o,s:{s:I},s:{s:s}}",
                         "output", "message", "role", "assistant", "content",
                         "text", out->text, "stopReason",
                         stop_reason(out->stop), "usage",
                         usage_json(p, c, out->tokens), "metrics", "latencyMs",
                         (json_int_t)latency_ms, "serviceTier", "type",
                         p->tier ? p->tier : "default");
}

void sim_converse(sim_ctx_t *ctx, sim_req_t *req,
                  const sim_knobs_snapshot_t *knobs)
{
        sim_reply_t *reply = &req->reply;
        sim_text_out_t out = {0};
        sim_prompt_t p;
        sim_cache_use_t cache;
        json_t *body = sim_req_json(req, reply);

        if (!body || sim_converse_validate(body, &p, reply))
                goto err;
        if (sim_text_generate(&p.text, knobs->output_tokens, p.max_tokens,
                              p.stops, p.n_stops, &out)) {
                sim_reply_error(reply, SIM_ERR_INTERNAL, NULL);
                goto err;
        }
        sim_cache_use(req->model_id, &p, &cache);
        sim_reply_value(reply, 200,
                        converse_json(&out, &p, &cache, req->latency_ms));
        reply->input_tokens = p.text.input_tokens;
        reply->output_tokens = out.tokens;
err:
        free(out.text);
        json_decref(body);
}
