/*
 * /_sim/control: what the control plane saw (calls per operation), its
 * page size and its injected faults. See sim_control.h for the JSON.
 */
#include <string.h>

#include "sim_control_int.h"

static json_t *state_json(sim_control_t *c)
{
        json_t *calls = json_object(), *faults = json_array();

        for (int i = 0; i < SIMC_N_OPS; i++)
                json_object_set_new(calls, simc_op_names[i],
                                    json_integer((json_int_t)c->calls[i]));
        for (int i = 0; i < c->n_rules; i++)
                json_array_append_new(
                    faults, json_pack("{s:s, s:s, s:s, s:I}", "operation",
                                      simc_op_names[c->rules[i].op], "error",
                                      sim_err_info(c->rules[i].error)->name,
                                      "match", c->rules[i].match, "times",
                                      (json_int_t)c->rules[i].times));
        return json_pack("{s:o, s:i, s:i, s:o}", "calls", calls, "profiles",
                         c->n_profiles, "pageSize", c->page_size, "faults",
                         faults);
}

static int error_lookup(const char *name)
{
        for (int i = 0; name && i < SIM_ERR_COUNT; i++)
                if (!strcmp(sim_err_info((sim_err_t)i)->name, name))
                        return i;
        return -1;
}

static int op_lookup(const char *name)
{
        for (int i = 0; name && i < SIMC_N_OPS; i++)
                if (!strcmp(simc_op_names[i], name))
                        return i;
        return -1;
}

/* All or nothing: the rules are parsed into a copy first. */
static const char *apply(sim_control_t *c, json_t *o)
{
        json_t *ps = json_object_get(o, "pageSize");
        json_t *faults = json_object_get(o, "faults"), *f;
        simc_rule_t rules[SIMC_RULES_MAX];
        size_t i;

        if (!json_is_object(o))
                return "body must be a JSON object";
        if (ps && (!json_is_integer(ps) || json_integer_value(ps) < 1 ||
                   json_integer_value(ps) > 1000))
                return "pageSize must be 1-1000";
        if (faults && (!json_is_array(faults) ||
                       json_array_size(faults) > SIMC_RULES_MAX))
                return "faults must be a list of at most 16";
        json_array_foreach(faults, i, f)
        {
                const char *m = json_string_value(json_object_get(f, "match"));
                json_t *t = json_object_get(f, "times");
                int op = op_lookup(
                    json_string_value(json_object_get(f, "operation")));
                int err = error_lookup(
                    json_string_value(json_object_get(f, "error")));

                if (op < 0 || err < 0 || (m && strlen(m) >= 128) ||
                    (t && (!json_is_integer(t) || json_integer_value(t) < 0)))
                        return "each fault needs a known operation and error "
                               "(match under 128 chars, times >= 0)";
                rules[i] =
                    (simc_rule_t){.op = (simc_op_t)op,
                                  .error = (sim_err_t)err,
                                  .times = t ? json_integer_value(t) : 0};
                snprintf(rules[i].match, sizeof(rules[i].match), "%s",
                         m ? m : "");
        }
        if (ps)
                c->page_size = (int)json_integer_value(ps);
        if (faults) {
                memcpy(c->rules, rules,
                       json_array_size(faults) * sizeof(*rules));
                c->n_rules = (int)json_array_size(faults);
        }
        return NULL;
}

static void reset(sim_control_t *c)
{
        for (int i = 0; i < c->n_profiles; i++)
                simc_profile_free(c->profiles[i]);
        c->n_profiles = 0;
        c->n_rules = 0;
        c->page_size = 2;
        memset(c->calls, 0, sizeof(c->calls));
}

void sim_control_admin(sim_ctx_t *ctx, sim_req_t *req)
{
        sim_control_t *c = ctx->control;
        const char *path = req->raw_path, *why = NULL;
        int post = !strcmp(req->method, "POST");
        json_t *body = NULL;

        pthread_mutex_lock(&c->lock);
        if (!strcmp(path, "/_sim/control/reset") && post)
                reset(c);
        else if (!strcmp(path, "/_sim/control/config") && post) {
                body = json_loadb(tg_dynbuf_ptr(&req->body),
                                  tg_dynbuf_len(&req->body), 0, NULL);
                why = apply(c, body);
        } else if (strcmp(path, "/_sim/control") || post)
                why = "no such admin endpoint";
        if (why)
                sim_reply_value(&req->reply,
                                strcmp(why, "no such admin endpoint") ? 400
                                                                      : 404,
                                json_pack("{s:s}", "message", why));
        else
                sim_reply_value(&req->reply, 200, state_json(c));
        pthread_mutex_unlock(&c->lock);
        json_decref(body);
}
