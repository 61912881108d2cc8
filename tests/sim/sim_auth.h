/*
 * Authentication as Bedrock's front door does it: AWS Signature Version 4
 * (recomputed with tollgate's own signer over the raw wire path and the
 * signed headers as received) or a Bedrock API key sent as a bearer token.
 * Without configured credentials every request is accepted.
 */
#ifndef SIM_AUTH_H
#define SIM_AUTH_H

#include <time.h>

struct sim_req;
struct sim_reply;

/* AWS rejects signatures dated further than this from its clock. */
#define SIM_AUTH_MAX_SKEW_S 300

typedef struct sim_auth_cfg {
        const char *access_key_id; /* NULL: SigV4 not accepted */
        const char *secret_access_key;
        const char *session_token; /* NULL: none expected */
        const char *bearer_token;  /* NULL: bearer not accepted */
        const char *region;        /* NULL: any region */
        const char *service;       /* "bedrock" */
} sim_auth_cfg_t;

int sim_auth_enabled(const sim_auth_cfg_t *cfg);
/* Returns 0 when the request may proceed, else fills reply and returns -1. */
int sim_auth_check(const sim_auth_cfg_t *cfg, const struct sim_req *req,
                   time_t now, struct sim_reply *reply);

#endif
