/*
 * POST /model/{modelId}/invoke. The body is model-native; the token
 * counts and latency also travel in X-Amzn-Bedrock-Input-Token-Count,
 * X-Amzn-Bedrock-Output-Token-Count and X-Amzn-Bedrock-Invocation-Latency,
 * as Bedrock sends them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sim_invoke.h"

const sim_family_t *sim_family_for(const char *model_id)
{
        static const sim_family_t *const all[] = {
            &sim_family_anthropic, &sim_family_nova, &sim_family_llama,
            &sim_family_titan};

        /* Substring match also covers ARNs and inference profiles such as
         * "us.anthropic.claude-3-haiku-20240307-v1:0". */
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                if (strstr(model_id, all[i]->match))
                        return all[i];
        return &sim_family_generic;
}

int sim_invoke_malformed(sim_reply_t *reply, const char *what)
{
        sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                         "Malformed input request: %s, please reformat your "
                         "input and try again.",
                         what);
        return -1;
}

int sim_invoke_text(json_t *v, const char *name, sim_prompt_t *p,
                    sim_reply_t *reply)
{
        char what[128];

        if (json_is_string(v)) {
                sim_text_add(&p->text, json_string_value(v),
                             json_string_length(v));
                return 0;
        }
        snprintf(what, sizeof(what), "#/%s: expected type: String", name);
        return sim_invoke_malformed(reply, what);
}

int sim_invoke_limit(json_t *v, const char *name, sim_prompt_t *p,
                     sim_reply_t *reply)
{
        char what[128];

        if (!v)
                return 0;
        if (json_is_integer(v) && json_integer_value(v) >= 1) {
                p->max_tokens = (uint64_t)json_integer_value(v);
                return 0;
        }
        snprintf(what, sizeof(what), "#/%s: must be an integer >= 1", name);
        return sim_invoke_malformed(reply, what);
}

static void token_headers(sim_reply_t *reply, uint64_t in, uint64_t out,
                          uint64_t latency_ms)
{
        sim_reply_header(reply, "X-Amzn-Bedrock-Input-Token-Count", in);
        sim_reply_header(reply, "X-Amzn-Bedrock-Output-Token-Count", out);
        sim_reply_header(reply, "X-Amzn-Bedrock-Invocation-Latency",
                         latency_ms);
        reply->input_tokens = in;
        reply->output_tokens = out;
}

void sim_invoke(sim_ctx_t *ctx, sim_req_t *req,
                const sim_knobs_snapshot_t *knobs)
{
        const sim_family_t *fam = sim_family_for(req->model_id);
        sim_reply_t *reply = &req->reply;
        sim_text_out_t out = {0};
        sim_prompt_t p;
        json_t *body = sim_req_json(req, reply);

        memset(&p, 0, sizeof(p));
        sim_text_in_init(&p.text);
        if (!body || fam->parse(body, &p, reply))
                goto err;
        if (sim_text_generate(&p.text, knobs->output_tokens, p.max_tokens,
                              p.stops, p.n_stops, &out)) {
                sim_reply_error(reply, SIM_ERR_INTERNAL, NULL);
                goto err;
        }
        sim_reply_value(reply, 200, fam->render(&out, &p, req->model_id));
        token_headers(reply, p.text.input_tokens, out.tokens, req->latency_ms);
err:
        free(out.text);
        json_decref(body);
}
