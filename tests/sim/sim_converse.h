/* What the Converse validator extracts from a request body. */
#ifndef SIM_CONVERSE_H
#define SIM_CONVERSE_H

#include <jansson.h>

#include "sim_text.h"

#define SIM_STOPS_MAX        64
#define SIM_CACHE_POINTS_MAX 8

/* A cachePoint block: the prompt up to it (its hash and tokens so far)
 * may be cached for ttl_s seconds. */
typedef struct sim_cache_point {
        uint64_t hash;
        uint64_t tokens;
        int ttl_1h; /* "1h"; else 5 minutes */
} sim_cache_point_t;

struct sim_reply;

typedef struct sim_prompt {
        sim_text_in_t text;
        uint64_t max_tokens;              /* 0: not given */
        const char *stops[SIM_STOPS_MAX]; /* point into the JSON body */
        size_t n_stops;
        sim_cache_point_t points[SIM_CACHE_POINTS_MAX];
        size_t n_points;
        const char *tier; /* serviceTier.type asked for, NULL none */
} sim_prompt_t;

/* What the prompt cache made of a call (sim_cache.c). */
typedef struct sim_cache_use {
        uint64_t read, write_5m, write_1h; /* tokens */
} sim_cache_use_t;

/* sim_converse_ext.c: cachePoint, serviceTier and requestMetadata, checked
 * as Bedrock does (Smithy constraint messages). `where` names the block
 * ("messages.1.member.content.2" or "system.1"). */
int sim_validate_cache_point(json_t *cp, const char *where, sim_prompt_t *p,
                             struct sim_reply *reply);
int sim_validate_ext(json_t *body, sim_prompt_t *p, struct sim_reply *reply);

/* sim_cache.c: looks the prompt's cache points up and writes the rest;
 * thread safe. The model id is part of the key. */
void sim_cache_use(const char *model, const sim_prompt_t *p,
                   sim_cache_use_t *out);

/* sim_converse_validate.c: Bedrock's checks on a Converse body. */
int sim_converse_validate(json_t *body, sim_prompt_t *p,
                          struct sim_reply *reply);

/* Shared with InvokeModel's Nova body, which uses the same shapes. */
int sim_validate_messages(json_t *msgs, sim_prompt_t *p,
                          struct sim_reply *reply);
int sim_validate_system(json_t *sys, sim_prompt_t *p, struct sim_reply *reply);

#endif
