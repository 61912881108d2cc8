/*
 * The other InvokeModel body formats: Amazon Nova (the Converse shapes
 * plus "max_new_tokens"), Meta Llama ({"prompt", "max_gen_len"}), Amazon
 * Titan Text ({"inputText", "textGenerationConfig"}) and a generic
 * fallback for anything else.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sim_invoke.h"

static int nova_parse(json_t *body, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *cfg = json_object_get(body, "inferenceConfig");
        json_t *max = json_object_get(cfg, "max_new_tokens");

        if (cfg && !json_is_object(cfg))
                return sim_invoke_malformed(reply, "#/inferenceConfig: "
                                                   "expected an object");
        if (!max)
                max = json_object_get(cfg, "maxTokens");
        if (sim_invoke_limit(max, "inferenceConfig/max_new_tokens", p, reply))
                return -1;
        return sim_validate_system(json_object_get(body, "system"), p, reply) ||
               sim_validate_messages(json_object_get(body, "messages"), p,
                                     reply);
}

static json_t *nova_render(const sim_text_out_t *out, const sim_prompt_t *p,
                           const char *model_id)
{
        uint64_t in = p->text.input_tokens;

        return json_pack("{s:{s:{s:[{s:s}],s:s}},s:s,s:{s:I,s:I,s:I}}",
                         "output", "message", "content", "text", out->text,
                         "role", "assistant", "stopReason",
                         out->stop == SIM_STOP_MAX ? "max_tokens" : "end_turn",
                         "usage", "inputTokens", (json_int_t)in, "outputTokens",
                         (json_int_t)out->tokens, "totalTokens",
                         (json_int_t)(in + out->tokens));
}

static int llama_parse(json_t *body, sim_prompt_t *p, sim_reply_t *reply)
{
        if (!json_object_get(body, "prompt"))
                return sim_invoke_malformed(reply, "#: required key [prompt] "
                                                   "not found");
        if (sim_invoke_text(json_object_get(body, "prompt"), "prompt", p,
                            reply) ||
            sim_invoke_limit(json_object_get(body, "max_gen_len"),
                             "max_gen_len", p, reply))
                return -1;
        sim_text_message(&p->text);
        return 0;
}

static json_t *llama_render(const sim_text_out_t *out, const sim_prompt_t *p,
                            const char *model_id)
{
        return json_pack("{s:s,s:I,s:I,s:s}", "generation", out->text,
                         "prompt_token_count", (json_int_t)p->text.input_tokens,
                         "generation_token_count", (json_int_t)out->tokens,
                         "stop_reason",
                         out->stop == SIM_STOP_MAX ? "length" : "stop");
}

static int titan_parse(json_t *body, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *cfg = json_object_get(body, "textGenerationConfig");

        if (!json_object_get(body, "inputText"))
                return sim_invoke_malformed(reply, "#: required key "
                                                   "[inputText] not found");
        if (sim_invoke_text(json_object_get(body, "inputText"), "inputText", p,
                            reply) ||
            sim_invoke_limit(json_object_get(cfg, "maxTokenCount"),
                             "textGenerationConfig/maxTokenCount", p, reply))
                return -1;
        sim_text_message(&p->text);
        return 0;
}

static json_t *titan_render(const sim_text_out_t *out, const sim_prompt_t *p,
                            const char *model_id)
{
        static const char *const reasons[] = {"FINISH", "LENGTH",
                                              "STOP_CRITERIA_MET"};

        return json_pack("{s:I,s:[{s:I,s:s,s:s}]}", "inputTextTokenCount",
                         (json_int_t)p->text.input_tokens, "results",
                         "tokenCount", (json_int_t)out->tokens, "outputText",
                         out->text, "completionReason", reasons[out->stop]);
}

/* Unknown families: a "prompt" or "inputText" string if there is one, else
 * the whole body counts as one text. */
static int generic_parse(json_t *body, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *text = json_object_get(body, "prompt");
        json_t *max = json_object_get(body, "max_tokens");

        if (!text)
                text = json_object_get(body, "inputText");
        if (text && sim_invoke_text(text, "prompt", p, reply))
                return -1;
        if (!text) {
                char *dump = json_dumps(body, JSON_COMPACT);

                sim_text_add(&p->text, dump ? dump : "",
                             dump ? strlen(dump) : 0);
                free(dump);
        }
        sim_text_message(&p->text);
        return sim_invoke_limit(max, "max_tokens", p, reply);
}

static json_t *generic_render(const sim_text_out_t *out, const sim_prompt_t *p,
                              const char *model_id)
{
        return json_pack("{s:[{s:s,s:s}]}", "outputs", "text", out->text,
                         "stop_reason",
                         out->stop == SIM_STOP_MAX ? "length" : "stop");
}

const sim_family_t sim_family_nova = {"nova", "amazon.nova", nova_parse,
                                      nova_render};
const sim_family_t sim_family_llama = {"llama", "meta.llama", llama_parse,
                                       llama_render};
const sim_family_t sim_family_titan = {"titan", "amazon.titan", titan_parse,
                                       titan_render};
const sim_family_t sim_family_generic = {"generic", NULL, generic_parse,
                                         generic_render};
