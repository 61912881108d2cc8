/* ledger/stored.h: the events a request record keeps for re-publication.
 * A wrong pack or unpack re-publishes other bytes than the first time; an
 * unpack that trusts the record overflows or allocates what it claims. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stored.h"
#include "tg_test.h"

static const char COMPLETION[] =
    "{\"requestId\":\"req-000123\",\"status\":\"completed\",\"model\":"
    "\"nova-lite\",\"modelId\":\"amazon.nova-lite-v1:0\",\"output\":{"
    "\"text\":\"The quarterly numbers show revenue up 12 percent, driven by "
    "the enterprise tier; costs rose 4 percent, mostly cloud spend. The "
    "forecast for next quarter keeps the same trend, with a risk from the "
    "currency.\",\"stopReason\":\"end_turn\"},\"usage\":{\"inputTokens\":"
    "412,\"outputTokens\":57,\"totalTokens\":469},\"costNanoUsd\":38220,"
    "\"tags\":{\"applicationId\":\"app-eng\",\"costCenter\":\"eng\","
    "\"environment\":\"prod\",\"requestId\":\"req-000123\",\"timestamp\":"
    "\"2026-11-27T05:51:37.598239Z\"},\"attempts\":1,\"latencyMs\":812,"
    "\"completedAt\":\"2026-11-27T05:51:38.410112Z\"}";

static char err[128];

static char *unpacked(const char *s, size_t len, int want_rc)
{
        char *out = (char *)1;
        int rc = tg_stored_unpack(s, len, &out, err, sizeof(err));

        CHECK_INT(rc, want_rc);
        if (rc) {
                CHECK(out == NULL);
                CHECK(strncmp(err, "stored event: ", 14) == 0);
        }
        return out;
}

static void round_trip(const char *event, int want_packed)
{
        size_t len = 0, len2 = 0;
        char *p = tg_stored_pack(event, &len), *p2, *out;

        CHECK(p != NULL);
        if (!p)
                return;
        CHECK_INT(len > 0 && (unsigned char)p[0] == TG_STORED_PACKED,
                  want_packed);
        if (!want_packed) /* stored as it is */
                CHECK(len == strlen(event) && memcmp(p, event, len) == 0);
        p2 = tg_stored_pack(event, &len2); /* a retry sends the same bytes */
        CHECK(p2 && len2 == len && memcmp(p, p2, len) == 0);
        out = unpacked(p, len, 0);
        CHECK(out && strcmp(out, event) == 0);
        free(out);
        free(p2);
        free(p);
}

static void test_round_trip(void)
{
        size_t len;
        char *p = tg_stored_pack(COMPLETION, &len), *big, *noise;
        uint32_t x = 12345;

        round_trip(COMPLETION, 1);
        /* a typical event shrinks to under 60 % (the dictionary; level -1
         * leaves its literals as they are) */
        CHECK(p && len * 5 < sizeof(COMPLETION) * 3);
        free(p);
        round_trip("", 0);
        round_trip("{}", 0); /* would not shrink */
        /* small and large (200 KB) events */
        big = malloc(200001);
        for (size_t i = 0; big && i < 200000; i++)
                big[i] = COMPLETION[(i * 7) % (sizeof(COMPLETION) - 1)];
        if (big) {
                big[200000] = '\0';
                round_trip(big, 1);
                big[1000] = '\0';
                round_trip(big, 1);
        }
        free(big);
        /* incompressible: stays plain */
        noise = malloc(4097);
        for (size_t i = 0; noise && i < 4096; i++) {
                x = x * 1103515245u + 12345u;
                noise[i] = (char)(1 + (x >> 16) % 255);
        }
        if (noise) {
                noise[4096] = '\0';
                round_trip(noise, 0);
        }
        free(noise);
}

/* Packed by this codec when its dictionary was made: the dictionary is
 * frozen (stored.c), so these bytes read back for as long as records may
 * (another zstd may pack differently; every zstd reads this). */
static void test_frozen_dictionary(void)
{
        static const char packed[] =
            "\x01\x00\x00\x00\x97\x28\xb5\x2f\xfd\x04\x00\x15\x01\x00"
            "\x80\x66\x69\x78\x74\x75\x72\x65\x2d\x31\x48\x65\x6c\x6c"
            "\x6f\x2e\x7d\x05\x00\x92\xfb\x00\x8d\xb6\x80\x71\x4d\x20"
            "\xbd\xe4\x6e\x50\xa6\x40\xeb\x82\x6d\x86";
        char *out = unpacked(packed, sizeof(packed) - 1, 0);

        CHECK_STR(out, "{\"requestId\":\"fixture-1\",\"status\":"
                       "\"completed\",\"model\":\"nova-lite\",\"modelId\":"
                       "\"amazon.nova-lite-v1:0\",\"output\":{\"text\":"
                       "\"Hello.\",\"stopReason\":\"end_turn\"}}");
        free(out);
}

/* A copy of stored.c's dictionary as it was frozen, and that text packed
 * with it (one reference to the whole dictionary): a change anywhere in
 * the dictionary makes these bytes unreadable, as it would make every
 * stored record. */
static const char FROZEN_DICT[] =
    "{\"reason\":\"\",\"error\":\"budget\",\"status\":\"rejected\","
    "\"failed\",\"invalid\",\"overrunNanoUsd\":0,\"billingUnknown\":true,"
    "\"cacheWrite1hInputTokens\":0,\"degraded\":{\"budgetId\":\"\","
    "\"fromTier\":\"priority\",\"toTier\":\"flex\"},\"metadata\":{},"
    "\"model\":\"claude-sonnet\",\"modelId\":\"anthropic.claude-sonnet-4"
    "-20250514-v1:0\",\"target\":\"us.anthropic.claude-3-5-haiku-"
    "20241022-v1:0\",\"max_tokens\",\"stop_sequence\",\"tool_use\","
    "{\"schema\":\"tollgate.usage.v1\",\"requestId\":\"\",\"timestamp\":"
    "\"2026-01-01T00:00:00.000000Z\",\"decidedAt\":\"2026-01-01T00:00:00."
    "000000Z\",\"decision\":\"approved\",\"budgets\":[{\"id\":\"\","
    "\"period\":\"2026-01\",\"limitNanoUsd\":null,\"spentNanoUsd\":"
    "\"#tg:spent:1#\"},{\"id\":\"\",\"period\":\"2026-01-01\","
    "\"limitNanoUsd\":1000000000000000,\"spentNanoUsd\":\"#tg:spent:2#\"}],"
    "\"model\":\"nova-lite\",\"modelId\":\"amazon.nova-lite-v1:0\","
    "\"target\":\"amazon.nova-lite-v1:0\",\"tags\":{\"applicationId\":"
    "\"app-\",\"costCenter\":\"\",\"environment\":\"prod\"},"
    "\"inputTokens\":0,\"outputTokens\":0,\"cacheReadInputTokens\":0,"
    "\"cacheWriteInputTokens\":0,\"serviceTier\":\"default\","
    "\"reservedNanoUsd\":0,\"costNanoUsd\":0,\"priceVersion\":\"aws-us-"
    "on-demand-2026-01-01\",\"workerId\":\"\",\"attempts\":1,"
    "\"latencyMs\":0,\"bedrockLatencyMs\":0}"
    "{\"requestId\":\"\",\"status\":\"completed\",\"model\":\"nova-lite\","
    "\"modelId\":\"amazon.nova-lite-v1:0\",\"output\":{\"text\":\"\","
    "\"stopReason\":\"end_turn\"},\"usage\":{\"inputTokens\":0,"
    "\"outputTokens\":0,\"totalTokens\":0},\"costNanoUsd\":0,\"tags\":{"
    "\"applicationId\":\"app-\",\"costCenter\":\"\",\"environment\":"
    "\"prod\",\"requestId\":\"\",\"timestamp\":\"2026-01-01T00:00:00."
    "000000Z\"},\"attempts\":1,\"latencyMs\":0,\"completedAt\":\"2026-";

static void test_frozen_dictionary_whole(void)
{
        static const char packed[] =
            "\x01\x00\x00\x05\xeb\x28\xb5\x2f\xfd\x04\x08\x75\x00\x00"
            "\x18\x7b\x22\x72\x02\x00\xdd\xb9\x97\x1f\x44\xbc\x74\x08"
            "\x74\x95\x8c\x0b";
        char *out = unpacked(packed, sizeof(packed) - 1, 0);

        CHECK_STR(out, FROZEN_DICT);
        free(out);
}

static void test_old_records(void)
{
        /* written before packing: the JSON itself, returned as it is */
        char *out = unpacked(COMPLETION, strlen(COMPLETION), 0);

        CHECK(out && strcmp(out, COMPLETION) == 0);
        free(out);
        out = unpacked("", 0, 0); /* a record without the field */
        CHECK(out && strcmp(out, "") == 0);
        free(out);
        /* a NUL would cut the event short where it is published */
        unpacked("{\"a\":1}\0{}", 10, TG_STORED_ECORRUPT);
}

static void test_corrupt(void)
{
        size_t len;
        char *p = tg_stored_pack(COMPLETION, &len), *q;

        if (!p)
                return;
        /* every single-bit flip is refused, or (the unused padding bits
         * of the stream's last byte) gives the very event; every
         * truncation is refused */
        q = malloc(len + 8);
        for (size_t i = 0; q && i < len; i++) {
                for (int bit = 0; bit < 8; bit++) {
                        char *out;
                        int rc;

                        memcpy(q, p, len);
                        q[i] ^= (char)(1 << bit);
                        rc = tg_stored_unpack(q, len, &out, err, sizeof(err));
                        CHECK(rc == TG_STORED_ECORRUPT ||
                              (rc == 0 && strcmp(out, COMPLETION) == 0));
                        CHECK(rc == 0 || out == NULL);
                        free(out);
                }
                free(unpacked(p, i, i ? TG_STORED_ECORRUPT : 0));
        }
        /* bytes after the stream */
        if (q) {
                memcpy(q, p, len);
                memcpy(q + len, "garbage", 8);
                unpacked(q, len + 7, TG_STORED_ECORRUPT);
                /* just the header, and a header claiming an empty event */
                unpacked(q, 5, TG_STORED_ECORRUPT);
                memset(q + 1, 0, 4);
                unpacked(q, len, TG_STORED_ECORRUPT);
        }
        free(q);
        free(p);
}

static void test_oversized(void)
{
        size_t len, n = 300000;
        char *big = malloc(n + 1), *p, *out;

        if (!big)
                return;
        memset(big, 'a', n);
        big[n] = '\0';
        p = tg_stored_pack(big, &len);
        CHECK(p && len < 1000);
        if (p) {
                /* a length beyond the cap: refused before any allocation */
                p[1] = (char)0xff, p[2] = p[3] = p[4] = (char)0xff;
                unpacked(p, len, TG_STORED_ECORRUPT);
                CHECK(strstr(err, "length out of range") != NULL);
                p[1] = (char)(((TG_STORED_MAX + 1u) >> 24) & 0xff);
                p[2] = (char)(((TG_STORED_MAX + 1u) >> 16) & 0xff);
                p[3] = (char)(((TG_STORED_MAX + 1u) >> 8) & 0xff);
                p[4] = (char)((TG_STORED_MAX + 1u) & 0xff);
                unpacked(p, len, TG_STORED_ECORRUPT);
                /* a stream inflating beyond its claimed length (a bomb):
                 * the output stops at the length (ASan would see more) */
                p[1] = p[2] = 0, p[3] = 0x01, p[4] = 0x00;
                out = unpacked(p, len, TG_STORED_ECORRUPT);
                CHECK(strstr(err, "length") != NULL);
                free(out);
        }
        free(p);
        free(big);
}

/* Random bytes behind the marker, and random edits of a packed event:
 * refused or an event, never a crash (the sanitized build checks every
 * read and write). */
static void test_random(void)
{
        unsigned char buf[600];
        size_t plen;
        char *p = tg_stored_pack(COMPLETION, &plen), *out;
        uint32_t x = 7;
        int rc;

        for (int round = 0; p && round < 20000; round++) {
                size_t len = 1 + (x = x * 1103515245u + 12345u) % sizeof(buf);

                if (round % 2 && plen <= sizeof(buf)) {
                        len = plen;
                        memcpy(buf, p, plen);
                        for (int k = 0; k < 1 + round % 4; k++) {
                                x = x * 1103515245u + 12345u;
                                buf[5 + (x >> 8) % (plen - 5)] ^=
                                    (unsigned char)(1 + (x >> 20) % 255);
                        }
                } else {
                        for (size_t i = 0; i < len; i++)
                                buf[i] = (unsigned char)((x = x * 1103515245u +
                                                              12345u) >>
                                                         16);
                        buf[0] = TG_STORED_PACKED;
                        if (round % 3 == 0) /* a length believed */
                                buf[1] = 0, buf[2] = (unsigned char)(round % 2);
                }
                rc = tg_stored_unpack((const char *)buf, len, &out, err,
                                      sizeof(err));
                CHECK(rc == TG_STORED_ECORRUPT ||
                      (rc == 0 && strcmp(out, COMPLETION) == 0));
                free(out);
        }
        free(p);
}

int main(void)
{
        test_round_trip();
        test_frozen_dictionary();
        test_frozen_dictionary_whole();
        test_old_records();
        test_corrupt();
        test_oversized();
        test_random();
        return tg_test_done("test_stored");
}
