/*
 * The stored form of a request's completion and usage events (finish.lua
 * keeps them in the request record for re-publication): compressed, so
 * they take under a third of their bytes (issue 15: records drove AOF
 * rewrites), and read back byte for byte.
 *
 *   packed   0x01, the event's length (4 bytes, big-endian, at most
 *            TG_STORED_MAX), then one zstd frame (RFC 8878) made with
 *            stored.c's dictionary, frozen, without content size or
 *            dictionary id, with a checksum, so corruption is caught
 *   plain    the event's JSON itself: records written before packing, and
 *            events packing would not shrink or that exceed TG_STORED_MAX
 *
 * The marker byte cannot start JSON, so the two never mix up. Redis and
 * Lua strings are binary-safe; finish.lua and admit.lua only store and
 * return the bytes.
 */
#ifndef TG_STORED_H
#define TG_STORED_H

#include <stddef.h>

#define TG_STORED_PACKED 0x01
/* The largest event packed, and the largest length an unpack believes:
 * a Bedrock body is at most 16 MiB (TG_CONVERSE_BODY_MAX), its text
 * escaped in JSON fits in this. */
#define TG_STORED_MAX (64u * 1024 * 1024)

/* The stored form of the NUL-terminated event: malloc'd, its length in
 * *len (the bytes may hold NULs). NULL when out of memory. */
char *tg_stored_pack(const char *event, size_t *len);

#define TG_STORED_ENOMEM   -1
#define TG_STORED_ECORRUPT -2 /* not what was stored: it never will be */

/* The event of a stored value of len bytes into *out (malloc'd,
 * NUL-terminated): 0, or TG_STORED_ENOMEM / TG_STORED_ECORRUPT (corrupt,
 * truncated, oversized claim, a NUL in the event) with the reason in err.
 * Never reads beyond len, never writes beyond the length it checked. */
int tg_stored_unpack(const char *s, size_t len, char **out, char *err,
                     size_t errlen);

#endif
