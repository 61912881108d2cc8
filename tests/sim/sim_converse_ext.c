/*
 * The Converse fields of service tiers, prompt caching and request
 * metadata, checked as Bedrock checks them: the shapes and constraints of
 * botocore's bedrock-runtime service model (ServiceTier, CachePointBlock,
 * RequestMetadata), failures as Smithy's ValidationException messages.
 * botocore validates none of the enums, lengths or patterns client-side,
 * so these are what a boto3 caller gets from AWS (tests/sim/test_boto3.py).
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "sim_converse.h"

#define SMITHY "1 validation error detected: "

static int enum_fail(sim_reply_t *reply, const char *v, const char *where,
                     const char *set)
{
        sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                         SMITHY "Value '%.64s' at '%s' failed to satisfy "
                                "constraint: Member must satisfy enum value "
                                "set: [%s]",
                         v ? v : "null", where, set);
        return -1;
}

int sim_validate_cache_point(json_t *cp, const char *where, sim_prompt_t *p,
                             sim_reply_t *reply)
{
        json_t *type = json_object_get(cp, "type");
        json_t *ttl = json_object_get(cp, "ttl");
        const char *t = json_string_value(type), *l = json_string_value(ttl);
        char path[160];

        if (!json_is_object(cp)) {
                sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                                 "Malformed input request: %s.cachePoint "
                                 "must be an object, please reformat your "
                                 "input and try again.",
                                 where);
                return -1;
        }
        snprintf(path, sizeof(path), "%s.member.cachePoint.type", where);
        if (!type) {
                sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                                 SMITHY "Value null at '%s' failed to "
                                        "satisfy constraint: Member must not "
                                        "be null",
                                 path);
                return -1;
        }
        if (!t || strcmp(t, "default"))
                return enum_fail(reply, t, path, "default");
        snprintf(path, sizeof(path), "%s.member.cachePoint.ttl", where);
        if (ttl && (!l || (strcmp(l, "5m") && strcmp(l, "1h"))))
                return enum_fail(reply, l, path, "5m, 1h");
        if (p->n_points >= SIM_CACHE_POINTS_MAX) {
                sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                                 "A maximum of %d cachePoint blocks is "
                                 "supported in a request.",
                                 SIM_CACHE_POINTS_MAX);
                return -1;
        }
        p->points[p->n_points].hash = p->text.hash;
        p->points[p->n_points].tokens = p->text.input_tokens;
        p->points[p->n_points].ttl_1h = l && strcmp(l, "1h") == 0;
        p->n_points++;
        return 0;
}

static int validate_tier(json_t *st, sim_prompt_t *p, sim_reply_t *reply)
{
        json_t *type = json_object_get(st, "type");
        const char *t = json_string_value(type);

        if (!st)
                return 0;
        if (!json_is_object(st) || !type) {
                sim_reply_error(reply, SIM_ERR_VALIDATION,
                                SMITHY "Value null at 'serviceTier.type' "
                                       "failed to satisfy constraint: Member "
                                       "must not be null");
                return -1;
        }
        if (!t || (strcmp(t, "priority") && strcmp(t, "default") &&
                   strcmp(t, "flex") && strcmp(t, "reserved")))
                return enum_fail(reply, t, "serviceTier.type",
                                 "priority, default, flex, reserved");
        p->tier = t;
        return 0;
}

/* [a-zA-Z0-9\s:_@$#=/+,-.]: \s is Java's whitespace, ",-." the range
 * ',' to '.'. */
static int meta_ok(const char *s, size_t min)
{
        size_t n = strlen(s);

        if (n < min || n > 256)
                return 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') ||
                      (c && strchr(" \t\n\v\f\r:_@$#=/+,-.", c))))
                        return 0;
        }
        return 1;
}

/* RequestMetadata is "sensitive": AWS does not echo its values. */
static int validate_metadata(json_t *md, sim_reply_t *reply)
{
        const char *k;
        json_t *v;

        if (!md)
                return 0;
        if (!json_is_object(md)) {
                sim_reply_error(reply, SIM_ERR_VALIDATION,
                                "Malformed input request: requestMetadata "
                                "must be a map, please reformat your input "
                                "and try again.");
                return -1;
        }
        if (json_object_size(md) < 1 || json_object_size(md) > 16) {
                sim_reply_errorf(reply, SIM_ERR_VALIDATION,
                                 SMITHY "Value at 'requestMetadata' failed "
                                        "to satisfy constraint: Member must "
                                        "have length %s",
                                 json_object_size(md) < 1
                                     ? "greater than or equal to 1"
                                     : "less than or equal to 16");
                return -1;
        }
        json_object_foreach(md, k, v)
        {
                if (!meta_ok(k, 1)) {
                        sim_reply_error(
                            reply, SIM_ERR_VALIDATION,
                            SMITHY "Value at 'requestMetadata' failed to "
                                   "satisfy constraint: Map keys must "
                                   "satisfy constraint: [Member must have "
                                   "length less than or equal to 256, Member "
                                   "must satisfy regular expression pattern: "
                                   "[a-zA-Z0-9\\s:_@$#=/+,-.]{1,256}]");
                        return -1;
                }
                if (!json_is_string(v) || !meta_ok(json_string_value(v), 0)) {
                        sim_reply_error(
                            reply, SIM_ERR_VALIDATION,
                            SMITHY "Value at 'requestMetadata' failed to "
                                   "satisfy constraint: Map values must "
                                   "satisfy constraint: [Member must have "
                                   "length less than or equal to 256, Member "
                                   "must satisfy regular expression pattern: "
                                   "[a-zA-Z0-9\\s:_@$#=/+,-.]{0,256}]");
                        return -1;
                }
        }
        return 0;
}

int sim_validate_ext(json_t *body, sim_prompt_t *p, sim_reply_t *reply)
{
        return validate_tier(json_object_get(body, "serviceTier"), p, reply) ||
               validate_metadata(json_object_get(body, "requestMetadata"),
                                 reply);
}
