/*
 * The five inference-profile operations, on the in-memory profiles. Field
 * names, constraints and status codes are botocore's bedrock service model
 * (see sim_control.h); where the model is silent (the error for a taken
 * name, the page token) the choice is written beside it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_control_int.h"

static const struct {
        const char *prefix;
        const char *regions[3];
} geo[] = {
    {"us.", {"us-east-1", "us-east-2", "us-west-2"}},
    {"eu.", {"eu-central-1", "eu-west-1", "eu-west-3"}},
    {"apac.", {"ap-northeast-1", "ap-southeast-1", "ap-southeast-2"}},
    {"global.", {"us-east-1", "eu-west-1", "ap-northeast-1"}},
};

void simc_profile_free(simc_profile_t *p)
{
        if (!p)
                return;
        free(p->name);
        free(p->id);
        free(p->arn);
        free(p->description);
        free(p->token);
        for (int i = 0; i < p->n_models; i++)
                free(p->models[i]);
        json_decref(p->tags);
        free(p);
}

/* InferenceProfileName: ([0-9a-zA-Z][ _-]?)+, 1-64. */
static int name_ok(const char *s)
{
        size_t n = strlen(s);

        if (n < 1 || n > 64 || !isalnum((unsigned char)s[0]))
                return 0;
        for (size_t i = 1; i < n; i++) {
                int ch = (unsigned char)s[i],
                    sep = ch == ' ' || ch == '_' || ch == '-';
                if (!isalnum(ch) && !sep)
                        return 0;
                if (sep && !isalnum((unsigned char)s[i - 1]))
                        return 0;
        }
        return 1;
}

/* TagKey / TagValue: [a-zA-Z0-9\s._:/=+@-]*. */
static int tag_chars_ok(const char *s)
{
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) &&
                    !isspace((unsigned char)*s) && !strchr("._:/=+@-", *s))
                        return 0;
        return 1;
}

static const char *tags_check(json_t *tags, sim_err_t *err)
{
        size_t i, j;
        json_t *t;

        *err = SIM_ERR_VALIDATION;
        if (!tags)
                return NULL;
        if (!json_is_array(tags))
                return "tags must be a list";
        if (json_array_size(tags) > SIMC_TAGS_MAX) {
                *err = SIM_ERR_TOO_MANY_TAGS;
                return "Exceeded the maximum number of tags (200).";
        }
        json_array_foreach(tags, i, t)
        {
                const char *k = json_string_value(json_object_get(t, "key"));
                const char *v = json_string_value(json_object_get(t, "value"));

                if (!k || !v || !*k || strlen(k) > 128 || strlen(v) > 256 ||
                    !tag_chars_ok(k) || !tag_chars_ok(v))
                        return "1 validation error detected: Value at 'tags' "
                               "failed to satisfy constraint: Member must "
                               "satisfy the tag key and value pattern";
                if (!strncmp(k, "aws:", 4))
                        return "Tag keys starting with aws: are reserved.";
                for (j = 0; j < i; j++)
                        if (!strcmp(k, json_string_value(json_object_get(
                                           json_array_get(tags, j), "key"))))
                                return "Duplicate tag keys.";
        }
        return NULL;
}

/* "arn:aws:bedrock:R:A:inference-profile/us.x" or "us.x" -> its geo row. */
static int geo_of(const char *ident, const char **model)
{
        const char *s = strstr(ident, ":inference-profile/");

        s = s ? s + 19 : (strncmp(ident, "arn:", 4) ? ident : NULL);
        for (size_t i = 0; s && i < sizeof(geo) / sizeof(geo[0]); i++) {
                size_t n = strlen(geo[i].prefix);
                if (!strncmp(s, geo[i].prefix, n) && strchr(s + n, '.')) {
                        *model = s + n;
                        return (int)i;
                }
        }
        return -1;
}

static int model_arns(simc_profile_t *p, const char *copy_from)
{
        const char *model = NULL;
        int g;
        char buf[SIM_MODEL_ID_MAX + 128];

        if (strstr(copy_from, ":foundation-model/")) {
                p->models[p->n_models++] = strdup(copy_from);
                return 0;
        }
        if ((g = geo_of(copy_from, &model)) < 0)
                return -1;
        for (int i = 0; i < 3; i++) {
                snprintf(buf, sizeof(buf),
                         "arn:aws:bedrock:%s::foundation-model/%s",
                         geo[g].regions[i], model);
                p->models[p->n_models++] = strdup(buf);
        }
        return 0;
}

static int arn_ok(const char *s)
{
        return !strncmp(s, "arn:aws", 7) && strstr(s, ":bedrock:") &&
               (strstr(s, ":foundation-model/") ||
                strstr(s, ":inference-profile/")) &&
               strlen(s) <= 2048;
}

static simc_profile_t *find(sim_control_t *c, const char *name,
                            const char *ident, const char *token)
{
        for (int i = 0; i < c->n_profiles; i++) {
                simc_profile_t *p = c->profiles[i];
                if ((name && !strcmp(p->name, name)) ||
                    (ident &&
                     (!strcmp(p->id, ident) || !strcmp(p->arn, ident))) ||
                    (token && p->token && !strcmp(p->token, token)))
                        return p;
        }
        return NULL;
}

static void created(sim_req_t *req, const simc_profile_t *p)
{
        sim_reply_value(&req->reply, 201,
                        json_pack("{s:s, s:s}", "inferenceProfileArn", p->arn,
                                  "status", "ACTIVE"));
}

static simc_profile_t *make(sim_control_t *c, const char *region,
                            const char *name, json_t *body)
{
        simc_profile_t *p = calloc(1, sizeof(*p));
        const char *d = json_string_value(json_object_get(body, "description"));
        const char *t =
            json_string_value(json_object_get(body, "clientRequestToken"));
        json_t *tags = json_object_get(body, "tags");
        char id[16], arn[256];

        if (!p)
                return NULL;
        c->next_id++;
        snprintf(id, sizeof(id), "%012llx",
                 (c->next_id * 0x9e3779b97f4a7c15ULL) >> 16);
        snprintf(arn, sizeof(arn),
                 "arn:aws:bedrock:%s:" SIMC_ACCOUNT
                 ":application-inference-profile/%s",
                 region, id);
        p->name = strdup(name);
        p->id = strdup(id);
        p->arn = strdup(arn);
        p->description = d ? strdup(d) : NULL;
        p->token = t ? strdup(t) : NULL;
        p->tags = tags ? json_deep_copy(tags) : json_array();
        p->created = time(NULL);
        return p;
}

void simc_create(sim_control_t *c, const char *region, sim_req_t *req)
{
        json_t *body = sim_req_json(req, &req->reply), *src;
        const char *name, *from, *d, *t, *why;
        simc_profile_t *p;
        sim_err_t err;

        if (!body)
                return;
        name = json_string_value(json_object_get(body, "inferenceProfileName"));
        src = json_object_get(body, "modelSource");
        from = json_string_value(json_object_get(src, "copyFrom"));
        d = json_string_value(json_object_get(body, "description"));
        t = json_string_value(json_object_get(body, "clientRequestToken"));
        if (t && (p = find(c, NULL, NULL, t)))
                created(req, p); /* idempotent retry */
        else if (!name || !name_ok(name))
                sim_reply_error(&req->reply, SIM_ERR_VALIDATION,
                                "1 validation error detected: Value at "
                                "'inferenceProfileName' failed to satisfy "
                                "constraint: Member must satisfy regular "
                                "expression pattern: ([0-9a-zA-Z][ _-]?)+");
        else if (!from || !arn_ok(from) || json_object_size(src) != 1)
                sim_reply_error(&req->reply, SIM_ERR_VALIDATION,
                                "modelSource.copyFrom must be a foundation "
                                "model or inference profile ARN");
        else if (d && (!*d || strlen(d) > 200))
                sim_reply_error(&req->reply, SIM_ERR_VALIDATION,
                                "description must be 1-200 characters");
        else if ((why = tags_check(json_object_get(body, "tags"), &err)))
                sim_reply_error(&req->reply, err, why);
        else if (find(c, name, NULL, NULL))
                /* The model does not say; AWS answers a taken name with a
                 * ConflictException (listed for this operation). */
                sim_reply_errorf(&req->reply, SIM_ERR_CONFLICT,
                                 "An inference profile named %s already "
                                 "exists.",
                                 name);
        else if (c->n_profiles >= SIMC_PROFILES_MAX)
                sim_reply_error(&req->reply, SIM_ERR_SERVICE_QUOTA,
                                "The number of application inference "
                                "profiles exceeds the quota.");
        else if (!(p = make(c, region, name, body)) || model_arns(p, from)) {
                simc_profile_free(p);
                sim_reply_error(&req->reply, SIM_ERR_RESOURCE_NOT_FOUND,
                                "The model source was not found.");
        } else {
                c->profiles[c->n_profiles++] = p;
                created(req, p);
        }
        json_decref(body);
}

static json_t *iso(time_t t)
{
        char buf[32];
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        return json_string(buf);
}

static json_t *profile_json(const simc_profile_t *p)
{
        json_t *models = json_array();
        json_t *o;

        for (int i = 0; i < p->n_models; i++)
                json_array_append_new(
                    models, json_pack("{s:s}", "modelArn", p->models[i]));
        o = json_pack("{s:s, s:o, s:o, s:s, s:o, s:s, s:s, s:s}",
                      "inferenceProfileName", p->name, "createdAt",
                      iso(p->created), "updatedAt", iso(p->created),
                      "inferenceProfileArn", p->arn, "models", models,
                      "inferenceProfileId", p->id, "status", "ACTIVE", "type",
                      "APPLICATION");
        if (o && p->description)
                json_object_set_new(o, "description",
                                    json_string(p->description));
        return o;
}

static void system_profile(const char *region, const char *ident, int g,
                           const char *model, sim_req_t *req)
{
        json_t *models = json_array();
        char arn[SIM_MODEL_ID_MAX + 128], id[SIM_MODEL_ID_MAX + 1];

        snprintf(id, sizeof(id), "%s%s", geo[g].prefix, model);
        snprintf(arn, sizeof(arn),
                 "arn:aws:bedrock:%s:" SIMC_ACCOUNT ":inference-profile/%s",
                 region, id);
        for (int i = 0; i < 3; i++) {
                char m[SIM_MODEL_ID_MAX + 128];
                snprintf(m, sizeof(m),
                         "arn:aws:bedrock:%s::foundation-model/%s",
                         geo[g].regions[i], model);
                json_array_append_new(models,
                                      json_pack("{s:s}", "modelArn", m));
        }
        (void)ident;
        sim_reply_value(&req->reply, 200,
                        json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s}",
                                  "inferenceProfileName", id, "description",
                                  "Routes requests across regions", "models",
                                  models, "inferenceProfileArn", arn,
                                  "inferenceProfileId", id, "status", "ACTIVE",
                                  "type", "SYSTEM_DEFINED"));
}

void simc_get(sim_control_t *c, const char *region, const char *ident,
              sim_req_t *req)
{
        simc_profile_t *p = find(c, NULL, ident, NULL);
        const char *model = NULL;
        int g;

        if (p)
                sim_reply_value(&req->reply, 200, profile_json(p));
        else if (!strstr(ident, "application-inference-profile/") &&
                 (g = geo_of(ident, &model)) >= 0)
                system_profile(region, ident, g, model, req);
        else
                sim_reply_errorf(&req->reply, SIM_ERR_RESOURCE_NOT_FOUND,
                                 "Inference profile %.200s not found.", ident);
}

/* One query parameter, decoded, or "" when absent. -1 when undecodable. */
static int query_param(const char *q, const char *key, char *out, size_t size)
{
        size_t klen = strlen(key);

        out[0] = '\0';
        while (q && *q) {
                const char *end = strchr(q, '&');
                size_t n = end ? (size_t)(end - q) : strlen(q);

                if (n > klen && !strncmp(q, key, klen) && q[klen] == '=')
                        return sim_percent_decode(q + klen + 1, n - klen - 1,
                                                  out, size) < 0
                                   ? -1
                                   : 0;
                q = end ? end + 1 : NULL;
        }
        return 0;
}

static int list_args(const sim_control_t *c, const sim_req_t *req, long *max,
                     long *start, int *system_only)
{
        char v[2100], *end;

        if (query_param(req->raw_query, "type", v, sizeof(v)) ||
            (*v && strcmp(v, "APPLICATION") && strcmp(v, "SYSTEM_DEFINED")))
                return -1;
        *system_only = !strcmp(v, "SYSTEM_DEFINED");
        if (query_param(req->raw_query, "maxResults", v, sizeof(v)))
                return -1;
        *max = *v ? strtol(v, &end, 10) : c->page_size;
        if (*v && (*end || *max < 1 || *max > 1000))
                return -1;
        if (query_param(req->raw_query, "nextToken", v, sizeof(v)))
                return -1;
        /* The token is opaque to clients: "simc-<offset>". */
        *start = 0;
        if (*v && (strncmp(v, "simc-", 5) ||
                   (*start = strtol(v + 5, &end, 10)) < 1 || *end))
                return -1;
        return 0;
}

void simc_list(sim_control_t *c, sim_req_t *req)
{
        long max, start, i;
        int system_only;
        json_t *items, *o;
        char tok[32];

        if (list_args(c, req, &max, &start, &system_only)) {
                sim_reply_error(&req->reply, SIM_ERR_VALIDATION,
                                "Invalid maxResults, nextToken or type.");
                return;
        }
        items = json_array();
        for (i = start; !system_only && i < c->n_profiles && i < start + max;
             i++)
                json_array_append_new(items, profile_json(c->profiles[i]));
        o = json_pack("{s:o}", "inferenceProfileSummaries", items);
        if (!system_only && i < c->n_profiles) {
                snprintf(tok, sizeof(tok), "simc-%ld", i);
                json_object_set_new(o, "nextToken", json_string(tok));
        }
        sim_reply_value(&req->reply, 200, o);
}

void simc_delete(sim_control_t *c, const char *ident, sim_req_t *req)
{
        for (int i = 0; i < c->n_profiles; i++) {
                simc_profile_t *p = c->profiles[i];
                if (strcmp(p->id, ident) && strcmp(p->arn, ident))
                        continue;
                simc_profile_free(p);
                memmove(&c->profiles[i], &c->profiles[i + 1],
                        (size_t)(c->n_profiles - i - 1) * sizeof(p));
                c->n_profiles--;
                sim_reply_value(&req->reply, 200, json_object());
                return;
        }
        sim_reply_errorf(&req->reply, SIM_ERR_RESOURCE_NOT_FOUND,
                         "Inference profile %.200s not found.", ident);
}

void simc_list_tags(sim_control_t *c, sim_req_t *req)
{
        json_t *body = sim_req_json(req, &req->reply);
        const char *arn =
            body ? json_string_value(json_object_get(body, "resourceARN"))
                 : NULL;
        simc_profile_t *p;

        if (!body)
                return;
        if (!arn || strlen(arn) < 20 || strlen(arn) > 1011)
                sim_reply_error(&req->reply, SIM_ERR_VALIDATION,
                                "resourceARN must be 20-1011 characters");
        else if ((p = find(c, NULL, arn, NULL)))
                sim_reply_value(&req->reply, 200,
                                json_pack("{s:O}", "tags", p->tags));
        else
                sim_reply_errorf(&req->reply, SIM_ERR_RESOURCE_NOT_FOUND,
                                 "Resource %.200s not found.", arn);
        json_decref(body);
}
