/*
 * Packing and unpacking of the stored events (stored.h): zstd with a
 * dictionary prepared once (ZSTD_CDict/DDict, shared read-only by every
 * thread), a fresh context per call (no state between calls), the length
 * in front so unpacking allocates once and refuses an oversized claim
 * before decompressing anything. zstd, not zlib: on ~800-byte events both
 * spend most of a call on per-call set-up, zlib's deflate ~150 k
 * instructions per event and zstd ~60 k, for the same size.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "stored.h"

#define HEAD 5 /* marker + length */
/* Level -1 (a negative level: literals left as they are, no Huffman
 * stage): 67 k instructions per request for both events against 111 k at
 * level 1, for records 1,488 B against 1,392 B (tests/bench/RESULTS.md). */
#define LEVEL -1

/* The dictionary: what every completion and usage event repeats
 * (docs/usage-events.md), so even the first occurrence of a key in an
 * event is a short reference: a typical pair packs to ~500 bytes instead
 * of ~870 without it (of ~1,540). FROZEN: every packed record needs these
 * very bytes to be read; a different dictionary takes a new marker byte,
 * and readers keep this one for as long as records may be. The most
 * frequent strings are last (the shortest offsets). */
static const char DICT[] =
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

static pthread_once_t dict_once = PTHREAD_ONCE_INIT;
static ZSTD_CDict *cdict; /* NULL if out of memory: events stay plain */
static ZSTD_DDict *ddict;

static void dict_init(void)
{
        cdict = ZSTD_createCDict(DICT, sizeof(DICT) - 1, LEVEL);
        ddict = ZSTD_createDDict(DICT, sizeof(DICT) - 1);
}

static char *plain_copy(const char *event, size_t n, size_t *len)
{
        char *out = malloc(n ? n : 1);

        if (out) {
                memcpy(out, event, n);
                *len = n;
        }
        return out;
}

static void put_len(unsigned char *p, size_t n)
{
        p[0] = TG_STORED_PACKED;
        p[1] = (unsigned char)(n >> 24);
        p[2] = (unsigned char)(n >> 16);
        p[3] = (unsigned char)(n >> 8);
        p[4] = (unsigned char)n;
}

/* One compression context per thread, made on first use and kept: a new
 * context per event allocated and cleared its tables every time, which
 * was most of the cost of packing (~130 k instructions per request).
 * Its parameters and the dictionary reference are sticky: every frame has
 * no content size nor dictionary id (the header has the one, there is
 * only the other) and a checksum (XXH64's low 4 bytes), so corruption is
 * caught. Kept until the thread ends (the worker packs on its loop
 * thread only). */
static _Thread_local ZSTD_CCtx *cctx;

static ZSTD_CCtx *thread_cctx(void)
{
        ZSTD_CCtx *c;

        if (cctx)
                return cctx;
        c = ZSTD_createCCtx();
        if (c && !ZSTD_isError(ZSTD_CCtx_refCDict(c, cdict)) &&
            !ZSTD_isError(
                ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)))
                return cctx = c;
        ZSTD_freeCCtx(c);
        return NULL;
}

/* 0 when not packed. */
static size_t compress_frame(unsigned char *out, size_t cap, const char *in,
                             size_t n)
{
        ZSTD_CCtx *c = thread_cctx();
        size_t r;

        if (!c)
                return 0;
        r = ZSTD_compress2(c, out, cap, in, n);
        if (ZSTD_isError(r)) {
                /* a failed frame may leave the session half done */
                ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
                return 0;
        }
        return r;
}

char *tg_stored_pack(const char *event, size_t *len)
{
        size_t n = strlen(event), cap, z;
        unsigned char *out;

        pthread_once(&dict_once, dict_init);
        if (n == 0 || n > TG_STORED_MAX || !cdict)
                return plain_copy(event, n, len);
        cap = HEAD + ZSTD_compressBound(n);
        if (!(out = malloc(cap)))
                return NULL;
        put_len(out, n);
        z = compress_frame(out + HEAD, cap - HEAD, event, n);
        if (z == 0 || HEAD + z >= n) { /* would not shrink: keep it plain */
                free(out);
                return plain_copy(event, n, len);
        }
        *len = HEAD + z;
        return (char *)out;
}

static int fail(int rc, char *err, size_t errlen, const char *what)
{
        snprintf(err, errlen, "stored event: %s", what);
        return rc;
}

static int unpack_plain(const char *s, size_t len, char **out, char *err,
                        size_t errlen)
{
        if (memchr(s, '\0', len))
                return fail(TG_STORED_ECORRUPT, err, errlen,
                            "NUL byte in a plain event");
        if (!(*out = malloc(len + 1)))
                return fail(TG_STORED_ENOMEM, err, errlen, "out of memory");
        memcpy(*out, s, len);
        (*out)[len] = '\0';
        return 0;
}

/* Exactly n bytes from one frame with its checksum right and no byte
 * after it: anything else is not what was stored. */
static int decompress_exact(const unsigned char *in, size_t len, char *out,
                            size_t n, char *err, size_t errlen)
{
        ZSTD_DCtx *d = ZSTD_createDCtx();
        size_t r;

        if (!d)
                return fail(TG_STORED_ENOMEM, err, errlen, "out of memory");
        r = ZSTD_decompress_usingDDict(d, out, n, in, len, ddict);
        ZSTD_freeDCtx(d);
        if (ZSTD_isError(r) &&
            ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
                return fail(TG_STORED_ENOMEM, err, errlen, "out of memory");
        if (ZSTD_isError(r))
                return fail(TG_STORED_ECORRUPT, err, errlen,
                            ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall
                                ? "longer than its length"
                                : "corrupt zstd frame");
        if (r != n)
                return fail(TG_STORED_ECORRUPT, err, errlen,
                            "shorter than its length");
        if (memchr(out, '\0', n))
                return fail(TG_STORED_ECORRUPT, err, errlen,
                            "NUL byte in a packed event");
        return 0;
}

int tg_stored_unpack(const char *s, size_t len, char **out, char *err,
                     size_t errlen)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t n;
        int rc;

        *out = NULL;
        if (len == 0 || p[0] != TG_STORED_PACKED)
                return unpack_plain(s, len, out, err, errlen);
        if (len <= HEAD)
                return fail(TG_STORED_ECORRUPT, err, errlen,
                            "truncated header");
        n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 |
            (size_t)p[4];
        if (n == 0 || n > TG_STORED_MAX)
                return fail(TG_STORED_ECORRUPT, err, errlen,
                            "length out of range");
        pthread_once(&dict_once, dict_init);
        if (!ddict || !(*out = malloc(n + 1)))
                return fail(TG_STORED_ENOMEM, err, errlen, "out of memory");
        rc = decompress_exact(p + HEAD, len - HEAD, *out, n, err, errlen);
        if (rc) {
                free(*out);
                *out = NULL;
                return rc;
        }
        (*out)[n] = '\0';
        return 0;
}
