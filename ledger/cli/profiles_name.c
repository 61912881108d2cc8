/*
 * Profile names and tags of routes (profiles.h). The name is derived, not
 * stored, so a run that created a profile but could not write the catalog
 * finds it by name the next time: syncing stays idempotent.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "profiles.h"

static int tag_chars_ok(const char *s)
{
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != ' ' &&
                    !strchr("._:/=+@-", *s))
                        return 0;
        return 1;
}

static int by_key(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *tg_profiles_tags(json_t *match, char *why, size_t size)
{
        const char *keys[8], *k;
        json_t *v, *tags;
        size_t n = 0;

        if (!json_is_object(match) || json_object_size(match) > 8) {
                snprintf(why, size, "match must be an object of up to 8 tags");
                return NULL;
        }
        json_object_foreach(match, k, v)
        {
                const char *s = json_string_value(v);
                if (!s || !*k || strlen(k) > 128 || strlen(s) > 256 ||
                    !tag_chars_ok(k) || !tag_chars_ok(s) ||
                    !strncmp(k, "aws:", 4)) {
                        snprintf(why, size,
                                 "tag %.64s cannot be a cost allocation tag "
                                 "(key 1-128, value 0-256 characters of "
                                 "A-Za-z0-9 space ._:/=+@-, no aws: prefix)",
                                 k);
                        return NULL;
                }
                keys[n++] = k;
        }
        qsort(keys, n, sizeof(keys[0]), by_key);
        tags = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(
                    tags, json_pack("{s:s, s:O}", "key", keys[i], "value",
                                    json_object_get(match, keys[i])));
        return tags;
}

/* Appends s to out as [A-Za-z0-9] runs joined by single '-'. */
/* The readable part of a name: the rest is "-" and 10 hex digits. */
#define NAME_READABLE_MAX 53
_Static_assert(NAME_READABLE_MAX + 11 == TG_PROFILE_NAME_MAX,
               "name: readable part, '-', 10 hex digits");

static void append_clean(char *out, size_t cap, const char *s)
{
        size_t n = strlen(out);

        for (; *s && n + 1 < cap; s++) {
                if (isalnum((unsigned char)*s))
                        out[n++] = *s;
                else if (n && out[n - 1] != '-')
                        out[n++] = '-';
        }
        out[n] = '\0';
}

void tg_profiles_name(const char *alias, const char *model_id,
                      const char *copy_from, json_t *tags,
                      char out[TG_PROFILE_NAME_MAX + 1], char token[33])
{
        char readable[256] = "tg-", hex[65];
        size_t i, n, cap = NAME_READABLE_MAX;
        json_t *t;
        char *canon;
        size_t clen = 64 + strlen(model_id) + strlen(copy_from);

        json_array_foreach(tags, i, t) clen +=
            strlen(json_string_value(json_object_get(t, "key"))) +
            strlen(json_string_value(json_object_get(t, "value"))) + 2;
        canon = malloc(clen);
        n = canon
                ? (size_t)snprintf(canon, clen, "tollgate-profile-v1\n%s\n%s\n",
                                   model_id, copy_from)
                : 0;
        append_clean(readable, sizeof(readable), alias);
        json_array_foreach(tags, i, t)
        {
                const char *k = json_string_value(json_object_get(t, "key"));
                const char *v = json_string_value(json_object_get(t, "value"));
                if (canon)
                        n += (size_t)snprintf(canon + n, clen - n, "%s=%s\n", k,
                                              v);
                append_clean(readable, sizeof(readable), "-");
                append_clean(readable, sizeof(readable), k);
                append_clean(readable, sizeof(readable), "-");
                append_clean(readable, sizeof(readable), v);
        }
        tg_sha256_hex(canon ? canon : "", n, hex);
        free(canon);
        readable[cap < strlen(readable) ? cap : strlen(readable)] = '\0';
        n = strlen(readable);
        while (n && readable[n - 1] == '-')
                readable[--n] = '\0';
        /* the precision says what the cut above did (for gcc's
         * -Wformat-truncation at -O0) */
        snprintf(out, TG_PROFILE_NAME_MAX + 1, "%.53s-%.10s", readable, hex);
        snprintf(token, 33, "%.32s", hex);
}

int tg_profiles_tags_cover(json_t *have, json_t *want)
{
        size_t i, j;
        json_t *w, *h;

        json_array_foreach(want, i, w)
        {
                int ok = 0;
                json_array_foreach(have, j, h) ok |=
                    json_equal(json_object_get(h, "key"),
                               json_object_get(w, "key")) &&
                    json_equal(json_object_get(h, "value"),
                               json_object_get(w, "value"));
                if (!ok)
                        return 0;
        }
        return 1;
}
