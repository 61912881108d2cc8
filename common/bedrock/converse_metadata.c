/*
 * Converse's requestMetadata: the request's id and tags, so Bedrock's own
 * invocation logs join the usage topic (docs/operations.md, "Service
 * tiers, prompt caching and request metadata"). The limits are those of
 * RequestMetadata in botocore's bedrock-runtime service model (count
 * 1-16, key 1-256, value 0-256, pattern [a-zA-Z0-9\s:_@$#=/+,-.]); what
 * does not fit is left out, never an error: the call matters more than
 * its label.
 */
#include <string.h>

#include "converse.h"
#include "jsonw.h"

/* The pattern's characters: \s is Java's [ \t\n\x0B\f\r]; ",-." is the
 * range ',' to '.', that is ',', '-' and '.'. */
static int meta_char(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') ||
               (c && strchr(" \t\n\v\f\r:_@$#=/+,-.", c));
}

static int meta_ok(const char *s, size_t min)
{
        size_t n = strlen(s);

        if (n < min || n > TG_CONVERSE_METADATA_LEN)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!meta_char((unsigned char)s[i]))
                        return 0;
        return 1;
}

static int put(tg_jsonw_t *w, int *n, const char *k, const char *v)
{
        if (*n >= TG_CONVERSE_METADATA_MAX || !meta_ok(k, 1) || !meta_ok(v, 0))
                return 0;
        tg_jsonw_kstr(w, k, v);
        (*n)++;
        return 1;
}

void tg_converse_write_metadata(tg_jsonw_t *w, const tg_request_t *req,
                                const char *request_id)
{
        const char *app = tg_request_tag(req, "applicationId");
        int n = 0;

        tg_jsonw_key(w, "requestMetadata");
        tg_jsonw_obj_open(w);
        put(w, &n, "requestId", request_id);
        if (app)
                put(w, &n, "applicationId", app);
        for (size_t i = 0; i < req->n_tags; i++) {
                const char *k = req->tags[i].key;
                if (strcmp(k, "requestId") == 0 ||
                    strcmp(k, "applicationId") == 0)
                        continue;
                put(w, &n, k, req->tags[i].value);
        }
        tg_jsonw_obj_close(w);
}
