/* What the Converse validator extracts from a request body. */
#ifndef SIM_CONVERSE_H
#define SIM_CONVERSE_H

#include <jansson.h>

#include "sim_text.h"

#define SIM_STOPS_MAX 64

struct sim_reply;

typedef struct sim_prompt {
        sim_text_in_t text;
        uint64_t max_tokens;              /* 0: not given */
        const char *stops[SIM_STOPS_MAX]; /* point into the JSON body */
        size_t n_stops;
} sim_prompt_t;

/* sim_converse_validate.c: Bedrock's checks on a Converse body. */
int sim_converse_validate(json_t *body, sim_prompt_t *p,
                          struct sim_reply *reply);

/* Shared with InvokeModel's Nova body, which uses the same shapes. */
int sim_validate_messages(json_t *msgs, sim_prompt_t *p,
                          struct sim_reply *reply);
int sim_validate_system(json_t *sys, sim_prompt_t *p, struct sim_reply *reply);

#endif
