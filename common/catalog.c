/*
 * Catalog loading and model resolution. The catalog is JSON (see
 * catalog/default.json); prices are decimal strings so they load exactly.
 */
#include "catalog.h"
#include "catalog_int.h"
#include "tgjson.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *cat_fail(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void *cat_fail(char *errstr, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
        tg_utf8_sanitize(errstr);
        return NULL;
}

static tg_family_t family_parse(const char *s)
{
        if (!s)
                return TG_FAMILY_OTHER;
        if (strcmp(s, "nova") == 0)
                return TG_FAMILY_NOVA;
        if (strcmp(s, "anthropic") == 0)
                return TG_FAMILY_ANTHROPIC;
        if (strcmp(s, "meta") == 0)
                return TG_FAMILY_META;
        if (strcmp(s, "mistral") == 0)
                return TG_FAMILY_MISTRAL;
        return TG_FAMILY_OTHER;
}

static int64_t int_get(json_t *o, const char *key, int64_t dflt)
{
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int model_load(tg_model_t *m, json_t *o, char *errstr, size_t size)
{
        char why[200];
        const char *alias = json_string_value(json_object_get(o, "alias"));
        const char *id = json_string_value(json_object_get(o, "modelId"));

        if (!alias || !id || !*alias || !*id)
                return cat_fail(errstr, size,
                                "catalog: every model needs alias and "
                                "modelId"),
                       -1;
        m->alias = strdup(alias);
        m->model_id = strdup(id);
        m->family =
            family_parse(json_string_value(json_object_get(o, "family")));
        m->max_output_tokens = int_get(o, "maxOutputTokens", 4096);
        m->message_overhead_tokens = int_get(o, "messageOverheadTokens", 8);
        m->request_overhead_tokens = int_get(o, "requestOverheadTokens", 16);
        if (tg_model_rates_load(m, o, why, sizeof(why)))
                return cat_fail(errstr, size, "catalog: model %.64s: %s", alias,
                                why),
                       -1;
        /* Bounded so the reservation bound cannot overflow. */
        if (m->max_output_tokens < 1 || m->max_output_tokens > 10000000 ||
            m->message_overhead_tokens < 0 ||
            m->message_overhead_tokens > 1000000 ||
            m->request_overhead_tokens < 0 ||
            m->request_overhead_tokens > 1000000)
                return cat_fail(errstr, size,
                                "catalog: model %.64s: maxOutputTokens must be "
                                "1-10000000, overheads 0-1000000",
                                alias),
                       -1;
        return 0;
}

static const tg_model_t *find_exact(const tg_catalog_t *cat, const char *name)
{
        for (size_t i = 0; i < cat->n_models; i++)
                if (strcmp(cat->models[i].alias, name) == 0 ||
                    strcmp(cat->models[i].model_id, name) == 0)
                        return &cat->models[i];
        return NULL;
}

static int route_load(tg_catalog_t *cat, tg_route_t *r, json_t *o, char *errstr,
                      size_t size)
{
        json_t *match = json_object_get(o, "match"), *v;
        const char *model = json_string_value(json_object_get(o, "model"));
        const char *target = json_string_value(json_object_get(o, "target"));
        const char *key;

        if (!json_is_object(match) || !target || !*target ||
            json_object_size(match) > 8)
                return cat_fail(errstr, size,
                                "catalog: each route needs match (up to 8 "
                                "tags) and target%s",
                                json_is_object(match) && !target
                                    ? " (`tollgate-ledger profiles sync` "
                                      "creates its application inference "
                                      "profile and writes the target)"
                                    : ""),
                       -1;
        if (model && !(r->model = find_exact(cat, model)))
                return cat_fail(errstr, size,
                                "catalog: route names unknown model %.64s",
                                model),
                       -1;
        r->target = strdup(target);
        json_object_foreach(match, key, v)
        {
                if (!json_is_string(v))
                        return cat_fail(errstr, size,
                                        "catalog: route match values must be "
                                        "strings"),
                               -1;
                r->match[r->n_match].key = strdup(key);
                r->match[r->n_match].value = strdup(json_string_value(v));
                r->n_match++;
        }
        return 0;
}

/* An alias or model id naming two models would make resolution depend on
 * the order of the file. */
static int check_unique(const tg_catalog_t *cat, size_t i, char *errstr,
                        size_t size)
{
        const tg_model_t *m = &cat->models[i];

        for (size_t j = 0; j < i; j++) {
                const tg_model_t *o = &cat->models[j];
                const char *dup = !strcmp(m->alias, o->alias) ||
                                          !strcmp(m->alias, o->model_id)
                                      ? m->alias
                                  : !strcmp(m->model_id, o->model_id) ||
                                          !strcmp(m->model_id, o->alias)
                                      ? m->model_id
                                      : NULL;
                if (dup)
                        return cat_fail(errstr, size,
                                        "catalog: model %.64s: duplicate alias "
                                        "or modelId \"%.64s\" (also model "
                                        "%.64s)",
                                        m->alias, dup, o->alias),
                               -1;
        }
        return 0;
}

static int models_load(tg_catalog_t *cat, json_t *models, char *errstr,
                       size_t size)
{
        size_t n = json_array_size(models);

        if (!json_is_array(models) || n == 0 || n > TG_CATALOG_MODELS_MAX)
                return cat_fail(errstr, size,
                                "catalog: models must be an array of 1-%d",
                                TG_CATALOG_MODELS_MAX),
                       -1;
        cat->models = calloc(n, sizeof(*cat->models));
        cat->model_targets = calloc(n, sizeof(char *));
        if (!cat->models || !cat->model_targets)
                return cat_fail(errstr, size, "out of memory"), -1;
        for (size_t i = 0; i < n; i++) {
                json_t *o = json_array_get(models, i);
                const char *t;
                cat->n_models++;
                if (model_load(&cat->models[i], o, errstr, size) ||
                    check_unique(cat, i, errstr, size))
                        return -1;
                t = json_string_value(json_object_get(o, "target"));
                if (t && !*t)
                        return cat_fail(errstr, size,
                                        "catalog: model %.64s: target must "
                                        "not be empty",
                                        cat->models[i].alias),
                               -1;
                cat->model_targets[i] = strdup(t ? t : cat->models[i].model_id);
        }
        return 0;
}

static int routes_load(tg_catalog_t *cat, json_t *routes, char *errstr,
                       size_t size)
{
        size_t n = json_array_size(routes);

        if (!routes)
                return 0;
        if (!json_is_array(routes) || n > TG_CATALOG_ROUTES_MAX)
                return cat_fail(errstr, size,
                                "catalog: routes must be an array"),
                       -1;
        cat->routes = calloc(n ? n : 1, sizeof(*cat->routes));
        if (!cat->routes)
                return cat_fail(errstr, size, "out of memory"), -1;
        for (size_t i = 0; i < n; i++) {
                cat->n_routes++;
                if (route_load(cat, &cat->routes[i], json_array_get(routes, i),
                               errstr, size))
                        return -1;
        }
        return 0;
}

tg_catalog_t *tg_catalog_load_string(const char *json, size_t len, char *errstr,
                                     size_t errstr_size)
{
        json_error_t jerr;
        json_t *root = NULL;
        tg_catalog_t *cat = calloc(1, sizeof(*cat));
        const char *pv;

        if (!cat || len > TG_CATALOG_SIZE_MAX) {
                cat_fail(errstr, errstr_size,
                         "catalog: too large or no memory");
                goto err;
        }
        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(root)) {
                cat_fail(errstr, errstr_size, "catalog: line %d: %s", jerr.line,
                         root ? "not an object" : jerr.text);
                goto err;
        }
        pv = json_string_value(json_object_get(root, "priceVersion"));
        if (!pv || !*pv || strlen(pv) > 64) {
                cat_fail(errstr, errstr_size,
                         "catalog: priceVersion required (1-64 chars)");
                goto err;
        }
        cat->price_version = strdup(pv);
        if (models_load(cat, json_object_get(root, "models"), errstr,
                        errstr_size) ||
            routes_load(cat, json_object_get(root, "routes"), errstr,
                        errstr_size))
                goto err;
        json_decref(root);
        return cat;
err:
        json_decref(root);
        tg_catalog_destroy(cat);
        return NULL;
}

tg_catalog_t *tg_catalog_load_file(const char *path, char *errstr,
                                   size_t errstr_size)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t n;
        tg_catalog_t *cat = NULL;

        if (!f)
                return cat_fail(errstr, errstr_size, "catalog: cannot open %s",
                                path);
        buf = malloc(TG_CATALOG_SIZE_MAX + 1);
        if (buf) {
                n = fread(buf, 1, TG_CATALOG_SIZE_MAX + 1, f);
                cat = tg_catalog_load_string(buf, n, errstr, errstr_size);
        }
        free(buf);
        fclose(f);
        return cat;
}

void tg_catalog_destroy(tg_catalog_t *cat)
{
        if (!cat)
                return;
        for (size_t i = 0; i < cat->n_models; i++) {
                free(cat->models[i].alias);
                free(cat->models[i].model_id);
                if (cat->model_targets)
                        free(cat->model_targets[i]);
        }
        for (size_t i = 0; i < cat->n_routes; i++) {
                for (size_t j = 0; j < cat->routes[i].n_match; j++) {
                        free((char *)cat->routes[i].match[j].key);
                        free((char *)cat->routes[i].match[j].value);
                }
                free(cat->routes[i].target);
        }
        free(cat->models);
        free(cat->model_targets);
        free(cat->routes);
        free(cat->price_version);
        free(cat);
}

const char *tg_catalog_price_version(const tg_catalog_t *cat)
{
        return cat->price_version;
}

size_t tg_catalog_model_count(const tg_catalog_t *cat)
{
        return cat->n_models;
}

const tg_model_t *tg_catalog_model_at(const tg_catalog_t *cat, size_t i)
{
        return i < cat->n_models ? &cat->models[i] : NULL;
}
