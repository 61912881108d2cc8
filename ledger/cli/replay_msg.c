/* One usage-topic message: size and depth caps, JSON, dedupe by requestId,
 * then the caller's callback. */
#include "replay_int.h"

#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "request.h"
#include "tgjson.h"

/* What is remembered of each requestId: enough to tell a re-publication
 * from a different event, and where the first one was. */
typedef struct tg_replay_seen {
        unsigned char digest[SHA256_DIGEST_LENGTH];
        int32_t partition;
        int64_t offset;
} tg_replay_seen_t;

__attribute__((format(printf, 5, 6))) static void
issue(tg_replay_t *r, tg_replay_issue_kind_t kind, const rd_kafka_message_t *m,
      const char *rid, const char *fmt, ...)
{
        tg_replay_issue_t is = {kind, rid ? rid : "", m->partition, m->offset,
                                NULL};
        char reason[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        is.reason = reason;
        if (kind == TG_REPLAY_CONFLICT)
                r->stats->conflicts++;
        else
                r->stats->malformed++;
        if (r->on_issue)
                r->on_issue(&is, r->opaque);
}

/* Parses the payload into an object with a valid requestId, or reports it
 * as malformed and returns NULL. */
static json_t *parse(tg_replay_t *r, const rd_kafka_message_t *m,
                     const char **rid)
{
        json_error_t jerr;
        json_t *ev;
        const char *s;

        if (m->len > r->conf->max_message)
                return issue(r, TG_REPLAY_MALFORMED, m, NULL,
                             "%zu bytes, over the %zu-byte cap", m->len,
                             r->conf->max_message),
                       NULL;
        if (!tg_json_depth_ok(m->payload, m->len, TG_CLI_DEPTH_MAX))
                return issue(r, TG_REPLAY_MALFORMED, m, NULL,
                             "JSON nested deeper than %d", TG_CLI_DEPTH_MAX),
                       NULL;
        ev = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!ev)
                return issue(r, TG_REPLAY_MALFORMED, m, NULL, "not JSON: %s",
                             jerr.text),
                       NULL;
        s = json_string_value(json_object_get(ev, "requestId"));
        if (!json_is_object(ev) || !s || !tg_request_id_valid(s, strlen(s))) {
                issue(r, TG_REPLAY_MALFORMED, m, NULL,
                      "not a usage event: no valid requestId");
                json_decref(ev);
                return NULL;
        }
        *rid = s;
        return ev;
}

/* Returns 1 when rid was seen before (a duplicate or a conflict), 0 when
 * new, -1 when out of memory. */
static int seen_before(tg_replay_t *r, const rd_kafka_message_t *m,
                       const char *rid)
{
        tg_replay_seen_t *prev, *now;
        unsigned char d[SHA256_DIGEST_LENGTH];
        int added;
        void **slot;

        SHA256(m->payload, m->len, d);
        slot = tg_strmap_put(&r->seen, rid, strlen(rid), &added);
        if (!slot)
                return -1;
        if (!added) {
                prev = *slot;
                if (memcmp(prev->digest, d, sizeof(d)) == 0)
                        r->stats->duplicates++;
                else
                        issue(r, TG_REPLAY_CONFLICT, m, rid,
                              "differs from the event with this requestId at "
                              "partition %d offset %lld",
                              (int)prev->partition, (long long)prev->offset);
                return 1;
        }
        if (!(now = malloc(sizeof(*now))))
                return -1;
        memcpy(now->digest, d, sizeof(d));
        now->partition = m->partition;
        now->offset = m->offset;
        *slot = now;
        return 0;
}

int tg_replay_msg(tg_replay_t *r, const rd_kafka_message_t *m, char *errstr,
                  size_t errstr_size)
{
        const char *rid = NULL;
        char why[512];
        json_t *ev;
        int rc = 0, seen;

        r->stats->messages++;
        if (!(ev = parse(r, m, &rid)))
                return 0;
        seen = seen_before(r, m, rid);
        if (seen < 0) {
                snprintf(errstr, errstr_size, "out of memory");
                rc = -1;
        } else if (seen == 0) {
                why[0] = '\0';
                rc = r->on_event(ev, rid, r->opaque, why, sizeof(why));
                if (rc == 0)
                        r->stats->events++;
                if (rc == 1)
                        issue(r, TG_REPLAY_MALFORMED, m, rid, "%s", why);
                if (rc == -1)
                        snprintf(errstr, errstr_size, "%s", why);
                rc = rc == -1 ? -1 : 0;
        }
        json_decref(ev);
        return rc;
}
