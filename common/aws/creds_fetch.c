/*
 * Fetching a source tree: the leaves first (an assume-role source asks its
 * own source for the credentials it signs with, every time, so a
 * short-lived source such as IMDS is fresh), then the STS call. Blocking;
 * run at start and on the refresh thread, never on an event loop.
 */
#include "creds_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The container authorization token: the file is re-read each time since
 * EKS rotates it. Wipe buf after use. */
static int container_token(const tg_creds_src_t *s, char *buf, size_t size,
                           char *errstr, size_t errstr_size)
{
        if (s->auth_token_file[0])
                return tg_creds_read_token_file(s->auth_token_file, buf, size,
                                                errstr, errstr_size);
        snprintf(buf, size, "%s", s->auth_token);
        return 0;
}

static int container(const tg_creds_src_t *s, tg_creds_snapshot_t *out,
                     char *errstr, size_t errstr_size)
{
        char token[TG_CREDS_AUTH_TOKEN_MAX];
        int r = container_token(s, token, sizeof(token), errstr, errstr_size);

        if (r == 0)
                r = tg_creds_container_fetch(s->url, token, s->timeout_ms, out,
                                             errstr, errstr_size);
        tg_secret_wipe(token, sizeof(token));
        return r;
}

static int assume(const tg_creds_src_t *s, tg_creds_snapshot_t *out,
                  char *errstr, size_t errstr_size)
{
        tg_creds_snapshot_t *with = malloc(sizeof(*with));
        int r = -1;

        if (!with) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (tg_creds_src_fetch(s->source, with, errstr, errstr_size) == 0) {
                if (with->bearer_token[0] || !with->access_key_id[0])
                        snprintf(errstr, errstr_size,
                                 "assume-role: the source has no key pair");
                else
                        r = tg_creds_sts_fetch(s, with, out, errstr,
                                               errstr_size);
        }
        tg_secret_wipe(with, sizeof(*with));
        free(with);
        return r;
}

int tg_creds_src_fetch(const tg_creds_src_t *s, tg_creds_snapshot_t *out,
                       char *errstr, size_t errstr_size)
{
        int r;

        switch (s->kind) {
        case TG_SRC_STATIC:
                *out = s->fixed;
                r = 0;
                break;
        case TG_SRC_ASSUME:
                r = assume(s, out, errstr, errstr_size);
                break;
        case TG_SRC_WEB:
                r = tg_creds_sts_fetch(s, NULL, out, errstr, errstr_size);
                break;
        case TG_SRC_PROCESS:
                r = tg_creds_process_run(s->path, s->timeout_ms, out, errstr,
                                         errstr_size);
                break;
        case TG_SRC_CONTAINER:
                r = container(s, out, errstr, errstr_size);
                break;
        case TG_SRC_IMDS:
                r = tg_creds_imds_fetch(s, out, errstr, errstr_size);
                break;
        default:
                snprintf(errstr, errstr_size, "unknown source");
                r = -1;
        }
        if (r == 0) {
                snprintf(out->source, sizeof(out->source), "%s", s->method);
                r = tg_creds_snapshot_check(out, errstr, errstr_size);
        }
        if (r < 0)
                tg_secret_wipe(out, sizeof(*out));
        return r;
}

void tg_creds_src_describe(const tg_creds_src_t *s, char *buf, size_t size)
{
        char inner[768] = "";
        size_t n;

        if (!size)
                return;
        if (s->source)
                tg_creds_src_describe(s->source, inner, sizeof(inner));
        n = (size_t)snprintf(buf, size, "%s", s->method);
        if (n < size && s->profile[0])
                n += (size_t)snprintf(buf + n, size - n, " profile %s",
                                      s->profile);
        if (n < size && s->role_arn[0])
                n += (size_t)snprintf(buf + n, size - n, " role %s via %s",
                                      s->role_arn, s->sts_url);
        if (n < size && (s->kind == TG_SRC_IMDS || s->kind == TG_SRC_CONTAINER))
                n += (size_t)snprintf(buf + n, size - n, " at %s", s->url);
        if (n < size && s->kind == TG_SRC_WEB)
                n += (size_t)snprintf(buf + n, size - n, " token file %s",
                                      s->path);
        if (n < size && inner[0])
                snprintf(buf + n, size - n, " (source: %s)", inner);
}

void tg_creds_src_free(tg_creds_src_t *s)
{
        if (!s)
                return;
        tg_creds_src_free(s->source);
        tg_secret_wipe(s, sizeof(*s));
        free(s);
}
