/*
 * InvokeModel speaks each model family's own body format. A family knows
 * how to read a request body into a sim_prompt_t and how to render the
 * generated reply.
 */
#ifndef SIM_INVOKE_H
#define SIM_INVOKE_H

#include <jansson.h>

#include "sim_converse.h"

struct sim_reply;

typedef struct sim_family {
        const char *name;
        const char *match; /* substring of the model id, NULL: fallback */
        int (*parse)(json_t *body, sim_prompt_t *p, struct sim_reply *reply);
        json_t *(*render)(const sim_text_out_t *out, const sim_prompt_t *p,
                          const char *model_id);
} sim_family_t;

const sim_family_t *sim_family_for(const char *model_id);

/* "Malformed input request: <what>, please reformat your input and try
 * again.", Bedrock's answer to a body its model schema rejects. */
int sim_invoke_malformed(struct sim_reply *reply, const char *what);
/* Adds a text that is a JSON string; non-strings are malformed. */
int sim_invoke_text(json_t *v, const char *name, sim_prompt_t *p,
                    struct sim_reply *reply);
/* Reads an optional positive integer token limit. */
int sim_invoke_limit(json_t *v, const char *name, sim_prompt_t *p,
                     struct sim_reply *reply);

extern const sim_family_t sim_family_anthropic;
extern const sim_family_t sim_family_nova;
extern const sim_family_t sim_family_llama;
extern const sim_family_t sim_family_titan;
extern const sim_family_t sim_family_generic;

#endif
