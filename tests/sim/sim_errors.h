/*
 * Bedrock's error types as they appear on the wire (restJson1): status
 * code, "x-amzn-ErrorType: <Type>:<namespace URI>" and a JSON body
 * {"message": "..."}. Clients (botocore, the AWS SDKs, tollgate) keep the
 * part of the header before the first ':'.
 */
#ifndef SIM_ERRORS_H
#define SIM_ERRORS_H

#include <stddef.h>

struct sim_reply;

typedef enum sim_err {
        /* Bedrock Runtime's modeled errors: these can be injected. */
        SIM_ERR_ACCESS_DENIED,
        SIM_ERR_VALIDATION,
        SIM_ERR_RESOURCE_NOT_FOUND,
        SIM_ERR_THROTTLING,
        SIM_ERR_MODEL_NOT_READY,
        SIM_ERR_SERVICE_QUOTA,
        SIM_ERR_INTERNAL,
        SIM_ERR_UNAVAILABLE,
        SIM_ERR_MODEL_TIMEOUT,
        SIM_ERR_MODEL_ERROR,
        SIM_ERR_N_INJECTABLE,
        /* The AWS front door's errors (authentication, routing). */
        SIM_ERR_UNRECOGNIZED_CLIENT = SIM_ERR_N_INJECTABLE,
        SIM_ERR_INVALID_SIGNATURE,
        SIM_ERR_INCOMPLETE_SIGNATURE,
        SIM_ERR_MISSING_AUTH,
        SIM_ERR_UNKNOWN_OPERATION,
        /* The control plane's (sim_control*.c). */
        SIM_ERR_CONFLICT,
        SIM_ERR_TOO_MANY_TAGS,
        SIM_ERR_COUNT
} sim_err_t;

typedef struct sim_err_info {
        const char *name;
        int status;
        const char *ns;
        const char *message; /* default message */
} sim_err_info_t;

const sim_err_info_t *sim_err_info(sim_err_t err);
/* Injectable error by type name, or -1. */
int sim_err_lookup(const char *name);

/* Fills reply with the error; message NULL means the type's default. */
void sim_reply_error(struct sim_reply *reply, sim_err_t err,
                     const char *message);
/* printf-style message. */
void sim_reply_errorf(struct sim_reply *reply, sim_err_t err, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));
/* As sim_reply_error with the message under another key: Bedrock's API-key
 * front end answers {"Message": ...} with a capital M. */
void sim_reply_error_key(struct sim_reply *reply, sim_err_t err,
                         const char *key, const char *message);

#endif
