/*
 * tg_converse_build (common/bedrock/converse.c, written with common/jsonw.h)
 * against the jansson builder it replaced, kept below verbatim but for its
 * name: for many generated requests (role sequences that merge, system
 * messages anywhere, escapes, NUL bytes, invalid UTF-8, empty contents,
 * every family, parameters present or not, non-finite reals) the body must
 * be the same bytes, or both must refuse with the same error text.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bedrock/converse.h"
#include "tg_test.h"

/* ---------------------------------------------------------------- old */

static int fail(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errstr, size_t size, const char *fmt, ...)
{
        va_list ap;

        if (errstr && size) {
                va_start(ap, fmt);
                vsnprintf(errstr, size, fmt, ap);
                va_end(ap);
        }
        return -1;
}

static const char *role_name(tg_role_t role)
{
        return role == TG_ROLE_USER ? "user" : "assistant";
}

/* Appends a user/assistant text block. Converse rejects two turns of the
 * same role in a row, so a repeated role becomes another text block of the
 * previous turn, which the model reads as one turn. Steals block. */
static int add_turn(json_t *turns, tg_role_t role, json_t *block)
{
        size_t n = json_array_size(turns);
        json_t *last = n ? json_array_get(turns, n - 1) : NULL;
        const char *name = role_name(role);
        json_t *turn;

        if (last &&
            strcmp(json_string_value(json_object_get(last, "role")), name) == 0)
                return json_array_append_new(json_object_get(last, "content"),
                                             block);
        turn = json_pack("{s:s,s:[]}", "role", name, "content");
        if (!turn) {
                json_decref(block);
                return -1;
        }
        if (json_array_append_new(json_object_get(turn, "content"), block)) {
                json_decref(turn);
                return -1;
        }
        return json_array_append_new(turns, turn);
}

/* Sorts every message into `system` or `turns`. Request validation already
 * enforces these rules; they are checked again because a Converse call that
 * breaks them is a wasted round trip with a reservation held. */
static int add_messages(const tg_request_t *req, json_t *system, json_t *turns,
                        char *errstr, size_t size)
{
        for (size_t i = 0; i < req->n_messages; i++) {
                const tg_message_t *m = &req->messages[i];
                json_t *block;
                int rc;

                if (!m->content || m->content_len == 0)
                        return fail(errstr, size,
                                    "prompt.messages[%zu].content: empty", i);
                if (m->role != TG_ROLE_SYSTEM && !json_array_size(turns) &&
                    m->role != TG_ROLE_USER)
                        return fail(errstr, size,
                                    "prompt.messages[%zu].role: the first "
                                    "non-system message must be user",
                                    i);
                block = json_pack("{s:s%}", "text", m->content, m->content_len);
                if (!block)
                        return fail(errstr, size,
                                    "prompt.messages[%zu].content: not "
                                    "valid UTF-8",
                                    i);
                rc = m->role == TG_ROLE_SYSTEM
                         ? json_array_append_new(system, block)
                         : add_turn(turns, m->role, block);
                if (rc)
                        return fail(errstr, size, "out of memory");
        }
        if (!json_array_size(turns))
                return fail(errstr, size,
                            "prompt.messages: needs at least one user "
                            "message");
        return 0;
}

/* Puts system (when there is one) before messages, the order people read. */
static int add_turns(json_t *body, json_t *system, json_t *turns, char *errstr,
                     size_t size)
{
        if ((json_array_size(system) &&
             json_object_set(body, "system", system)) ||
            json_object_set(body, "messages", turns))
                return fail(errstr, size, "out of memory");
        return 0;
}

static int add_inference(json_t *body, const tg_params_t *p,
                         const tg_model_t *model)
{
        int64_t max =
            p->max_tokens > 0 ? p->max_tokens : model->max_output_tokens;
        json_t *cfg = json_object();
        int rc = 0;

        if (!cfg)
                return -1;
        if (max > 0)
                rc |= json_object_set_new(cfg, "maxTokens", json_integer(max));
        if (p->has_temperature)
                rc |= json_object_set_new(cfg, "temperature",
                                          json_real(p->temperature));
        if (p->has_top_p)
                rc |= json_object_set_new(cfg, "topP", json_real(p->top_p));
        if (rc || json_object_size(cfg) == 0) {
                json_decref(cfg);
                return rc;
        }
        return json_object_set_new(body, "inferenceConfig", cfg);
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
 * Sets *out to NULL when the family takes no top_k. */
static int top_k_fields(tg_family_t family, int64_t top_k, json_t **out)
{
        *out = NULL;
        if (top_k <= 0)
                return 0;
        if (family == TG_FAMILY_ANTHROPIC)
                *out = json_pack("{s:I}", "top_k", (json_int_t)top_k);
        else if (family == TG_FAMILY_NOVA)
                *out = json_pack("{s:{s:I}}", "inferenceConfig", "topK",
                                 (json_int_t)top_k);
        else
                return 0;
        return *out ? 0 : -1;
}

static int add_params(json_t *body, const tg_request_t *req,
                      const tg_model_t *model, char *errstr, size_t size)
{
        const tg_params_t *p = &req->params;
        json_t *extra;

        if ((p->has_temperature && !isfinite(p->temperature)) ||
            (p->has_top_p && !isfinite(p->top_p)))
                return fail(errstr, size,
                            "prompt.parameters: temperature and top_p must "
                            "be finite numbers");
        if (add_inference(body, p, model) ||
            top_k_fields(model->family, p->top_k, &extra))
                return fail(errstr, size, "out of memory");
        if (extra &&
            json_object_set_new(body, "additionalModelRequestFields", extra))
                return fail(errstr, size, "out of memory");
        return 0;
}

/* 15 significant digits print every double that came from a short decimal
 * (0.1, 0.95) as that decimal, where jansson's default 17 prints
 * 0.10000000000000001. */
#define TG_CONVERSE_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static char *old_build(const tg_request_t *req, const tg_model_t *model,
                       size_t *len_out, char *errstr, size_t errstr_size)
{
        json_t *body = json_object(), *system = json_array();
        json_t *turns = json_array();
        char *out = NULL;

        if (!body || !system || !turns) {
                fail(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (add_messages(req, system, turns, errstr, errstr_size) ||
            add_turns(body, system, turns, errstr, errstr_size) ||
            add_params(body, req, model, errstr, errstr_size))
                goto err;
        out = json_dumps(body, TG_CONVERSE_DUMP_FLAGS);
        if (!out) {
                fail(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (len_out)
                *len_out = strlen(out);
err: /* success falls through: the document is no longer needed */
        json_decref(turns);
        json_decref(system);
        json_decref(body);
        return out;
}

/* ---------------------------------------------------------------- checks */

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
        uint64_t x = rng_state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return rng_state = x;
}

static size_t rnd_below(size_t n)
{
        return (size_t)(rnd() % n);
}

/* Content: mostly text people send, sometimes what needs escaping, a NUL,
 * a broken UTF-8 sequence or nothing. */
static size_t rnd_content(char *buf, size_t cap)
{
        static const char *pieces[] = {"Summarise the release notes. ",
                                       "\"quoted\"",
                                       "back\\slash",
                                       "line\nbreak",
                                       "tab\there",
                                       "\x01\x1f",
                                       "caf\xc3\xa9 ",
                                       "\xf0\x9f\x98\x80",
                                       "a/b",
                                       "\x7f",
                                       "</script>",
                                       "{\"json\":1}"};
        size_t len = 0;
        size_t kind = rnd_below(40);

        if (kind == 0)
                return 0;
        if (kind == 1) {
                buf[len++] = 'x';
                buf[len++] = '\0';
                buf[len++] = 'y';
                return len;
        }
        if (kind == 2) {
                memcpy(buf, "bad \xc3(", 6);
                return 6;
        }
        for (size_t n = 1 + rnd_below(6); n--;) {
                const char *p =
                    pieces[rnd_below(sizeof(pieces) / sizeof(*pieces))];
                size_t l = strlen(p);

                if (len + l > cap)
                        break;
                memcpy(buf + len, p, l);
                len += l;
        }
        return len;
}

static double rnd_param(void)
{
        static const double v[] = {
            0.0,  1.0, 0.1, 0.95, 0.7, 0.123456789, 0.333333333333333333,
            1e-9, 0.5};

        if (rnd_below(50) == 0)
                return rnd_below(2) ? NAN : INFINITY;
        return v[rnd_below(sizeof(v) / sizeof(*v))];
}

/* One generated request through both; 1 when a body was built. */
static int check_one(int n)
{
        static char texts[8][256];
        tg_message_t msgs[8];
        tg_request_t req;
        tg_model_t model = {.alias = "m", .model_id = "x"};
        char err_new[256] = "", err_old[256] = "";
        size_t len_new = 0, len_old = 0;
        char *got, *want;

        memset(&req, 0, sizeof(req));
        req.n_messages = rnd_below(8) + (n % 50 != 0);
        for (size_t i = 0; i < req.n_messages; i++) {
                size_t r = rnd_below(10);
                /* the first turn is mostly user, so most bodies get built */
                msgs[i].role = r < 2   ? TG_ROLE_SYSTEM
                               : r < 7 ? TG_ROLE_USER
                                       : TG_ROLE_ASSISTANT;
                msgs[i].content_len = rnd_content(texts[i], sizeof(texts[i]));
                msgs[i].content = rnd_below(60) ? texts[i] : NULL;
                msgs[i].cache = TG_CACHE_NONE; /* test_tier_cache.c */
        }
        req.messages = msgs;
        model.family = (tg_family_t)rnd_below(TG_FAMILY_MISTRAL + 1);
        model.max_output_tokens = rnd_below(4) ? (int64_t)rnd_below(100000) : 0;
        req.params.max_tokens = rnd_below(2) ? (int64_t)rnd_below(5000) : 0;
        req.params.has_temperature = rnd_below(2);
        req.params.temperature = rnd_param();
        req.params.has_top_p = rnd_below(2);
        req.params.top_p = rnd_param();
        req.params.top_k = rnd_below(2) ? (int64_t)rnd_below(600) : 0;

        got =
            tg_converse_build(&req, &model, &len_new, err_new, sizeof(err_new));
        want = old_build(&req, &model, &len_old, err_old, sizeof(err_old));
        tg_test_checks++;
        if ((got == NULL) != (want == NULL) ||
            (got && (strcmp(got, want) != 0 || len_new != len_old)) ||
            (!got && strcmp(err_new, err_old) != 0)) {
                tg_test_failures++;
                fprintf(stderr, "case %d:\n  new %s (%s)\n  old %s (%s)\n", n,
                        got ? got : "NULL", err_new, want ? want : "NULL",
                        err_old);
        }
        free(want);
        if (!got)
                return 0;
        free(got);
        return 1;
}

int main(void)
{
        int built = 0;

        for (int n = 0; n < 20000; n++)
                built += check_one(n);
        /* the generator must mostly make sendable requests */
        CHECK(built > 5000);
        printf("%d of 20000 requests built\n", built);
        return tg_test_done("test_converse_body");
}
