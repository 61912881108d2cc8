/*
 * What a Bedrock attempt came back with: a result to settle, an error to
 * retry after a full-jitter backoff, or an error that ends the request.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "bedrock/backoff.h"
#include "log.h"
#include "tgtime.h"
#include "worker.h"

static void mask(char *s, const char *secret)
{
        size_t n = strlen(secret);
        char *p;

        if (n < 3)
                return;
        while ((p = strstr(s, secret))) {
                memmove(p + 3, p + n, strlen(p + n) + 1);
                memcpy(p, "***", 3);
        }
}

/* A reason goes into events, the ledger and logs, so no credential may be
 * in it. AWS explains a signature mismatch with the canonical request it
 * expected, which holds the session token (x-amz-security-token): cut the
 * message before that explanation, and mask any credential an error
 * echoes anyway. */
void tg_job_redact(tg_job_t *j)
{
        tg_creds_snapshot_t c;
        char *cut = strstr(j->reason, "The Canonical String");

        if (cut) {
                while (cut > j->reason && isspace((unsigned char)cut[-1]))
                        cut--;
                *cut = '\0';
        }
        if (tg_creds_get(j->w->creds, &c) == 0) {
                mask(j->reason, c.secret_access_key);
                mask(j->reason, c.session_token);
                mask(j->reason, c.bearer_token);
                tg_secret_wipe(&c, sizeof(c));
        }
}

static void succeeded(tg_job_t *j)
{
        char err[512];

        if (tg_converse_parse(tg_dynbuf_ptr(&j->resp), tg_dynbuf_len(&j->resp),
                              &j->out, err, sizeof(err)) ||
            tg_converse_price(&j->out, j->res.model, j->tier.tier,
                              j->res.target, &j->cost_nano, err, sizeof(err))) {
                tg_converse_result_free(&j->out);
                /* Bedrock ran the call but we cannot read what it billed:
                 * fail it, release the reservation, and say so. */
                tg_gate_leave(j, 0);
                snprintf(j->reason, sizeof(j->reason), "InvalidResponse: %s",
                         err);
                tg_job_end(j, TG_END_FAILED, j->reason);
                return;
        }
        j->has_out = 1;
        j->usage = j->out.usage;
        j->bedrock_latency_ms = j->out.latency_ms;
        tg_gate_leave(j, 0);
        tg_job_end(j, TG_END_COMPLETED, NULL);
}

/* A throttled call is retried through its model's gate, whose rate was
 * just cut: the gate paces it (no backoff of its own), and it does not use
 * up --max-attempts, so throttling delays a request and does not fail it,
 * for up to --throttle-retry-ms. */
static int throttle_retry(tg_job_t *j, const tg_bedrock_error_t *e)
{
        tg_worker_t *w = j->w;
        int64_t now = tg_mono_ms();

        if (!e->throttled || !e->retryable || w->stopping)
                return 0;
        if (!j->throttles)
                j->first_throttle_ms = now;
        else if (now - j->first_throttle_ms >= w->conf->throttle_retry_ms)
                return 0;
        j->throttles++;
        tg_metrics_retry(w->metrics);
        tg_log(TG_LOG_DEBUG, "%s: %s, retry %d through the rate gate",
               j->request_id, e->type, j->attempts);
        tg_gate_enter(j);
        return 1;
}

static void failed(tg_job_t *j, const tg_bedrock_error_t *e)
{
        tg_worker_t *w = j->w;
        int64_t ms;

        tg_metrics_bedrock_error(w->metrics, e->type);
        tg_gate_leave(j, e->throttled);
        if (throttle_retry(j, e))
                return;
        if (e->retryable &&
            j->attempts - j->throttles < w->conf->max_attempts &&
            !w->stopping) {
                ms = tg_backoff_ms(j->attempts, w->conf->backoff_base_ms,
                                   w->conf->backoff_cap_ms, &w->rng);
                tg_metrics_retry(w->metrics);
                tg_log(TG_LOG_DEBUG, "%s: %s, retry %d in %lld ms",
                       j->request_id, e->type, j->attempts, (long long)ms);
                tg_job_after(j, ms, TG_JOB_BACKING_OFF);
                return;
        }
        /* Not charged (only approved requests are), but flagged: AWS may
         * have billed a call that timed out after it was sent. */
        j->billing_unknown = e->billing_unknown;
        tg_bedrock_reason(e, j->reason, sizeof(j->reason));
        tg_job_redact(j);
        tg_job_end(j, TG_END_FAILED, j->reason);
}

void tg_job_http_done(void *priv, CURLcode rc)
{
        tg_job_t *j = priv;

        long status = 0;
        curl_off_t pre = 0;
        tg_bedrock_error_t e;
        int64_t us = tg_mono_us() - j->call_start_us;

        j->bedrock_us += us;
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(j->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        tg_http_easy_put(j->w, j->easy);
        j->easy = NULL;
        tg_metrics_bedrock_latency(j->w->metrics, us);
        if (rc == CURLE_OK && status == 200)
                return succeeded(j);
        memset(&e, 0, sizeof(e));
        if (tg_dynbuf_error(&j->resp) == TG_DYNBUF_TOO_BIG) {
                e.http_status = status;
                snprintf(e.type, sizeof(e.type), "ResponseTooLarge");
                snprintf(e.message, sizeof(e.message), "response over %d bytes",
                         TG_RESPONSE_MAX);
        } else if (rc != CURLE_OK) {
                tg_bedrock_classify_transport(rc, status, pre > 0, &e);
        } else {
                tg_bedrock_classify(
                    status, j->err_type_hdr[0] ? j->err_type_hdr : NULL,
                    tg_dynbuf_ptr(&j->resp), tg_dynbuf_len(&j->resp), 0, &e);
        }
        failed(j, &e);
}
