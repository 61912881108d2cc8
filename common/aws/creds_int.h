/*
 * Internals of the credentials provider, shared by creds*.c only.
 */
#ifndef TG_AWS_CREDS_INT_H
#define TG_AWS_CREDS_INT_H

#include "creds.h"

#define TG_CREDS_LINE_MAX       4096 /* one line of the credentials file */
#define TG_CREDS_FILE_MAX       (1024 * 1024)
#define TG_CREDS_HTTP_BODY_MAX  (64 * 1024)
#define TG_CREDS_URL_MAX        2048
#define TG_CREDS_AUTH_TOKEN_MAX 8192

/* Copies src into dst; -1 (dst emptied) when it does not fit. */
int tg_creds_copy(char *dst, size_t dst_size, const char *src);

/* Loads `profile` from the shared credentials file at `path` into out.
 * Returns 1 when loaded, 0 when the file, the profile or its keys are
 * absent (errstr says which), -1 on a malformed or oversized file. */
int tg_creds_file_load(const char *path, const char *profile,
                       tg_creds_snapshot_t *out, char *errstr,
                       size_t errstr_size);

/* Reads a small file (e.g. a token) whole into buf, trailing whitespace
 * trimmed. -1 when unreadable, longer than size-1, or holding a control
 * character. */
int tg_creds_read_token_file(const char *path, char *buf, size_t size,
                             char *errstr, size_t errstr_size);

/* Whether a container credentials URL is allowed (see creds.h). */
int tg_creds_container_url_ok(const char *url, char *errstr,
                              size_t errstr_size);

/* GETs the container endpoint and fills out's key fields and expiry.
 * auth_token may be NULL. Blocks up to timeout_ms. 0 or -1. */
int tg_creds_container_fetch(const char *url, const char *auth_token,
                             long timeout_ms, tg_creds_snapshot_t *out,
                             char *errstr, size_t errstr_size);

/* Parses RFC 3339 UTC ("2026-11-27T12:00:00Z", fraction and "+00:00"
 * allowed). 0 or -1. */
int tg_creds_parse_time(const char *s, time_t *out);

#endif
