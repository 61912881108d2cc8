/*
 * The inference-profile operations over tg_bctl_call (bedrock_control.h):
 * request shapes and URI labels as botocore's bedrock model has them
 * ({inferenceProfileIdentifier} is one label: ':' and '/' encoded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bedrock_control.h"
#include "sigv4.h"

static int label_path(const char *prefix, const char *ident, char *out,
                      size_t size)
{
        size_t n = strlen(prefix);

        if (n >= size)
                return -1;
        memcpy(out, prefix, n);
        return tg_sigv4_uri_encode(ident, strlen(ident), 0, out + n, size - n) <
                       0
                   ? -1
                   : 0;
}

static int bad_input(tg_bctl_error_t *err, const char *why)
{
        memset(err, 0, sizeof(*err));
        snprintf(err->message, sizeof(err->message), "%s", why);
        return -1;
}

int tg_bctl_list_app_profiles(tg_bctl_t *b, json_t **out, tg_bctl_error_t *err)
{
        json_t *all = json_array(), *page = NULL;
        char query[TG_SIGV4_MAX_PATH];
        const char *tok = NULL;
        char tokbuf[4200];

        *out = NULL;
        for (int i = 0; i < TG_BCTL_PAGES_MAX; i++) {
                int n = snprintf(query, sizeof(query), "type=APPLICATION");
                if (tok) {
                        if (strlen(tok) > 2048 ||
                            tg_sigv4_uri_encode(tok, strlen(tok), 0, tokbuf,
                                                sizeof(tokbuf)) < 0)
                                break;
                        snprintf(query + n, sizeof(query) - (size_t)n,
                                 "&nextToken=%s", tokbuf);
                }
                json_decref(page);
                if (tg_bctl_call(b, "GET", "/inference-profiles", query, NULL,
                                 &page, err)) {
                        json_decref(all);
                        return -1;
                }
                json_array_extend(
                    all, json_object_get(page, "inferenceProfileSummaries"));
                tok = json_string_value(json_object_get(page, "nextToken"));
                if (!tok || !*tok) {
                        json_decref(page);
                        *out = all;
                        return 0;
                }
        }
        json_decref(page);
        json_decref(all);
        return bad_input(err, "ListInferenceProfiles: too many pages or a bad "
                              "nextToken");
}

int tg_bctl_get_profile(tg_bctl_t *b, const char *ident, json_t **out,
                        tg_bctl_error_t *err)
{
        char path[TG_SIGV4_MAX_PATH];

        if (label_path("/inference-profiles/", ident, path, sizeof(path)))
                return bad_input(err, "identifier too long");
        return tg_bctl_call(b, "GET", path, NULL, NULL, out, err);
}

int tg_bctl_list_tags(tg_bctl_t *b, const char *arn, json_t **out,
                      tg_bctl_error_t *err)
{
        json_t *req = json_pack("{s:s}", "resourceARN", arn), *reply = NULL;
        char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        int rc = body ? tg_bctl_call(b, "POST", "/listTagsForResource", NULL,
                                     body, &reply, err)
                      : bad_input(err, "out of memory");
        json_t *tags = json_object_get(reply, "tags");

        *out = NULL;
        if (!rc)
                *out = json_is_array(tags) ? json_incref(tags) : json_array();
        json_decref(reply);
        json_decref(req);
        free(body);
        return rc;
}

int tg_bctl_create_profile(tg_bctl_t *b, const char *name,
                           const char *copy_from, const char *description,
                           json_t *tags, const char *token, char *arn,
                           size_t size, tg_bctl_error_t *err)
{
        json_t *req =
            json_pack("{s:s, s:{s:s}, s:O, s:s}", "inferenceProfileName", name,
                      "modelSource", "copyFrom", copy_from, "tags", tags,
                      "clientRequestToken", token);
        json_t *reply = NULL;
        char *body;
        const char *got;
        int rc;

        if (req && description)
                json_object_set_new(req, "description",
                                    json_string(description));
        body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        rc = body ? tg_bctl_call(b, "POST", "/inference-profiles", NULL, body,
                                 &reply, err)
                  : bad_input(err, "out of memory");
        got = json_string_value(json_object_get(reply, "inferenceProfileArn"));
        if (!rc && (!got || strlen(got) >= size || strncmp(got, "arn:", 4)))
                rc = bad_input(err, "CreateInferenceProfile: reply without "
                                    "a usable inferenceProfileArn");
        if (!rc)
                snprintf(arn, size, "%s", got);
        json_decref(reply);
        json_decref(req);
        free(body);
        return rc;
}
