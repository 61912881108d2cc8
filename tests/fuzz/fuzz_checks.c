/*
 * Checks shared by several targets: the call path, the price bound, the
 * Converse body.
 *
 * Part of fuzz_entries.c, which includes it: the fuzz targets and the
 * regression test compile the entries as one translation unit, so the
 * helpers stay static and no CMake change links them.
 */

/* Percent-decodes a strictly encoded segment; returns the length. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%') {
                        out[o++] =
                            (char)(hex_digit((unsigned char)s[i + 1]) * 16 +
                                   hex_digit((unsigned char)s[i + 2]));
                        i += 2;
                } else {
                        out[o++] = s[i];
                }
        }
        return o;
}

/* What a model path must be for the worker to call exactly that model: one
 * encoded segment that decodes back to the id and that neither curl (dot
 * segment squashing) nor a server can read as another path, query,
 * fragment or host. Also signs it: the canonical path must be the wire
 * path encoded once more, with nothing normalized away. */
static void check_model_path(const char *id, const char *path, long n,
                             const char *op)
{
        static const char pre[] = "/model/";
        size_t plen = sizeof(pre) - 1, oplen = strlen(op), seglen;
        const char *seg = path + plen;
        char *dec, *creq, expect[3 * TG_BEDROCK_PATH_MAX + 1];
        size_t e = 0;
        char err[256] = "";

        FZ_CHECK(n > 0 && (size_t)n == strlen(path));
        if (n <= 0 || (size_t)n != strlen(path) || (size_t)n < plen + 1 + oplen)
                return;
        FZ_CHECK(strncmp(path, pre, plen) == 0);
        FZ_CHECK(path[n - (long)oplen - 1] == '/' &&
                 strcmp(path + n - oplen, op) == 0);
        seglen = (size_t)n - plen - oplen - 1;
        FZ_CHECK(seglen > 0);
        FZ_CHECK(strictly_encoded(seg, seglen, NULL));
        FZ_CHECK(!memchr(seg, '/', seglen) && !memchr(seg, '?', seglen) &&
                 !memchr(seg, '#', seglen) && !memchr(seg, '@', seglen));
        FZ_CHECK(!strstr(path, "/../") && !strstr(path, "/./"));
        FZ_CHECK(!(seglen == 1 && seg[0] == '.') &&
                 !(seglen == 2 && seg[0] == '.' && seg[1] == '.'));
        if (!strictly_encoded(seg, seglen, NULL))
                return;
        dec = malloc(seglen + 1);
        FZ_CHECK(dec != NULL);
        if (!dec)
                return;
        FZ_CHECK(pct_decode(seg, seglen, dec) == strlen(id) &&
                 memcmp(dec, id, strlen(id)) == 0);
        free(dec);

        if ((size_t)n > TG_SIGV4_MAX_PATH)
                return;
        tg_sigv4_header_t h[2] = {{"Host", "bedrock-runtime.us-east-1."
                                           "amazonaws.com"},
                                  {"X-Amz-Date", "20261127T100000Z"}};
        tg_sigv4_request_t rq = {.method = "POST",
                                 .path = path,
                                 .headers = h,
                                 .n_headers = 2,
                                 .body = "{}",
                                 .body_len = 2};
        tg_sigv4_params_t pa = {.access_key_id = "AKIDEXAMPLE",
                                .secret_access_key = "secret",
                                .region = "us-east-1",
                                .service = "bedrock",
                                .amz_date = "20261127T100000Z"};
        for (long i = 0; i < n; i++) {
                if (path[i] == '%') {
                        memcpy(expect + e, "%25", 3);
                        e += 3;
                } else {
                        expect[e++] = path[i];
                }
        }
        expect[e] = '\0';
        creq = tg_sigv4_canonical_request(&rq, &pa, err, sizeof(err));
        FZ_CHECK(creq != NULL);
        if (!creq)
                return;
        FZ_CHECK(strncmp(creq, "POST\n", 5) == 0 &&
                 strncmp(creq + 5, expect, e) == 0 && creq[5 + e] == '\n');
        free(creq);
}

static int dot_segment(const char *s)
{
        return !strcmp(s, ".") || !strcmp(s, "..");
}

/* The worker's path for a resolved target. */
static void check_call_path(const char *target)
{
        char a[TG_BEDROCK_PATH_MAX];
        long n = tg_bedrock_model_path(target, "converse", a, sizeof(a));

        /* A target of up to TG_MODEL_MAX bytes always fits; only the two
         * that would be dot segments may be refused. */
        if (strlen(target) <= TG_MODEL_MAX && !dot_segment(target))
                FZ_CHECK(n > 0);
        if (n > 0)
                check_model_path(target, a, n, "converse");
}

/* ---- prices ------------------------------------------------------------ */

/* The reservation must cover every bill the call can produce: any split of
 * the bounded input tokens over the input classes, plus the full output. */
static void check_bound_covers(const tg_model_t *m, const tg_bound_t *b,
                               int tier, int scope)
{
        int64_t in = b->input_tokens, out = b->output_tokens;
        tg_usage_t splits[] = {
            {in, out, 0, 0, 0},
            {0, out, in, 0, 0},
            {0, out, 0, in, 0},
            {0, out, 0, in, in},
            {in / 3, out, in / 3, in - 2 * (in / 3), 0},
            {in / 2, out, 0, in - in / 2, 0},
        };

        FZ_CHECK(b->cost_nano >= 0);
        FZ_CHECK(in >= 0 && out >= 1);
        for (size_t i = 0; i < sizeof(splits) / sizeof(*splits); i++) {
                int64_t c =
                    tier < 0 ? tg_cost_usage(&m->price, &splits[i])
                             : tg_cost_usage_at(m, (tg_tier_t)tier,
                                                (tg_scope_t)scope, &splits[i]);
                if (splits[i].cache_write_1h_tokens && c == -1)
                        continue; /* no 1-hour price: refused, not priced */
                FZ_CHECK(c >= 0 && c <= b->cost_nano);
        }
}

/* Every tier at both scopes: its own bound covers its own bills
 * (long-context prices included), and the default tier's bills are
 * covered by tg_cost_bound() too. */
static void check_tier_bounds(const tg_model_t *m, const tg_request_t *req,
                              const tg_bound_t *dflt)
{
        tg_bound_t b;

        for (int t = 0; t < TG_TIER_N; t++) {
                for (int s = 0; s < TG_SCOPE_N; s++) {
                        int r = tg_cost_bound_at(m, (tg_tier_t)t, (tg_scope_t)s,
                                                 req, &b);
                        FZ_CHECK((r == 0) ==
                                 (tg_model_rate(m, (tg_tier_t)t,
                                                (tg_scope_t)s) != NULL));
                        if (r)
                                continue;
                        check_bound_covers(m, &b, t, s);
                        if (t == TG_TIER_DEFAULT)
                                check_bound_covers(m, dflt, t, s);
                }
        }
}

static void check_bound(const tg_model_t *m, const tg_request_t *req,
                        int must_price)
{
        tg_bound_t b;
        int r = tg_cost_bound(m, req, &b);

        if (must_price)
                FZ_CHECK(r == 0);
        if (r)
                return;
        FZ_CHECK(b.input_tokens >= (int64_t)req->text_bytes);
        FZ_CHECK(b.output_tokens == (req->params.max_tokens > 0
                                         ? req->params.max_tokens
                                         : m->max_output_tokens));
        check_bound_covers(m, &b, -1, 0);
        check_tier_bounds(m, req, &b);
}

/* ---- the Converse body ------------------------------------------------- */

/* A Converse cachePoint block (docs/operations.md, "Service tiers, prompt
 * caching and request metadata"): {"cachePoint": {"type": "default"}},
 * with a ttl of 5m or 1h at most. */
static int is_cache_point(json_t *blk)
{
        json_t *cp = json_object_get(blk, "cachePoint");
        const char *ttl = json_string_value(json_object_get(cp, "ttl"));

        if (!cp)
                return 0;
        FZ_CHECK(json_object_size(blk) == 1 && json_is_object(cp));
        FZ_CHECK(json_is_string(json_object_get(cp, "type")) &&
                 strcmp(json_string_value(json_object_get(cp, "type")),
                        "default") == 0);
        FZ_CHECK(json_object_size(cp) == (ttl ? 2u : 1u));
        FZ_CHECK(!ttl || strcmp(ttl, "5m") == 0 || strcmp(ttl, "1h") == 0);
        return 1;
}

/* The body must carry every byte of every message, in turns that start
 * with user and alternate, bounded by the same maxTokens as the
 * reservation. */
static void check_body(const tg_request_t *req, const tg_model_t *m)
{
        char err[512] = "";
        size_t len = 0, text = 0, blocks = 0, points = 0, i, j;
        char *body = tg_converse_build(req, m, &len, err, sizeof(err));
        json_t *doc, *msgs, *sys, *turn, *blk, *cfg;
        const char *prev = NULL;

        /* A request that passed validation is always sendable. */
        FZ_CHECK(body != NULL);
        if (!body)
                return;
        FZ_CHECK(len == strlen(body));
        doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
        free(body);
        FZ_CHECK(json_is_object(doc));
        msgs = json_object_get(doc, "messages");
        sys = json_object_get(doc, "system");
        FZ_CHECK(json_is_array(msgs) && json_array_size(msgs) > 0);
        FZ_CHECK(!sys || (json_is_array(sys) && json_array_size(sys) > 0));
        json_array_foreach(sys, i, blk)
        {
                json_t *t = json_object_get(blk, "text");
                if (is_cache_point(blk)) {
                        points++;
                        continue;
                }
                FZ_CHECK(json_is_string(t));
                text += json_string_length(t);
                blocks++;
        }
        json_array_foreach(msgs, i, turn)
        {
                const char *role =
                    json_string_value(json_object_get(turn, "role"));
                json_t *content = json_object_get(turn, "content");

                FZ_CHECK(role && (strcmp(role, "user") == 0 ||
                                  strcmp(role, "assistant") == 0));
                if (!role)
                        continue;
                FZ_CHECK(i > 0 || strcmp(role, "user") == 0);
                FZ_CHECK(!prev || strcmp(prev, role) != 0);
                prev = role;
                FZ_CHECK(json_is_array(content) &&
                         json_array_size(content) > 0);
                json_array_foreach(content, j, blk)
                {
                        json_t *t = json_object_get(blk, "text");
                        if (is_cache_point(blk)) {
                                points++;
                                continue;
                        }
                        FZ_CHECK(json_is_string(t));
                        text += json_string_length(t);
                        blocks++;
                }
        }
        FZ_CHECK(blocks == req->n_messages);
        FZ_CHECK(points == req->n_cache_points);
        FZ_CHECK(text == req->text_bytes);
        cfg = json_object_get(doc, "inferenceConfig");
        FZ_CHECK(json_integer_value(json_object_get(cfg, "maxTokens")) ==
                 (req->params.max_tokens > 0 ? req->params.max_tokens
                                             : m->max_output_tokens));
        json_decref(doc);
}
