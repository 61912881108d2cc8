/* sim_control's inside, shared by sim_control*.c only. */
#ifndef SIM_CONTROL_INT_H
#define SIM_CONTROL_INT_H

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "sim.h"
#include "sim_control.h"

#define SIMC_PROFILES_MAX 1000 /* AWS's default quota is lower */
#define SIMC_TAGS_MAX     200
#define SIMC_MODELS_MAX   5
#define SIMC_RULES_MAX    16
#define SIMC_ACCOUNT      "123456789012"

typedef enum simc_op {
        SIMC_CREATE,
        SIMC_GET,
        SIMC_LIST,
        SIMC_DELETE,
        SIMC_LIST_TAGS,
        SIMC_N_OPS
} simc_op_t;

extern const char *const simc_op_names[SIMC_N_OPS];

typedef struct simc_profile {
        char *name, *id, *arn, *description, *token;
        char *models[SIMC_MODELS_MAX];
        int n_models;
        json_t *tags; /* [{"key","value"}], owned */
        time_t created;
} simc_profile_t;

typedef struct simc_rule {
        simc_op_t op;
        sim_err_t error;
        char match[128]; /* "" matches every request */
        long times;      /* <= 0: always */
} simc_rule_t;

struct sim_control {
        pthread_mutex_t lock;
        simc_profile_t *profiles[SIMC_PROFILES_MAX];
        int n_profiles;
        unsigned long long next_id;
        unsigned long long calls[SIMC_N_OPS];
        simc_rule_t rules[SIMC_RULES_MAX];
        int n_rules;
        int page_size;
};

/* sim_control_ops.c: each runs with c->lock held and fills req->reply. */
void simc_create(sim_control_t *c, const char *region, sim_req_t *req);
void simc_get(sim_control_t *c, const char *region, const char *ident,
              sim_req_t *req);
void simc_list(sim_control_t *c, sim_req_t *req);
void simc_delete(sim_control_t *c, const char *ident, sim_req_t *req);
void simc_list_tags(sim_control_t *c, sim_req_t *req);
void simc_profile_free(simc_profile_t *p);

/* sim_control.c: the injected fault for op on a request naming `subject`,
 * or -1; counts the rule's use. Lock held. */
int simc_fault(sim_control_t *c, simc_op_t op, const char *subject);

#endif
