#include "sim_errors.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

/* Modeled Bedrock errors carry Bedrock's coral namespace, the front door's
 * authentication errors the generic coral service one, as AWS sends them. */
#define NS_BEDROCK "http://internal.amazon.com/coral/com.amazon.bedrock/"
#define NS_CORAL   "http://internal.amazon.com/coral/com.amazon.coral.service/"

/* Default messages follow the wording AWS uses for each type. */
static const sim_err_info_t sim_errs[SIM_ERR_COUNT] = {
    [SIM_ERR_ACCESS_DENIED] = {"AccessDeniedException", 403, NS_BEDROCK,
                               "You don't have access to the model with the "
                               "specified model ID."},
    [SIM_ERR_VALIDATION] = {"ValidationException", 400, NS_BEDROCK,
                            "Malformed input request, please reformat your "
                            "input and try again."},
    [SIM_ERR_RESOURCE_NOT_FOUND] = {"ResourceNotFoundException", 404,
                                    NS_BEDROCK,
                                    "Could not resolve the foundation model "
                                    "from the provided model identifier."},
    [SIM_ERR_THROTTLING] = {"ThrottlingException", 429, NS_BEDROCK,
                            "Too many requests, please wait before trying "
                            "again."},
    [SIM_ERR_MODEL_NOT_READY] = {"ModelNotReadyException", 429, NS_BEDROCK,
                                 "Model is not ready to serve inference "
                                 "requests. The AWS SDK will automatically "
                                 "retry the operation up to 5 times."},
    [SIM_ERR_SERVICE_QUOTA] = {"ServiceQuotaExceededException", 400, NS_BEDROCK,
                               "Your request exceeds the service quota for "
                               "your account. You can resubmit your request "
                               "later."},
    [SIM_ERR_INTERNAL] = {"InternalServerException", 500, NS_BEDROCK,
                          "An internal server error occurred. Retry your "
                          "request."},
    [SIM_ERR_UNAVAILABLE] = {"ServiceUnavailableException", 503, NS_BEDROCK,
                             "Bedrock is unable to process your request."},
    [SIM_ERR_MODEL_TIMEOUT] = {"ModelTimeoutException", 408, NS_BEDROCK,
                               "Model has timed out in processing the "
                               "request. Try your request again."},
    [SIM_ERR_MODEL_ERROR] = {"ModelErrorException", 424, NS_BEDROCK,
                             "The model returned the following errors: "
                             "simulated model error"},
    [SIM_ERR_UNRECOGNIZED_CLIENT] = {"UnrecognizedClientException", 403,
                                     NS_CORAL,
                                     "The security token included in the "
                                     "request is invalid."},
    [SIM_ERR_INVALID_SIGNATURE] = {"InvalidSignatureException", 403, NS_CORAL,
                                   "The request signature we calculated does "
                                   "not match the signature you provided. "
                                   "Check your AWS Secret Access Key and "
                                   "signing method. Consult the service "
                                   "documentation for details."},
    [SIM_ERR_INCOMPLETE_SIGNATURE] = {"IncompleteSignatureException", 400,
                                      NS_CORAL,
                                      "The request signature does not "
                                      "conform to AWS standards."},
    [SIM_ERR_MISSING_AUTH] = {"MissingAuthenticationTokenException", 403,
                              NS_CORAL, "Missing Authentication Token"},
    [SIM_ERR_UNKNOWN_OPERATION] = {"UnknownOperationException", 404, NS_CORAL,
                                   NULL},
    [SIM_ERR_CONFLICT] = {"ConflictException", 400, NS_BEDROCK,
                          "The request conflicts with the current state."},
    [SIM_ERR_TOO_MANY_TAGS] = {"TooManyTagsException", 400, NS_BEDROCK,
                               "Exceeded the maximum number of tags."},
};

const sim_err_info_t *sim_err_info(sim_err_t err)
{
        return &sim_errs[err];
}

int sim_err_lookup(const char *name)
{
        for (int i = 0; i < SIM_ERR_N_INJECTABLE; i++)
                if (!strcmp(sim_errs[i].name, name))
                        return i;
        return -1;
}

static json_t *error_body(sim_err_t err, const char *key, const char *message)
{
        json_t *body = json_object();

        if (message)
                json_object_set_new(body, key, json_string(message));
        if (err == SIM_ERR_MODEL_ERROR) {
                json_object_set_new(body, "originalStatusCode",
                                    json_integer(500));
                json_object_set_new(body, "resourceName",
                                    json_string("simulated-model"));
        }
        return body;
}

void sim_reply_error_key(sim_reply_t *reply, sim_err_t err, const char *key,
                         const char *message)
{
        const sim_err_info_t *info = &sim_errs[err];
        json_t *body = error_body(err, key, message ? message : info->message);

        sim_reply_json(reply, info->status, json_dumps(body, JSON_COMPACT));
        json_decref(body);
        reply->is_error = 1;
        reply->error = err;
        reply->auth_failure =
            err >= SIM_ERR_UNRECOGNIZED_CLIENT && err <= SIM_ERR_MISSING_AUTH;
}

void sim_reply_error(sim_reply_t *reply, sim_err_t err, const char *message)
{
        sim_reply_error_key(reply, err, "message", message);
}

void sim_reply_errorf(sim_reply_t *reply, sim_err_t err, const char *fmt, ...)
{
        char msg[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        sim_reply_error(reply, err, msg);
}
