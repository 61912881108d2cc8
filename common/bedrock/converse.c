/*
 * The Converse request body and the call path.
 *
 * Converse API reference (request syntax, InferenceConfiguration):
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 */
#include "converse.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aws/sigv4.h"
#include "errfmt.h"
#include "jsonw.h"

static const char *role_name(tg_role_t role)
{
        return role == TG_ROLE_USER ? "user" : "assistant";
}

/* The checks, in message order, before anything is written, so the first
 * broken message is the one reported. Request validation already enforces
 * these rules; they are checked again because a Converse call that breaks
 * them is a wasted round trip with a reservation held. */
static int check_messages(const tg_request_t *req, char *errstr, size_t size)
{
        int has_turn = 0;

        for (size_t i = 0; i < req->n_messages; i++) {
                const tg_message_t *m = &req->messages[i];

                if (!m->content || m->content_len == 0)
                        return tg_errf(errstr, size,
                                       "prompt.messages[%zu].content: empty",
                                       i);
                if (m->role != TG_ROLE_SYSTEM && !has_turn &&
                    m->role != TG_ROLE_USER)
                        return tg_errf(errstr, size,
                                       "prompt.messages[%zu].role: the first "
                                       "non-system message must be user",
                                       i);
                if (!tg_jsonw_utf8_valid(m->content, m->content_len))
                        return tg_errf(errstr, size,
                                       "prompt.messages[%zu].content: not "
                                       "valid UTF-8",
                                       i);
                has_turn |= m->role != TG_ROLE_SYSTEM;
        }
        if (!has_turn)
                return tg_errf(errstr, size,
                               "prompt.messages: needs at least one user "
                               "message");
        return 0;
}

/* A message's text, then its cache point when it has one: Converse's
 * CachePointBlock {"type": "default", "ttl": "5m" | "1h"} (botocore's
 * bedrock-runtime model), ttl only where the model prices TTLs apart (a
 * 5-minute-only model is sent the plain block, which means 5 minutes). */
static void text_block(tg_jsonw_t *w, const tg_message_t *m,
                       const tg_converse_opts_t *o)
{
        tg_jsonw_obj_open(w);
        tg_jsonw_key(w, "text");
        tg_jsonw_strn(w, m->content, m->content_len);
        tg_jsonw_obj_close(w);
        if (m->cache == TG_CACHE_NONE)
                return;
        tg_jsonw_obj_open(w);
        tg_jsonw_key(w, "cachePoint");
        tg_jsonw_obj_open(w);
        tg_jsonw_kstr(w, "type", "default");
        if (m->cache != TG_CACHE_DEFAULT && o->ttl_ok)
                tg_jsonw_kstr(w, "ttl", m->cache == TG_CACHE_1H ? "1h" : "5m");
        tg_jsonw_obj_close(w);
        tg_jsonw_obj_close(w);
}

/* "system" (when there is one) before "messages", the order people read. */
static void write_system(tg_jsonw_t *w, const tg_request_t *req,
                         const tg_converse_opts_t *o)
{
        int open = 0;

        for (size_t i = 0; i < req->n_messages; i++) {
                if (req->messages[i].role != TG_ROLE_SYSTEM)
                        continue;
                if (!open) {
                        tg_jsonw_key(w, "system");
                        tg_jsonw_arr_open(w);
                        open = 1;
                }
                text_block(w, &req->messages[i], o);
        }
        if (open)
                tg_jsonw_arr_close(w);
}

/* The user/assistant turns. Converse rejects two turns of the same role in
 * a row, so a repeated role becomes another text block of the previous
 * turn, which the model reads as one turn. */
static void write_turns(tg_jsonw_t *w, const tg_request_t *req,
                        const tg_converse_opts_t *o)
{
        const char *last = NULL;

        tg_jsonw_key(w, "messages");
        tg_jsonw_arr_open(w);
        for (size_t i = 0; i < req->n_messages; i++) {
                const tg_message_t *m = &req->messages[i];
                const char *name;

                if (m->role == TG_ROLE_SYSTEM)
                        continue;
                name = role_name(m->role);
                if (!last || strcmp(name, last) != 0) {
                        if (last) {
                                tg_jsonw_arr_close(w);
                                tg_jsonw_obj_close(w);
                        }
                        tg_jsonw_obj_open(w);
                        tg_jsonw_kstr(w, "role", name);
                        tg_jsonw_key(w, "content");
                        tg_jsonw_arr_open(w);
                        last = name;
                }
                text_block(w, m, o);
        }
        tg_jsonw_arr_close(w);
        tg_jsonw_obj_close(w);
        tg_jsonw_arr_close(w);
}

/* 15 significant digits print every double that came from a short decimal
 * (0.1, 0.95) as that decimal, where 17 prints 0.10000000000000001. */
#define TG_CONVERSE_REAL_DIGITS 15

static void write_inference(tg_jsonw_t *w, const tg_params_t *p,
                            const tg_model_t *model)
{
        int64_t max =
            p->max_tokens > 0 ? p->max_tokens : model->max_output_tokens;

        if (max <= 0 && !p->has_temperature && !p->has_top_p)
                return;
        tg_jsonw_key(w, "inferenceConfig");
        tg_jsonw_obj_open(w);
        if (max > 0)
                tg_jsonw_kint(w, "maxTokens", max);
        if (p->has_temperature) {
                tg_jsonw_key(w, "temperature");
                tg_jsonw_real(w, p->temperature, TG_CONVERSE_REAL_DIGITS);
        }
        if (p->has_top_p) {
                tg_jsonw_key(w, "topP");
                tg_jsonw_real(w, p->top_p, TG_CONVERSE_REAL_DIGITS);
        }
        tg_jsonw_obj_close(w);
}

/* top_k is not part of Converse's common inferenceConfig; a provider takes
 * it in additionalModelRequestFields, merged into its native body:
 * - Anthropic: the Messages body's top-level "top_k".
 * - Nova: model-specific fields sit in an inner "inferenceConfig" object
 *   ("topK"), per the Nova user guide's Converse page.
 * - Meta Llama's native body has no top_k at all (prompt, temperature, top_p,
 *   max_gen_len), and Mistral's chat models reject it although its old text
 *   completion body took it: sending it would turn a tuning hint into a
 *   ValidationException, so it is dropped for them and for unknown families.
 */
static void write_top_k(tg_jsonw_t *w, tg_family_t family, int64_t top_k)
{
        if (top_k <= 0 ||
            (family != TG_FAMILY_ANTHROPIC && family != TG_FAMILY_NOVA))
                return;
        tg_jsonw_key(w, "additionalModelRequestFields");
        tg_jsonw_obj_open(w);
        if (family == TG_FAMILY_ANTHROPIC) {
                tg_jsonw_kint(w, "top_k", top_k);
        } else {
                tg_jsonw_key(w, "inferenceConfig");
                tg_jsonw_obj_open(w);
                tg_jsonw_kint(w, "topK", top_k);
                tg_jsonw_obj_close(w);
        }
        tg_jsonw_obj_close(w);
}

/* The body is the request's text plus a few dozen bytes per message; this
 * guards the buffer whatever --max-request-bytes says. */
#define TG_CONVERSE_REQUEST_MAX (64 * 1024 * 1024)

/* serviceTier: {"type": "priority" | "default" | "flex"}, the
 * ServiceTier shape of botocore's bedrock-runtime model. */
static void write_tier(tg_jsonw_t *w, const tg_converse_opts_t *o)
{
        if (!o->send_tier)
                return;
        tg_jsonw_key(w, "serviceTier");
        tg_jsonw_obj_open(w);
        tg_jsonw_kstr(w, "type", tg_tier_name(o->tier));
        tg_jsonw_obj_close(w);
}

char *tg_converse_build(const tg_request_t *req, const tg_model_t *model,
                        size_t *len_out, char *errstr, size_t errstr_size)
{
        tg_converse_opts_t o = {
            .tier = tg_request_tier(req),
            .send_tier = req->params.has_service_tier,
        };

        return tg_converse_build_opts(req, model, &o, len_out, errstr,
                                      errstr_size);
}

char *tg_converse_build_opts(const tg_request_t *req, const tg_model_t *model,
                             const tg_converse_opts_t *opts, size_t *len_out,
                             char *errstr, size_t errstr_size)
{
        const tg_params_t *p = &req->params;
        size_t guess = 256;
        tg_jsonw_t w;
        char *out;
        tg_converse_opts_t o = *opts;

        if (check_messages(req, errstr, errstr_size))
                return NULL;
        if ((p->has_temperature && !isfinite(p->temperature)) ||
            (p->has_top_p && !isfinite(p->top_p))) {
                tg_errf(errstr, errstr_size,
                        "prompt.parameters: temperature and top_p must be "
                        "finite numbers");
                return NULL;
        }
        for (size_t i = 0; i < req->n_messages; i++)
                guess += req->messages[i].content_len + 48;
        o.ttl_ok = tg_model_cache_1h(model, o.tier);
        for (size_t i = 0; i < req->n_tags; i++)
                guess +=
                    strlen(req->tags[i].key) + strlen(req->tags[i].value) + 8;
        tg_jsonw_init(&w, guess, TG_CONVERSE_REQUEST_MAX, 0);
        tg_jsonw_obj_open(&w);
        write_system(&w, req, &o);
        write_turns(&w, req, &o);
        write_inference(&w, p, model);
        write_top_k(&w, model->family, p->top_k);
        write_tier(&w, &o);
        if (o.request_id)
                tg_converse_write_metadata(&w, req, o.request_id);
        tg_jsonw_obj_close(&w);
        out = tg_jsonw_finish(&w, len_out);
        if (!out)
                tg_errf(errstr, errstr_size, "%s",
                        w.err == TG_JSONW_ETOOBIG ? "request too large"
                                                  : "out of memory");
        return out;
}
