/*
 * Turning one input request into the bytes that are produced: validate with
 * the worker's own rules, then fill requestId and timestamp when absent.
 *
 * The fields are spliced in after the opening brace instead of re-dumping
 * the document with jansson: a re-dump would rewrite the submitter's numbers
 * (0.9 becomes 0.90000000000000002), escapes and spacing. Splicing keeps
 * every other byte, and is valid JSON because the parse just proved the
 * input to be an object with at least its required fields and without
 * those two keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "libtollgate_int.h"
#include "tgtime.h"

static int too_big(size_t len, size_t max, const char *what, char *errstr,
                   size_t size)
{
        snprintf(errstr, size,
                 "request is %zu bytes%s, over the %zu-byte limit", len, what,
                 max);
        return -1;
}

static int check_model(const tg_catalog_t *cat, const tg_request_t *req,
                       char *errstr, size_t size)
{
        tg_resolved_t res;

        if (!cat)
                return 0;
        /* the worker's checks: the model, then its tier and cache points */
        if (tg_catalog_resolve(cat, req->model, req, &res, errstr, size))
                return -1;
        return tg_request_check_model(req, res.model, errstr, size);
}

static void pick_id(const tg_request_t *req, const char *default_id,
                    tg_prepared_t *out)
{
        if (req->request_id[0]) {
                snprintf(out->request_id, sizeof(out->request_id), "%s",
                         req->request_id);
                return;
        }
        out->filled_id = 1;
        if (default_id && tg_request_id_valid(default_id, strlen(default_id)))
                snprintf(out->request_id, sizeof(out->request_id), "%s",
                         default_id);
        else
                tg_uuid4(out->request_id);
}

/* `"requestId":"...","timestamp":"...",` for the fields that were absent.
 * Both values are plain ASCII without quotes or backslashes, so they need
 * no escaping. */
static size_t envelope(const tg_prepared_t *p, char *out, size_t size)
{
        char ts[40];
        int n = 0;

        if (p->filled_id)
                n +=
                    snprintf(out, size, "\"requestId\":\"%s\",", p->request_id);
        if (p->filled_timestamp) {
                tg_time_format_us(tg_time_now_us(), ts, sizeof(ts));
                n += snprintf(out + n, size - (size_t)n,
                              "\"timestamp\":\"%s\",", ts);
        }
        return (size_t)n;
}

static int splice(const char *json, size_t len, size_t max, tg_prepared_t *out,
                  char *errstr, size_t size)
{
        char head[TG_ID_SIZE + 80];
        size_t hl = envelope(out, head, sizeof(head));
        const char *brace = memchr(json, '{', len);
        size_t pre = (size_t)(brace - json) + 1;

        if (len + hl > max)
                return too_big(len + hl, max,
                               " with requestId and timestamp filled in",
                               errstr, size);
        out->buf = malloc(len + hl + 1);
        if (!out->buf) {
                snprintf(errstr, size, "out of memory");
                return -1;
        }
        memcpy(out->buf, json, pre);
        memcpy(out->buf + pre, head, hl);
        memcpy(out->buf + pre + hl, json + pre, len - pre);
        out->buf[len + hl] = '\0';
        out->json = out->buf;
        out->len = len + hl;
        return 0;
}

tg_parse_result_t tg_submit_prepare(const char *json, size_t len,
                                    const char *default_id, size_t max_size,
                                    const tg_catalog_t *catalog,
                                    tg_prepared_t *out, char *errstr,
                                    size_t errstr_size)
{
        tg_request_t req;
        tg_parse_result_t r;

        memset(out, 0, sizeof(*out));
        if (!max_size)
                max_size = TG_REQUEST_SIZE_DEFAULT;
        /* Checked first: the parser checks size only after the rules, and
         * a huge line should cost no parse. */
        if (len > max_size) {
                too_big(len, max_size, "", errstr, errstr_size);
                return TG_PARSE_INVALID;
        }
        r = tg_request_parse(&req, json, len, max_size, errstr, errstr_size);
        if (r == TG_PARSE_OK && check_model(catalog, &req, errstr, errstr_size))
                r = TG_PARSE_INVALID;
        if (r != TG_PARSE_OK)
                goto out;
        pick_id(&req, default_id, out);
        out->filled_timestamp = req.timestamp[0] == '\0';
        out->json = json;
        out->len = len;
        if ((out->filled_id || out->filled_timestamp) &&
            splice(json, len, max_size, out, errstr, errstr_size))
                r = TG_PARSE_INVALID;
out:
        tg_request_destroy(&req);
        if (r != TG_PARSE_OK)
                memset(out, 0, sizeof(*out));
        return r;
}

void tg_prepared_release(tg_prepared_t *p)
{
        free(p->buf);
        memset(p, 0, sizeof(*p));
}
