/*
 * SigV4 verification: the server half of what tollgate's signer does on
 * the client. The signature is recomputed by tg_sigv4_sign() (common/aws)
 * from the request exactly as it arrived: the raw path (still
 * percent-encoded), the raw query and the values of the headers the client
 * listed in SignedHeaders.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/sigv4.h"
#include "sim.h"
#include "sim_auth_int.h"

typedef struct sim_signed {
        tg_sigv4_header_t h[TG_SIGV4_MAX_HEADERS];
        char *joined[TG_SIGV4_MAX_HEADERS];
        char names[1024];
        size_t n;
} sim_signed_t;

static int parse_amz_date(const char *s, time_t *out)
{
        struct tm tm = {0};
        char tail;

        if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' ||
            sscanf(s, "%4d%2d%2dT%2d%2d%2d%c", &tm.tm_year, &tm.tm_mon,
                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                   &tail) != 7)
                return -1;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        *out = timegm(&tm);
        return *out == (time_t)-1 ? -1 : 0;
}

static int check_skew(const char *amz, time_t t, time_t now, sim_reply_t *reply)
{
        char req_s[17], now_s[17], edge_s[17];

        if (t >= now - SIM_AUTH_MAX_SKEW_S && t <= now + SIM_AUTH_MAX_SKEW_S)
                return 0;
        tg_sigv4_amz_date(now, now_s);
        /* AWS's own wording, which clients and humans grep for. */
        if (t < now) {
                tg_sigv4_amz_date(now - SIM_AUTH_MAX_SKEW_S, edge_s);
                snprintf(req_s, sizeof(req_s), "%s", amz);
                sim_reply_errorf(reply, SIM_ERR_INVALID_SIGNATURE,
                                 "Signature expired: %s is now earlier than "
                                 "%s (%s - 5 min.)",
                                 req_s, edge_s, now_s);
        } else {
                tg_sigv4_amz_date(now + SIM_AUTH_MAX_SKEW_S, edge_s);
                snprintf(req_s, sizeof(req_s), "%s", amz);
                sim_reply_errorf(reply, SIM_ERR_INVALID_SIGNATURE,
                                 "Signature not yet current: %s is still "
                                 "later than %s (%s + 5 min.)",
                                 req_s, edge_s, now_s);
        }
        return -1;
}

static int check_date(const sim_sigv4_auth_t *a, const sim_req_t *req,
                      time_t now, sim_reply_t *reply)
{
        const char *amz = sim_req_header(req, "x-amz-date");
        time_t t;

        if (!amz) {
                sim_reply_error(reply, SIM_ERR_INCOMPLETE_SIGNATURE,
                                "Authorization header requires existence of "
                                "either a 'X-Amz-Date' or a 'Date' header.");
                return -1;
        }
        if (parse_amz_date(amz, &t)) {
                sim_reply_errorf(reply, SIM_ERR_INCOMPLETE_SIGNATURE,
                                 "Date must be in ISO-8601 'basic format'. "
                                 "Got '%.32s'.",
                                 amz);
                return -1;
        }
        if (strncmp(a->date, amz, 8) || strlen(a->date) != 8) {
                sim_reply_errorf(reply, SIM_ERR_INVALID_SIGNATURE,
                                 "Date in Credential scope does not match "
                                 "YYYYMMDD from ISO-8601 version of date "
                                 "from HTTP: '%.16s' != '%.8s', from '%.16s'.",
                                 a->date, amz, amz);
                return -1;
        }
        return check_skew(amz, t, now, reply);
}

/* All received values of one header, trimmed, joined by ',' (SigV4's rule
 * for repeated headers). */
static char *join_values(const sim_req_t *req, const char *name)
{
        size_t total = 1, off = 0;
        char *out;

        for (int i = 0; i < req->n_headers; i++)
                if (!strcasecmp(req->headers[i].name, name))
                        total += strlen(req->headers[i].value) + 1;
        if (!(out = malloc(total)))
                return NULL;
        for (int i = 0; i < req->n_headers; i++) {
                const char *v = req->headers[i].value;
                size_t len;

                if (strcasecmp(req->headers[i].name, name))
                        continue;
                while (*v == ' ' || *v == '\t')
                        v++;
                len = strlen(v);
                while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                        len--;
                if (off)
                        out[off++] = ',';
                memcpy(out + off, v, len);
                off += len;
        }
        out[off] = '\0';
        return out;
}

static void signed_free(sim_signed_t *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->joined[i]);
        s->n = 0;
}

static int collect(const sim_sigv4_auth_t *a, const sim_req_t *req,
                   sim_signed_t *s, sim_reply_t *reply)
{
        char *save = NULL, *name;
        int has_host = 0;

        s->n = 0;
        snprintf(s->names, sizeof(s->names), "%s", a->signed_headers);
        for (name = strtok_r(s->names, ";", &save); name;
             name = strtok_r(NULL, ";", &save)) {
                if (s->n == TG_SIGV4_MAX_HEADERS ||
                    !(s->joined[s->n] = join_values(req, name)))
                        goto err;
                s->h[s->n].name = name;
                s->h[s->n].value = s->joined[s->n];
                s->n++;
                has_host |= !strcasecmp(name, "host");
        }
        if (has_host && !req->too_many_headers)
                return 0;
        sim_reply_error(reply, SIM_ERR_INVALID_SIGNATURE,
                        has_host ? "Too many headers to verify."
                                 : "'Host' or ':authority' must be a "
                                   "'SignedHeader' in the AWS "
                                   "Authorization.");
        return -1;
err:
        sim_reply_error(reply, SIM_ERR_INVALID_SIGNATURE,
                        "Too many signed headers.");
        return -1;
}

static int token_signed(const sim_auth_cfg_t *cfg, const sim_signed_t *s,
                        sim_reply_t *reply)
{
        if (!cfg->session_token)
                return 0;
        for (size_t i = 0; i < s->n; i++)
                if (!strcasecmp(s->h[i].name, "x-amz-security-token"))
                        return 0;
        sim_reply_error(reply, SIM_ERR_INVALID_SIGNATURE,
                        "'X-Amz-Security-Token' must be a 'SignedHeader' in "
                        "the AWS Authorization.");
        return -1;
}

/* AWS explains a mismatch with the canonical request and string to sign
 * it expected; so does the simulator, which makes signer bugs obvious. */
static void mismatch(const tg_sigv4_request_t *sreq, const tg_sigv4_params_t *p,
                     sim_reply_t *reply)
{
        char err[256];
        char *canon = tg_sigv4_canonical_request(sreq, p, err, sizeof(err));
        char *sts = canon ? tg_sigv4_string_to_sign(canon, p) : NULL;
        char *msg = NULL;

        if (!sts || asprintf(&msg,
                             "%s\n\nThe Canonical String for this request "
                             "should have been\n'%s'\n\nThe String-to-Sign "
                             "should have been\n'%s'\n",
                             sim_err_info(SIM_ERR_INVALID_SIGNATURE)->message,
                             canon, sts) < 0)
                msg = NULL;
        sim_reply_error(reply, SIM_ERR_INVALID_SIGNATURE, msg);
        free(msg);
        free(sts);
        free(canon);
}

static int compare(const sim_auth_cfg_t *cfg, const sim_sigv4_auth_t *a,
                   const sim_req_t *req, const sim_signed_t *s,
                   sim_reply_t *reply)
{
        tg_sigv4_request_t sreq = {.method = req->method,
                                   .path = req->raw_path,
                                   .query = req->raw_query,
                                   .headers = s->h,
                                   .n_headers = s->n,
                                   .body = tg_dynbuf_ptr(&req->body),
                                   .body_len = tg_dynbuf_len(&req->body)};
        tg_sigv4_params_t p = {.access_key_id = a->akid,
                               .secret_access_key = cfg->secret_access_key,
                               .region = a->region,
                               .service = a->service,
                               .amz_date = sim_req_header(req, "x-amz-date")};
        tg_sigv4_result_t res;
        char err[256];

        if (tg_sigv4_sign(&sreq, &p, &res, err, sizeof(err))) {
                sim_reply_errorf(reply, SIM_ERR_INVALID_SIGNATURE,
                                 "Cannot verify the signature: %s", err);
                return -1;
        }
        if (strlen(a->signature) == 64 &&
            !CRYPTO_memcmp(res.signature, a->signature, 64))
                return 0;
        mismatch(&sreq, &p, reply);
        return -1;
}

int sim_auth_sigv4_verify(const sim_auth_cfg_t *cfg, const sim_sigv4_auth_t *a,
                          const sim_req_t *req, time_t now, sim_reply_t *reply)
{
        sim_signed_t s = {.n = 0};
        int rc = -1;

        if (check_date(a, req, now, reply))
                return -1;
        if (collect(a, req, &s, reply) || token_signed(cfg, &s, reply))
                goto err;
        rc = compare(cfg, a, req, &s, reply);
err:
        signed_free(&s);
        return rc;
}
