/*
 * Resolving what a request names to a model (for prices) and a call target
 * (what goes in the URL). The target may differ from the model id: an
 * inference profile, or an application inference profile chosen by tags so
 * that AWS Cost Explorer sees the same split as the ledger.
 */
#include <stdio.h>
#include <string.h>

#include "catalog_int.h"
#include "tgjson.h"

const char *const tg_profile_prefixes[8] = {
    "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."};

static const tg_model_t *find_exact(const tg_catalog_t *cat, const char *name,
                                    size_t *idx)
{
        for (size_t i = 0; i < cat->n_models; i++) {
                if (strcmp(cat->models[i].alias, name) == 0 ||
                    strcmp(cat->models[i].model_id, name) == 0) {
                        *idx = i;
                        return &cat->models[i];
                }
        }
        return NULL;
}

/* "us.amazon.nova-lite-v1:0" -> "amazon.nova-lite-v1:0" */
static const char *strip_profile(const char *name)
{
        for (size_t i = 0; i < 8; i++) {
                size_t n = strlen(tg_profile_prefixes[i]);
                if (strncmp(name, tg_profile_prefixes[i], n) == 0)
                        return name + n;
        }
        return NULL;
}

/* System profile or foundation-model ARNs carry the model id after the last
 * '/'; application inference profile ARNs must be listed in the catalog. */
static const char *arn_model_part(const char *name)
{
        const char *slash = strrchr(name, '/');

        if (strncmp(name, "arn:aws", 7) != 0 || !slash)
                return NULL;
        if (strstr(name, ":foundation-model/") ||
            strstr(name, ":inference-profile/"))
                return slash + 1;
        return NULL;
}

static const tg_model_t *route_model(const tg_catalog_t *cat, const char *name,
                                     size_t *idx)
{
        for (size_t i = 0; i < cat->n_routes; i++) {
                if (strcmp(cat->routes[i].target, name) == 0 &&
                    cat->routes[i].model) {
                        *idx = (size_t)(cat->routes[i].model - cat->models);
                        return cat->routes[i].model;
                }
        }
        return NULL;
}

static int route_matches(const tg_route_t *r, const tg_model_t *m,
                         const tg_request_t *req)
{
        if (r->model && r->model != m)
                return 0;
        for (size_t j = 0; j < r->n_match; j++) {
                const char *v = tg_request_tag(req, r->match[j].key);
                if (!v || strcmp(v, r->match[j].value) != 0)
                        return 0;
        }
        return 1;
}

static const tg_model_t *lookup(const tg_catalog_t *cat, const char *name,
                                size_t *idx, int *explicit_target)
{
        const tg_model_t *m;
        const char *part;

        *explicit_target = 0;
        if ((m = find_exact(cat, name, idx)))
                return m;
        *explicit_target = 1;
        if ((part = strip_profile(name)) && (m = find_exact(cat, part, idx)))
                return m;
        if ((part = arn_model_part(name))) {
                const char *inner = strip_profile(part);
                if ((m = find_exact(cat, inner ? inner : part, idx)))
                        return m;
        }
        return route_model(cat, name, idx);
}

int tg_catalog_resolve(const tg_catalog_t *cat, const char *name,
                       const tg_request_t *req, tg_resolved_t *out,
                       char *errstr, size_t errstr_size)
{
        size_t idx = 0;
        int explicit_target;
        const tg_model_t *m = lookup(cat, name, &idx, &explicit_target);

        if (!m) {
                snprintf(errstr, errstr_size,
                         "model: unknown model \"%.128s\" (not an alias, "
                         "model id or inference profile in the catalog)",
                         name);
                tg_utf8_sanitize(errstr);
                return -1;
        }
        if (req && req->params.max_tokens > m->max_output_tokens) {
                snprintf(errstr, errstr_size,
                         "prompt.parameters.max_tokens: %lld exceeds %s's "
                         "maximum of %lld",
                         (long long)req->params.max_tokens, m->alias,
                         (long long)m->max_output_tokens);
                return -1;
        }
        out->model = m;
        out->target = explicit_target ? name : cat->model_targets[idx];
        if (explicit_target || !req)
                return 0;
        for (size_t i = 0; i < cat->n_routes; i++) {
                if (route_matches(&cat->routes[i], m, req)) {
                        out->target = cat->routes[i].target;
                        break;
                }
        }
        return 0;
}
