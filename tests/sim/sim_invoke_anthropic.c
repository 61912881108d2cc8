/*
 * Anthropic Claude's Messages body on Bedrock:
 *   {"anthropic_version": "bedrock-2023-05-31", "max_tokens": N,
 *    "system": "..." | [{"type":"text","text":...}],
 *    "messages": [{"role": "user", "content": "..." | [blocks]}], ...}
 * answered with {"id", "type": "message", "role": "assistant", "content":
 * [{"type": "text", "text"}], "stop_reason", "usage": {"input_tokens",
 * "output_tokens"}}.
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "sim_invoke.h"

/* A string, or a list of blocks of which only "text" ones count. */
static int anthropic_content(json_t *c, const char *name, sim_prompt_t *p,
                             sim_reply_t *reply)
{
        json_t *block;
        size_t i;

        if (json_is_string(c))
                return sim_invoke_text(c, name, p, reply);
        if (!json_is_array(c))
                return sim_invoke_malformed(reply,
                                            "#/messages: content must be a "
                                            "string or a list of blocks");
        json_array_foreach(c, i, block)
        {
                json_t *text = json_object_get(block, "text");

                if (text && sim_invoke_text(text, name, p, reply))
                        return -1;
        }
        return 0;
}

static int anthropic_messages(json_t *msgs, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *m;
        size_t i;

        if (!json_array_size(msgs))
                return sim_invoke_malformed(reply,
                                            "#: required key [messages] not "
                                            "found or empty");
        json_array_foreach(msgs, i, m)
        {
                const char *role =
                    json_string_value(json_object_get(m, "role"));

                if (!role ||
                    (strcmp(role, "user") && strcmp(role, "assistant")))
                        return sim_invoke_malformed(
                            reply, "#/messages: role must be user or "
                                   "assistant");
                if (anthropic_content(json_object_get(m, "content"),
                                      "messages/content", p, reply))
                        return -1;
                sim_text_message(&p->text);
        }
        return 0;
}

static int anthropic_stops(json_t *v, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *s;
        size_t i;

        if (!v)
                return 0;
        if (!json_is_array(v) || json_array_size(v) > SIM_STOPS_MAX)
                return sim_invoke_malformed(reply, "#/stop_sequences: "
                                                   "expected a short list");
        json_array_foreach(v, i, s)
        {
                if (!json_is_string(s))
                        return sim_invoke_malformed(
                            reply, "#/stop_sequences: expected strings");
                p->stops[p->n_stops++] = json_string_value(s);
        }
        return 0;
}

static int anthropic_parse(json_t *body, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *sys = json_object_get(body, "system");

        if (!json_is_string(json_object_get(body, "anthropic_version")))
                return sim_invoke_malformed(reply,
                                            "#: required key "
                                            "[anthropic_version] not found");
        if (!json_object_get(body, "max_tokens"))
                return sim_invoke_malformed(reply, "#: required key "
                                                   "[max_tokens] not found");
        if (sim_invoke_limit(json_object_get(body, "max_tokens"), "max_tokens",
                             p, reply) ||
            (sys && anthropic_content(sys, "system", p, reply)) ||
            anthropic_stops(json_object_get(body, "stop_sequences"), p, reply))
                return -1;
        return anthropic_messages(json_object_get(body, "messages"), p, reply);
}

static json_t *anthropic_render(const sim_text_out_t *out,
                                const sim_prompt_t *p, const char *model_id)
{
        static const char *const reasons[] = {"end_turn", "max_tokens",
                                              "stop_sequence"};
        char id[40];

        snprintf(id, sizeof(id), "msg_bdrk_%016llx",
                 (unsigned long long)p->text.hash);
        return json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s}],s:s,s:n,s:{s:I,s:I}}",
                         "id", id, "type", "message", "role", "assistant",
                         "model", model_id, "content", "type", "text", "text",
                         out->text, "stop_reason", reasons[out->stop],
                         "stop_sequence", "usage", "input_tokens",
                         (json_int_t)p->text.input_tokens, "output_tokens",
                         (json_int_t)out->tokens);
}

const sim_family_t sim_family_anthropic = {"anthropic", "anthropic.",
                                           anthropic_parse, anthropic_render};
