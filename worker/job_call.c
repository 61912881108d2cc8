/*
 * The Bedrock call: Converse, signed afresh for every attempt, retried on
 * throttling and transient errors with full-jitter backoff, while the budget
 * reservation stays in place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/bedrock_auth.h"
#include "bedrock/backoff.h"
#include "keys.h"
#include "log.h"
#include "tgtime.h"
#include "worker.h"

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
        tg_job_t *j = opaque;
        size_t len = size * n;

        /* Over the cap or out of memory: 0 aborts the transfer, and
         * job_result.c reads which from the buffer's error. */
        return tg_dynbuf_add(&j->resp, p, len) ? 0 : len;
}

static void header_value(const char *line, size_t len, const char *name,
                         char *out, size_t size)
{
        size_t nl = strlen(name);
        const char *v;

        if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 ||
            line[nl] != ':')
                return;
        v = line + nl + 1;
        len -= nl + 1;
        while (len && (*v == ' ' || *v == '\t'))
                v++, len--;
        while (len &&
               (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
                len--;
        snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), v);
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque)
{
        tg_job_t *j = opaque;
        size_t len = size * n;

        header_value(p, len, "x-amzn-ErrorType", j->err_type_hdr,
                     sizeof(j->err_type_hdr));
        header_value(p, len, "x-amzn-RequestId", j->aws_request_id,
                     sizeof(j->aws_request_id));
        return len;
}

static int build_body(tg_job_t *j, char *err, size_t size)
{
        if (j->body)
                return 0;
        tg_converse_opts_t o = {.tier = j->tier.tier,
                                .send_tier = j->tier.send,
                                .request_id = j->request_id};

        j->body = tg_converse_build_opts(&j->req, j->res.model, &o,
                                         &j->body_len, err, size);
        return j->body ? 0 : -1;
}

static int sign(tg_job_t *j, const char *path, char *err, size_t size)
{
        tg_worker_t *w = j->w;
        tg_creds_snapshot_t creds;
        tg_bedrock_auth_req_t ar = {
            .region = w->conf->region,
            .host = w->host,
            .method = "POST",
            .path = path,
            .body = j->body,
            .body_len = j->body_len,
            .now = tg_time_now(),
        };

        tg_bedrock_auth_free(j->headers);
        j->headers = NULL;
        if (tg_creds_get(w->creds, &creds)) {
                snprintf(err, size, "no AWS credentials available");
                return -1;
        }
        j->headers = tg_bedrock_auth_headers(&creds, &ar, err, size);
        tg_secret_wipe(&creds, sizeof(creds));
        return j->headers ? 0 : -1;
}

static CURL *easy_new(tg_job_t *j, const char *url)
{
        tg_config_t *c = j->w->conf;
        CURL *e = tg_http_easy_get(j->w);

        if (!e)
                return NULL;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)j->body_len);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
        curl_easy_setopt(e, CURLOPT_PRIVATE, j);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)c->connect_timeout_ms);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->request_timeout_ms);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        /* The URL is ours (endpoint + encoded path); never follow a
         * redirect to another host. */
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)TG_RESPONSE_MAX);
        return e;
}

static void call_failed_locally(tg_job_t *j, const char *why)
{
        tg_gate_leave(j, 0);
        snprintf(j->reason, sizeof(j->reason), "%s", why);
        tg_job_redact(j);
        tg_job_end(j, TG_END_FAILED, j->reason);
}

void tg_job_call(tg_job_t *j)
{
        char path[TG_BEDROCK_PATH_MAX], url[sizeof(path) + 512], err[512];

        if (tg_job_set_state(j, TG_JOB_CALLING))
                return;
        if (build_body(j, err, sizeof(err)))
                return call_failed_locally(j, err);
        if (tg_bedrock_model_path(j->res.target, "converse", path,
                                  sizeof(path)) < 0)
                return call_failed_locally(j, "model id too long");
        snprintf(url, sizeof(url), "%s%s", j->w->endpoint, path);
        if (sign(j, path, err, sizeof(err)))
                return call_failed_locally(j, err);
        tg_dynbuf_free(&j->resp); /* a retry starts a new body */
        tg_dynbuf_init(&j->resp, TG_RESPONSE_MAX);
        j->err_type_hdr[0] = j->aws_request_id[0] = '\0';
        j->easy = easy_new(j, url);
        if (!j->easy)
                return call_failed_locally(j, "out of memory");
        tg_lease_renew(j);
        j->attempts++;
        j->call_start_us = tg_mono_us();
        if (curl_multi_add_handle(j->w->multi, j->easy) != CURLM_OK)
                return call_failed_locally(j, "curl refused the request");
}
