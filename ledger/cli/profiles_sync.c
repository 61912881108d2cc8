/*
 * One sync over the catalog's routes (profiles.h): list the account's
 * application inference profiles once, then per route without a target
 * find its profile by name (checking it is this route's: same model, the
 * route's tags) or create it, and put its ARN in the route's target.
 * Errors are per route; the caller writes nothing when any route failed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "profiles.h"

#define ARN_MAX 2048

typedef struct route {
        size_t i;
        json_t *o;
        const char *alias, *model_id;
        char label[300];
} route_t;

__attribute__((format(printf, 2, 3))) static void say(const route_t *r,
                                                      const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "profiles sync: %s: ", r->label);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static int fail_api(const route_t *r, const char *what,
                    const tg_bctl_error_t *e)
{
        char msg[400];

        tg_bctl_error_str(e, msg, sizeof(msg));
        say(r, "ERROR: %s: %s", what, msg);
        return -1;
}

static void label(route_t *r)
{
        json_t *match = json_object_get(r->o, "match"), *v;
        const char *k, *m = json_string_value(json_object_get(r->o, "model"));
        size_t n =
            (size_t)snprintf(r->label, sizeof(r->label), "routes[%zu] (", r->i);

        json_object_foreach(match, k, v)
        {
                if (n < sizeof(r->label))
                        n += (size_t)snprintf(
                            r->label + n, sizeof(r->label) - n, "%s%.40s=%.40s",
                            n > 12 && r->label[n - 1] != '(' ? "," : "", k,
                            json_is_string(v) ? json_string_value(v) : "?");
        }
        if (n < sizeof(r->label))
                snprintf(r->label + n, sizeof(r->label) - n, " -> %.64s)",
                         m ? m : "any model");
}

static int find_model(const tg_profiles_sync_t *s, route_t *r)
{
        const char *m = json_string_value(json_object_get(r->o, "model"));
        json_t *models = json_object_get(s->root, "models"), *o;
        size_t i;

        json_array_foreach(models, i, o)
        {
                const char *a = json_string_value(json_object_get(o, "alias"));
                const char *id =
                    json_string_value(json_object_get(o, "modelId"));
                if (m && a && id && (!strcmp(m, a) || !strcmp(m, id))) {
                        r->alias = a;
                        r->model_id = id;
                        return 0;
                }
        }
        say(r, "ERROR: a route to sync needs \"model\": an alias or modelId "
               "of the catalog's models");
        return -1;
}

static int ends_with(const char *s, const char *tail)
{
        size_t n = strlen(s), t = strlen(tail);
        return n >= t && !strcmp(s + n - t, tail);
}

/* The ARN to copy from: the model's foundation-model ARN in the region,
 * copyFrom when it is an ARN, or the ARN of the system profile it names. */
static int source_arn(tg_profiles_sync_t *s, const route_t *r, const char *copy,
                      char *out, size_t size)
{
        tg_bctl_error_t e;
        json_t *p = NULL;
        const char *arn, *type;

        if (!copy) {
                snprintf(out, size, "arn:aws:bedrock:%s::foundation-model/%s",
                         s->region, r->model_id);
                return 0;
        }
        if (!ends_with(copy, r->model_id)) {
                say(r, "ERROR: copyFrom %.200s is not model %s", copy,
                    r->model_id);
                return -1;
        }
        if (!strncmp(copy, "arn:", 4)) {
                snprintf(out, size, "%s", copy);
                return 0;
        }
        if (tg_bctl_get_profile(s->bctl, copy, &p, &e))
                return fail_api(r, "GetInferenceProfile of copyFrom", &e);
        arn = json_string_value(json_object_get(p, "inferenceProfileArn"));
        type = json_string_value(json_object_get(p, "type"));
        if (!arn || !type || strcmp(type, "SYSTEM_DEFINED") ||
            strlen(arn) >= size) {
                say(r,
                    "ERROR: copyFrom %.200s is not a system inference "
                    "profile",
                    copy);
                json_decref(p);
                return -1;
        }
        snprintf(out, size, "%s", arn);
        json_decref(p);
        return 0;
}

/* A profile found by name must be this route's: every model it routes to
 * is the route's model, and it carries the route's tags. */
static int verify(tg_profiles_sync_t *s, const route_t *r, const char *name,
                  const char *arn, json_t *tags)
{
        tg_bctl_error_t e;
        json_t *p = NULL, *have = NULL, *m;
        char tail[600];
        size_t i;
        int ok;

        if (tg_bctl_get_profile(s->bctl, arn, &p, &e))
                return fail_api(r, "GetInferenceProfile", &e);
        snprintf(tail, sizeof(tail), "/%s", r->model_id);
        ok = json_array_size(json_object_get(p, "models")) > 0;
        json_array_foreach(json_object_get(p, "models"), i, m)
        {
                const char *ma =
                    json_string_value(json_object_get(m, "modelArn"));
                ok &= ma && ends_with(ma, tail);
        }
        json_decref(p);
        if (!ok) {
                say(r,
                    "ERROR: the name %s is taken by %s, a profile for "
                    "another model",
                    name, arn);
                return -1;
        }
        if (tg_bctl_list_tags(s->bctl, arn, &have, &e))
                return fail_api(r, "ListTagsForResource", &e);
        ok = tg_profiles_tags_cover(have, tags);
        json_decref(have);
        if (!ok) {
                say(r,
                    "ERROR: the name %s is taken by %s, a profile with "
                    "other tags",
                    name, arn);
                return -1;
        }
        return 0;
}

static const char *listed_arn(json_t *listing, const char *name)
{
        size_t i;
        json_t *p;

        json_array_foreach(listing, i, p)
        {
                const char *n = json_string_value(
                    json_object_get(p, "inferenceProfileName"));
                if (n && !strcmp(n, name))
                        return json_string_value(
                            json_object_get(p, "inferenceProfileArn"));
        }
        return NULL;
}

static int sync_route(tg_profiles_sync_t *s, json_t *listing, route_t *r)
{
        const char *copy = json_string_value(json_object_get(r->o, "copyFrom"));
        const char *have;
        char why[300], name[TG_PROFILE_NAME_MAX + 1], token[33];
        char src[ARN_MAX], arn[ARN_MAX];
        json_t *tags;
        tg_bctl_error_t e;
        int rc = -1;

        if (find_model(s, r))
                return -1;
        if (!(tags = tg_profiles_tags(json_object_get(r->o, "match"), why,
                                      sizeof(why)))) {
                say(r, "ERROR: %s", why);
                return -1;
        }
        tg_profiles_name(r->alias, r->model_id, copy ? copy : "", tags, name,
                         token);
        if (source_arn(s, r, copy, src, sizeof(src)))
                goto out;
        if ((have = listed_arn(listing, name))) {
                if (strlen(have) >= sizeof(arn) ||
                    verify(s, r, name, have, tags))
                        goto out;
                snprintf(arn, sizeof(arn), "%s", have);
                say(r, "found %s %s", name, arn);
                s->found++;
        } else if (s->dry_run) {
                say(r, "would create %s from %s", name, src);
                s->pending++;
                rc = 0;
                goto out;
        } else if (tg_bctl_create_profile(s->bctl, name, src,
                                          "tollgate profiles sync", tags, token,
                                          arn, sizeof(arn), &e)) {
                fail_api(r, "CreateInferenceProfile", &e);
                goto out;
        } else {
                say(r, "created %s %s", name, arn);
                s->created++;
        }
        json_object_set_new(r->o, "target", json_string(arn));
        rc = 0;
out:
        json_decref(tags);
        return rc;
}

int tg_profiles_sync_run(tg_profiles_sync_t *s)
{
        json_t *routes = json_object_get(s->root, "routes"), *listing = NULL;
        tg_bctl_error_t e;
        size_t i, todo = 0;
        json_t *o;

        json_array_foreach(routes, i, o)
        {
                const char *t = json_string_value(json_object_get(o, "target"));
                todo += !(t && *t);
        }
        if (todo && tg_bctl_list_app_profiles(s->bctl, &listing, &e)) {
                char msg[400];
                tg_bctl_error_str(&e, msg, sizeof(msg));
                fprintf(stderr,
                        "profiles sync: ERROR: ListInferenceProfiles: %s\n",
                        msg);
                return -1;
        }
        json_array_foreach(routes, i, o)
        {
                route_t r = {.i = i, .o = o};
                const char *t = json_string_value(json_object_get(o, "target"));

                label(&r);
                if (!json_is_object(o)) {
                        say(&r, "ERROR: a route must be an object");
                        s->errors++;
                } else if (t && *t) {
                        s->kept++;
                } else if (sync_route(s, listing, &r)) {
                        s->errors++;
                }
        }
        json_decref(listing);
        return s->errors;
}
