/*
 * tollgate-ledger profiles sync: application inference profiles for the
 * catalog's routes (docs/operations.md, "Application inference profiles
 * (profiles sync)"). cmd_profiles.c reads options and files,
 * profiles_sync.c talks to Bedrock per route, profiles_name.c derives
 * names and tags, profiles_catalog.c edits and writes the catalog text.
 */
#ifndef TG_LEDGER_PROFILES_H
#define TG_LEDGER_PROFILES_H

#include <jansson.h>
#include <stddef.h>

#include "aws/bedrock_control.h"

#define TG_PROFILE_NAME_MAX 64 /* InferenceProfileName's max */

/* The route's cost allocation tags: its match as [{key, value}] sorted by
 * key. NULL with why filled when a key or value breaks AWS's tag rules
 * (key 1-128, value 0-256 of [a-zA-Z0-9 space ._:/=+@-], no "aws:"). */
json_t *tg_profiles_tags(json_t *match, char *why, size_t size);

/* The deterministic profile name of a route: "tg-" + model alias + each
 * tag's key and value (sorted by key), every run of other characters
 * than [A-Za-z0-9] made one '-', cut to 53 characters, then '-' and the
 * first 10 hex digits of SHA-256 over the model id, copyFrom as written
 * ("" when absent) and the tags. out holds TG_PROFILE_NAME_MAX + 1. The
 * idempotency token is the first 32 hex digits of the same hash. */
void tg_profiles_name(const char *alias, const char *model_id,
                      const char *copy_from, json_t *tags,
                      char out[TG_PROFILE_NAME_MAX + 1], char token[33]);

/* 1 when every tag of want is in have with the same value. */
int tg_profiles_tags_cover(json_t *have, json_t *want);

/* The catalog text with the top-level "routes" value replaced by routes
 * (pretty-printed, indented as a member of the top object); every other
 * byte as it was. NULL when the text has no top-level "routes". Caller
 * frees. */
char *tg_profiles_splice(const char *text, size_t len, json_t *routes);

/* Writes text to path atomically: a temporary file beside it (same mode),
 * fsync, rename over path. On any error path is untouched and the
 * temporary removed. Returns 0 or -1 with why. */
int tg_profiles_write(const char *path, const char *text, char *why,
                      size_t size);

/* The work of one sync (profiles_sync.c). */
typedef struct tg_profiles_sync {
        json_t *root;       /* the catalog, parsed; routes edited in place */
        const char *region; /* for foundation-model ARNs */
        int dry_run;        /* no CreateInferenceProfile */
        tg_bctl_t *bctl;
        int created, found, kept, pending, errors;
} tg_profiles_sync_t;

/* Runs every route. Reports one line per route on stderr. Returns the
 * number of routes in error (0: root's routes hold every ARN found or
 * created, pending counts those a dry run would create). -1 when the
 * listing itself failed. */
int tg_profiles_sync_run(tg_profiles_sync_t *s);

#endif
