/* The catalog's inside, shared by catalog.c and catalog_resolve.c only. */
#ifndef TG_CATALOG_INT_H
#define TG_CATALOG_INT_H

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

#endif
