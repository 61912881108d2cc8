/* Between the Authorization parser and the signature verifier. */
#ifndef SIM_AUTH_INT_H
#define SIM_AUTH_INT_H

#include <time.h>

#include "sim_auth.h"

/* The parts of "Authorization: AWS4-HMAC-SHA256 Credential=..., ...". */
typedef struct sim_sigv4_auth {
        char credential[512];
        char signed_headers[1024];
        char signature[128];
        char akid[256];
        char date[16];
        char region[64];
        char service[64];
        char term[32];
} sim_sigv4_auth_t;

/* Checks X-Amz-Date and recomputes the signature. */
int sim_auth_sigv4_verify(const sim_auth_cfg_t *cfg, const sim_sigv4_auth_t *a,
                          const struct sim_req *req, time_t now,
                          struct sim_reply *reply);

#endif
