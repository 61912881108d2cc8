/*
 * The control plane's front: routing by method and raw path, SigV4 (the
 * same check as the runtime's: service "bedrock"), call counts and the
 * injected faults. See sim_control.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_control_int.h"

#define PREFIX "/inference-profiles"

const char *const simc_op_names[SIMC_N_OPS] = {
    "CreateInferenceProfile", "GetInferenceProfile", "ListInferenceProfiles",
    "DeleteInferenceProfile", "ListTagsForResource"};

sim_control_t *sim_control_new(void)
{
        sim_control_t *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        pthread_mutex_init(&c->lock, NULL);
        c->page_size = 2;
        return c;
}

void sim_control_destroy(sim_control_t *c)
{
        if (!c)
                return;
        for (int i = 0; i < c->n_profiles; i++)
                simc_profile_free(c->profiles[i]);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

int simc_fault(sim_control_t *c, simc_op_t op, const char *subject)
{
        for (int i = 0; i < c->n_rules; i++) {
                simc_rule_t *r = &c->rules[i];

                if (r->op != op || (r->times < 0) ||
                    (r->match[0] && (!subject || !strstr(subject, r->match))))
                        continue;
                if (r->times > 0 && --r->times == 0)
                        r->times = -1; /* used up */
                return (int)r->error;
        }
        return -1;
}

/* Which operation, and the decoded {inferenceProfileIdentifier}. -1 when
 * the path is not the control plane's. */
static int route(const sim_req_t *req, char *ident, size_t size)
{
        const char *p = req->raw_path, *m = req->method;
        size_t n = strlen(PREFIX);

        ident[0] = '\0';
        if (!strcmp(p, "/listTagsForResource"))
                return !strcmp(m, "POST") ? SIMC_LIST_TAGS : SIMC_N_OPS;
        if (strncmp(p, PREFIX, n))
                return -1;
        if (p[n] == '\0')
                return !strcmp(m, "POST")  ? SIMC_CREATE
                       : !strcmp(m, "GET") ? SIMC_LIST
                                           : SIMC_N_OPS;
        if (p[n] != '/' || !p[n + 1] || strchr(p + n + 1, '/') ||
            sim_percent_decode(p + n + 1, strlen(p + n + 1), ident, size) <= 0)
                return SIMC_N_OPS;
        return !strcmp(m, "GET")      ? SIMC_GET
               : !strcmp(m, "DELETE") ? SIMC_DELETE
                                      : SIMC_N_OPS;
}

/* The name or ARN a fault rule matches against. */
static void subject_of(const sim_req_t *req, int op, const char *ident,
                       char *out, size_t size)
{
        json_t *body, *v;

        snprintf(out, size, "%s", ident);
        if (op != SIMC_CREATE && op != SIMC_LIST_TAGS)
                return;
        body = json_loadb(tg_dynbuf_ptr(&req->body), tg_dynbuf_len(&req->body),
                          0, NULL);
        v = json_object_get(body, op == SIMC_CREATE ? "inferenceProfileName"
                                                    : "resourceARN");
        if (json_is_string(v))
                snprintf(out, size, "%s", json_string_value(v));
        json_decref(body);
}

static void run(sim_control_t *c, const char *region, int op, const char *ident,
                sim_req_t *req)
{
        switch (op) {
        case SIMC_CREATE:
                simc_create(c, region, req);
                break;
        case SIMC_GET:
                simc_get(c, region, ident, req);
                break;
        case SIMC_LIST:
                simc_list(c, req);
                break;
        case SIMC_DELETE:
                simc_delete(c, ident, req);
                break;
        default:
                simc_list_tags(c, req);
                break;
        }
}

int sim_control_handle(sim_ctx_t *ctx, sim_req_t *req)
{
        sim_control_t *c = ctx->control;
        char ident[SIM_MODEL_ID_MAX + 1], subject[SIM_MODEL_ID_MAX + 1];
        const char *region =
            ctx->opts.region[0] ? ctx->opts.region : "us-east-1";
        int op = route(req, ident, sizeof(ident)), fault;

        if (op < 0 || !c)
                return 0;
        if (sim_auth_check(&ctx->auth, req, time(NULL), &req->reply))
                return 1;
        if (req->body_overflow) {
                sim_reply_error(&req->reply, SIM_ERR_VALIDATION,
                                "Request body too large.");
                return 1;
        }
        if (op == SIMC_N_OPS) {
                sim_reply_error(&req->reply, SIM_ERR_UNKNOWN_OPERATION, NULL);
                return 1;
        }
        subject_of(req, op, ident, subject, sizeof(subject));
        pthread_mutex_lock(&c->lock);
        c->calls[op]++;
        fault = simc_fault(c, (simc_op_t)op, subject);
        if (fault >= 0)
                sim_reply_errorf(
                    &req->reply, (sim_err_t)fault, "simulated %s for %s",
                    sim_err_info((sim_err_t)fault)->name, simc_op_names[op]);
        else
                run(c, region, op, ident, req);
        pthread_mutex_unlock(&c->lock);
        return 1;
}
