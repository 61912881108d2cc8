/*
 * The request target.
 *
 * Part of fuzz_entries.c, which includes it: the fuzz targets and the
 * regression test compile the entries as one translation unit, so the
 * helpers stay static and no CMake change links them.
 */

static void check_parsed(const tg_request_t *req)
{
        size_t sum = 0, first = req->n_messages;
        const char *app;

        FZ_CHECK(req->strings != NULL);
        FZ_CHECK(!req->request_id[0] ||
                 tg_request_id_valid(req->request_id, strlen(req->request_id)));
        FZ_CHECK(strlen(req->timestamp) < sizeof(req->timestamp));
        FZ_CHECK(req->model && req->model[0] &&
                 strlen(req->model) <= TG_MODEL_MAX);
        FZ_CHECK(req->n_messages >= 1 && req->n_messages <= TG_MESSAGES_MAX);
        FZ_CHECK(req->messages != NULL);
        for (size_t i = 0; req->messages && i < req->n_messages; i++) {
                const tg_message_t *m = &req->messages[i];

                FZ_CHECK(m->role == TG_ROLE_SYSTEM || m->role == TG_ROLE_USER ||
                         m->role == TG_ROLE_ASSISTANT);
                FZ_CHECK(m->content && m->content_len > 0);
                FZ_CHECK(utf8_valid(m->content, m->content_len));
                sum += m->content_len;
                if (m->role != TG_ROLE_SYSTEM && first == req->n_messages)
                        first = i;
        }
        FZ_CHECK(sum == req->text_bytes);
        FZ_CHECK(first < req->n_messages &&
                 req->messages[first].role == TG_ROLE_USER);
        FZ_CHECK(req->n_tags <= TG_TAGS_MAX);
        for (size_t i = 0; i < req->n_tags; i++) {
                char err[256];

                FZ_CHECK(req->tags[i].key && req->tags[i].value);
                FZ_CHECK(tg_tag_check(req->tags[i].key, req->tags[i].value, err,
                                      sizeof(err)) == 0);
                for (size_t k = 0; k < i; k++)
                        FZ_CHECK(strcmp(req->tags[k].key, req->tags[i].key));
        }
        app = tg_request_tag(req, "applicationId");
        FZ_CHECK(app && app[0]);
        FZ_CHECK(
            req->params.max_tokens == 0 ||
            (req->params.max_tokens >= 1 && req->params.max_tokens <= 1000000));
        FZ_CHECK(req->params.top_k == 0 ||
                 (req->params.top_k >= 1 && req->params.top_k <= 500));
        FZ_CHECK(!req->params.has_temperature ||
                 (isfinite(req->params.temperature) &&
                  req->params.temperature >= 0 &&
                  req->params.temperature <= 1));
        FZ_CHECK(!req->params.has_top_p ||
                 (isfinite(req->params.top_p) && req->params.top_p >= 0 &&
                  req->params.top_p <= 1));
}

/* What the worker does with a valid request, against one catalog. */
static void price_and_build(const tg_request_t *req, const tg_catalog_t *cat)
{
        static const tg_family_t families[] = {
            TG_FAMILY_OTHER, TG_FAMILY_NOVA, TG_FAMILY_ANTHROPIC,
            TG_FAMILY_META, TG_FAMILY_MISTRAL};
        tg_resolved_t res = {0};
        char err[512] = "";

        if (tg_catalog_resolve(cat, req->model, req, &res, err, sizeof(err))) {
                /* The reason of an `invalid` completion event. */
                FZ_CHECK(err[0] && utf8_valid_str(err));
                return;
        }
        FZ_CHECK(res.model && res.target && res.target[0]);
        if (!res.model || !res.target)
                return;
        FZ_CHECK(req->params.max_tokens <= res.model->max_output_tokens);
        check_bound(res.model, req, 1);
        check_call_path(res.target);
        for (size_t i = 0; i < sizeof(families) / sizeof(*families); i++) {
                tg_model_t m = *res.model;
                m.family = families[i];
                check_body(req, &m);
        }
}

/* The jansson parser jsonr replaced is the oracle (oq_same). jansson
 * swallows a NUL byte right after a number (tests/unit/test_jsonr.c): a
 * text with one is not compared. */
static void check_request_oracle(const uint8_t *data, size_t size,
                                 const tg_request_t *req, tg_parse_result_t r,
                                 const char *err)
{
        oq_request_t o;
        char oerr[512] = "";
        tg_parse_result_t ro = tg_request_parse_jansson(
            &o, (const char *)data, size, 0, oerr, sizeof(oerr));

        if (!memchr(data, '\0', size))
                FZ_CHECK(oq_same(req, r, err, &o, ro, oerr));
        oq_request_destroy(&o);
}

int tg_fuzz_request(const uint8_t *data, size_t size)
{
        tg_request_t req;
        char err[512] = "";
        tg_parse_result_t r;

        r = tg_request_parse(&req, (const char *)data, size, 0, err,
                             sizeof(err));
        check_request_oracle(data, size, &req, r, err);
        switch (r) {
        case TG_PARSE_NOT_JSON:
                FZ_CHECK(req.strings == NULL && req.messages == NULL);
                FZ_CHECK(err[0] != '\0');
                break;
        case TG_PARSE_INVALID:
                FZ_CHECK(req.strings != NULL);
                FZ_CHECK(req.n_tags <= TG_TAGS_MAX);
                FZ_CHECK(err[0] && utf8_valid_str(err));
                break;
        case TG_PARSE_OK:
                check_parsed(&req);
                price_and_build(&req, default_catalog());
                price_and_build(&req, routed_catalog());
                break;
        default:
                FZ_CHECK(!"tg_request_parse returned no known result");
        }
        tg_request_destroy(&req);

        /* The size cap holds however valid the rest is. */
        if (r == TG_PARSE_OK && size > 1) {
                r = tg_request_parse(&req, (const char *)data, size, size - 1,
                                     err, sizeof(err));
                FZ_CHECK(r == TG_PARSE_INVALID);
                tg_request_destroy(&req);
        }
        return 0;
}
