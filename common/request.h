/*
 * The request schema (README.md, "Submitting requests") and its validation.
 *
 * A tg_request_t owns the unescaped strings of the document (read with
 * common/jsonr.c); every string pointer in it points there, NUL-terminated,
 * and lives until tg_request_destroy().
 */
#ifndef TG_REQUEST_H
#define TG_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define TG_REQUEST_ID_MAX       128
#define TG_TAG_KEY_MAX          128
#define TG_TAG_VALUE_MAX        256
#define TG_TAGS_MAX             32
#define TG_MESSAGES_MAX         1024
#define TG_MODEL_MAX            2048
#define TG_JSON_DEPTH_MAX       32
#define TG_REQUEST_SIZE_DEFAULT (1024 * 1024)
/* Converse takes at most 4 cache checkpoints a request (Anthropic's
 * limit, the strictest of the models with prompt caching). */
#define TG_CACHE_POINTS_MAX 4

/* Bedrock service tiers (docs/operations.md, "Service tiers, prompt
 * caching and request metadata"). "reserved" is capacity bought per
 * month, not priced per token, so it is not here. */
typedef enum tg_tier {
        TG_TIER_DEFAULT = 0, /* Bedrock's "default" (the Standard tier) */
        TG_TIER_PRIORITY,
        TG_TIER_FLEX,
        TG_TIER_N,
} tg_tier_t;

/* A cache point after a message (Converse's cachePoint block): none, or
 * with the time to live asked for (TG_CACHE_DEFAULT: none given, which
 * Bedrock takes as 5 minutes). */
typedef enum tg_cache_ttl {
        TG_CACHE_NONE = 0,
        TG_CACHE_DEFAULT,
        TG_CACHE_5M,
        TG_CACHE_1H,
} tg_cache_ttl_t;

typedef enum tg_role {
        TG_ROLE_SYSTEM,
        TG_ROLE_USER,
        TG_ROLE_ASSISTANT,
} tg_role_t;

typedef struct tg_message {
        tg_role_t role;
        const char *content;
        size_t content_len;
        tg_cache_ttl_t cache; /* a cache point after this content */
} tg_message_t;

typedef struct tg_tag {
        const char *key;
        const char *value;
} tg_tag_t;

typedef struct tg_params {
        int64_t max_tokens; /* 0 when absent */
        double temperature; /* valid when has_temperature */
        double top_p;
        int64_t top_k;          /* 0 when absent */
        tg_tier_t service_tier; /* valid when has_service_tier */
        unsigned has_temperature : 1;
        unsigned has_top_p : 1;
        unsigned has_service_tier : 1;
} tg_params_t;

typedef struct tg_request {
        char *strings; /* owned: where the strings below live */
        size_t strings_used, strings_cap;
        char request_id[TG_REQUEST_ID_MAX + 1];
        char timestamp[40]; /* empty when absent */
        const char *model;
        tg_message_t *messages; /* owned array */
        size_t n_messages;
        tg_params_t params;
        tg_tag_t tags[TG_TAGS_MAX];
        size_t n_tags;
        size_t text_bytes;     /* UTF-8 bytes of all message contents */
        size_t n_cache_points; /* messages with a cache point */
} tg_request_t;

typedef enum tg_parse_result {
        TG_PARSE_OK = 0,
        TG_PARSE_NOT_JSON, /* not a JSON object: goes to the DLQ untouched */
        TG_PARSE_INVALID,  /* a JSON object that breaks a rule: `invalid` */
} tg_parse_result_t;

/* Parses and validates one request of `len` bytes (need not be
 * NUL-terminated). `max_size` caps len (0 = TG_REQUEST_SIZE_DEFAULT).
 *
 * On TG_PARSE_OK, req is filled and must be destroyed.
 * On TG_PARSE_INVALID, req->strings is set (the requestId and tags, which
 * may be partially filled, live there) and errstr says which rule broke in
 * words a user understands, e.g. `prompt.messages[2].role: must be one of
 * system, user, assistant`. req must still be destroyed.
 * On TG_PARSE_NOT_JSON, req is empty and errstr says why. */
tg_parse_result_t tg_request_parse(tg_request_t *req, const char *buf,
                                   size_t len, size_t max_size, char *errstr,
                                   size_t errstr_size);

void tg_request_destroy(tg_request_t *req);

/* 1 when s (len bytes) is a valid requestId: 1-128 of [A-Za-z0-9._:-]. */
int tg_request_id_valid(const char *s, size_t len);

/* Looks up a tag by key; NULL when absent. */
const char *tg_request_tag(const tg_request_t *req, const char *key);

/* Checks a tag key/value pair against AWS tag rules. Returns 0 or -1 with
 * errstr filled. */
int tg_tag_check(const char *key, const char *value, char *errstr,
                 size_t errstr_size);

#endif
