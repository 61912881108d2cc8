/* The catalog's inside, shared by catalog.c and catalog_resolve.c only. */
#ifndef TG_CATALOG_INT_H
#define TG_CATALOG_INT_H

#include <jansson.h>

#include "catalog.h"

#define TG_CATALOG_MODELS_MAX 256
#define TG_CATALOG_ROUTES_MAX 256
#define TG_CATALOG_SIZE_MAX   (4 * 1024 * 1024)

struct tg_catalog {
        char *price_version;
        tg_model_t *models;
        size_t n_models;
        char **model_targets; /* default call target per model */
        tg_route_t *routes;
        size_t n_routes;
};

extern const char *const tg_profile_prefixes[8];

/* catalog_rates.c: a price object, and every price kind of one model
 * (price, longContext*, global, tiers, profiles, promptCaching). Return 0
 * or -1 with errstr naming the field (`where` prefixes it). */
int tg_price_load(json_t *o, tg_price_t *p, char *errstr, size_t size,
                  const char *where);
int tg_model_rates_load(tg_model_t *m, json_t *o, char *errstr, size_t size);

#endif
