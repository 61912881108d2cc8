/*
 * Converse request validation with the messages Bedrock answers. Smithy
 * constraint failures read "1 validation error detected: Value 'x' at
 * 'path' failed to satisfy constraint: ..." with 1-based list indexes in
 * the path; Bedrock's own conversation checks use 0-based ones.
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "sim_converse.h"

#define SMITHY "1 validation error detected: "

static int malformed(sim_reply_t *reply, const char *path, const char *want)
{
        sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                         "Malformed input request: %s must be %s, please "
                         "reformat your input and try again.",
                         path, want);
        return -1;
}

static int validate_block(json_t *block, size_t mi, size_t bi, sim_prompt_t *p,
                          sim_reply_t *reply)
{
        json_t *text = json_object_get(block, "text");
        char where[96];

        if (!json_is_object(block))
                return malformed(reply, "a content block", "an object");
        snprintf(where, sizeof(where), "messages.%zu.member.content.%zu",
                 mi + 1, bi + 1);
        if (json_object_get(block, "cachePoint"))
                return sim_validate_cache_point(
                    json_object_get(block, "cachePoint"), where, p, reply);
        /* Images, documents, tool use and cachePoint are accepted and
         * cost nothing here: only text is counted. */
        if (!text)
                return 0;
        if (!json_is_string(text))
                return malformed(reply, "text", "a string");
        if (strspn(json_string_value(text), " \t\r\n") ==
            json_string_length(text)) {
                sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                                 "The text field in the ContentBlock object "
                                 "at messages.%zu.content.%zu is blank. Add "
                                 "text to the text field, and try again.",
                                 mi, bi);
                return -1;
        }
        sim_text_add(&p->text, json_string_value(text),
                     json_string_length(text));
        return 0;
}

static int validate_role(json_t *role, size_t mi, const char **prev,
                         sim_reply_t *reply)
{
        const char *r = json_string_value(role);

        if (!r)
                return malformed(reply, "role", "a string");
        if (strcmp(r, "user") && strcmp(r, "assistant")) {
                sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                                 SMITHY "Value '%.64s' at "
                                        "'messages.%zu.member.role' failed "
                                        "to satisfy constraint: Member must "
                                        "satisfy enum value set: [user, "
                                        "assistant]",
                                 r, mi + 1);
                return -1;
        }
        if (!*prev ? strcmp(r, "user") : !strcmp(r, *prev)) {
                sim_reply_error(
                    reply, SIM_ERR_VALIDATION,
                    !*prev ? "A conversation must start with a user "
                             "message. Try again with a conversation that "
                             "starts with a user message."
                           : "A conversation must alternate between user "
                             "and assistant roles. Make sure the "
                             "conversation alternates between user and "
                             "assistant roles and try again.");
                return -1;
        }
        *prev = r;
        return 0;
}

static int validate_message(json_t *m, size_t mi, const char **prev,
                            sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *content = json_object_get(m, "content");
        json_t *block;
        size_t bi;

        if (!json_is_object(m))
                return malformed(reply, "a message", "an object");
        if (validate_role(json_object_get(m, "role"), mi, prev, reply))
                return -1;
        if (content && !json_is_array(content))
                return malformed(reply, "content", "a list");
        if (!json_array_size(content)) {
                sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                                 "The content field in the Message object at "
                                 "messages.%zu is empty. Add a ContentBlock "
                                 "object to the content field and try again.",
                                 mi);
                return -1;
        }
        json_array_foreach(content, bi, block)
        {
                if (validate_block(block, mi, bi, p, reply))
                        return -1;
        }
        sim_text_message(&p->text);
        return 0;
}

int sim_validate_messages(json_t *msgs, sim_prompt_t *p, sim_reply_t *reply)
{
        const char *prev = NULL;
        json_t *m;
        size_t mi;

        if (msgs && !json_is_array(msgs))
                return malformed(reply, "messages", "a list");
        if (!json_array_size(msgs)) {
                sim_reply_error(reply, SIM_ERR_VALIDATION,
                                "A conversation must start with a user "
                                "message. Try again with a conversation that "
                                "starts with a user message.");
                return -1;
        }
        json_array_foreach(msgs, mi, m)
        {
                if (validate_message(m, mi, &prev, p, reply))
                        return -1;
        }
        return 0;
}

int sim_validate_system(json_t *sys, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *block, *text;
        size_t i;

        if (!sys)
                return 0;
        if (!json_is_array(sys))
                return malformed(reply, "system", "a list");
        json_array_foreach(sys, i, block)
        {
                char where[48];

                if (!json_is_object(block))
                        return malformed(reply, "a system block", "an object");
                snprintf(where, sizeof(where), "system.%zu", i + 1);
                if (json_object_get(block, "cachePoint")) {
                        if (sim_validate_cache_point(
                                json_object_get(block, "cachePoint"), where, p,
                                reply))
                                return -1;
                        continue;
                }
                if (!(text = json_object_get(block, "text")))
                        continue;
                if (!json_is_string(text))
                        return malformed(reply, "system text", "a string");
                sim_text_add(&p->text, json_string_value(text),
                             json_string_length(text));
        }
        return 0;
}

static int validate_range(json_t *v, const char *name, sim_reply_t *reply)
{
        double d;

        if (!v)
                return 0;
        if (!json_is_number(v))
                return malformed(reply, name, "a number");
        d = json_number_value(v);
        if (d >= 0 && d <= 1)
                return 0;
        sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                         SMITHY "Value '%g' at 'inferenceConfig.%s' failed to "
                                "satisfy constraint: Member must have value "
                                "%s",
                         d, name,
                         d < 0 ? "greater than or equal to 0"
                               : "less than or equal to 1");
        return -1;
}

static int validate_max_tokens(json_t *v, sim_prompt_t *p, sim_reply_t *reply)
{
        if (!v)
                return 0;
        if (!json_is_integer(v))
                return malformed(reply, "maxTokens", "an integer");
        if (json_integer_value(v) < 1) {
                sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                                 SMITHY "Value '%lld' at "
                                        "'inferenceConfig.maxTokens' failed "
                                        "to satisfy constraint: Member must "
                                        "have value greater than or equal "
                                        "to 1",
                                 (long long)json_integer_value(v));
                return -1;
        }
        p->max_tokens = (uint64_t)json_integer_value(v);
        return 0;
}

static int validate_stops(json_t *v, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *s;
        size_t i;

        if (!v)
                return 0;
        if (!json_is_array(v) || json_array_size(v) > SIM_STOPS_MAX)
                return malformed(reply, "stopSequences",
                                 "a list of at most 64 strings");
        json_array_foreach(v, i, s)
        {
                if (!json_is_string(s))
                        return malformed(reply, "a stop sequence", "a string");
                p->stops[p->n_stops++] = json_string_value(s);
        }
        return 0;
}

static int validate_inference(json_t *cfg, sim_prompt_t *p, sim_reply_t *reply)
{
        if (!cfg)
                return 0;
        if (!json_is_object(cfg))
                return malformed(reply, "inferenceConfig", "an object");
        /* Unknown members (Nova's topK and the like) are ignored. */
        return validate_max_tokens(json_object_get(cfg, "maxTokens"), p,
                                   reply) ||
               validate_range(json_object_get(cfg, "temperature"),
                              "temperature", reply) ||
               validate_range(json_object_get(cfg, "topP"), "topP", reply) ||
               validate_stops(json_object_get(cfg, "stopSequences"), p, reply);
}

int sim_converse_validate(json_t *body, sim_prompt_t *p, sim_reply_t *reply)
{
        /* additionalModelRequestFields is a Document, any JSON (e.g.
         * Anthropic's {"top_k": 200}), passed to the model unchecked. */
        memset(p, 0, sizeof(*p));
        sim_text_in_init(&p->text);
        if (sim_validate_system(json_object_get(body, "system"), p, reply) ||
            sim_validate_messages(json_object_get(body, "messages"), p,
                                  reply) ||
            validate_inference(json_object_get(body, "inferenceConfig"), p,
                               reply) ||
            sim_validate_ext(body, p, reply))
                return -1;
        return 0;
}
