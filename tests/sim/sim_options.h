/*
 * Command line and environment. Every flag has a TOLLGATE_SIM_* variable;
 * flags win over the environment. The simulator deliberately does not read
 * AWS_ACCESS_KEY_ID & co: a developer's real credentials in the
 * environment must not silently switch signature checking on.
 */
#ifndef SIM_OPTIONS_H
#define SIM_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim_knobs.h"

#define SIM_DEFAULT_PORT     18080
#define SIM_DEFAULT_MAX_BODY (8u * 1024 * 1024)
#define SIM_SECRET_MAX       4096

typedef struct sim_opts {
        char bind[64];
        unsigned port;
        unsigned threads; /* 0: one per CPU, at least 2 */
        unsigned max_connections;
        size_t max_body_bytes;
        uint64_t seed;
        int has_seed;
        int verbose;
        sim_knobs_snapshot_t knobs;
        char access_key_id[SIM_SECRET_MAX];
        char secret_access_key[SIM_SECRET_MAX];
        char session_token[SIM_SECRET_MAX];
        char bearer_token[SIM_SECRET_MAX];
        char region[64]; /* empty: any region */
        /* STS and IMDS (sim_aws.c) */
        char sts_access_key_id[256];
        char sts_secret_access_key[256];
        char web_identity_token[SIM_SECRET_MAX];
        char imds_role[128];
        uint64_t creds_lifetime_s; /* 0: 3600 */
} sim_opts_t;

/* Returns 0 to run, 1 when --help was printed, -1 with errstr filled. */
int sim_opts_parse(sim_opts_t *o, int argc, char **argv, char *errstr,
                   size_t errstr_size);
void sim_opts_usage(FILE *fp);

#endif
