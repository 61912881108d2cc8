/*
 * The catalog target.
 *
 * Part of fuzz_entries.c, which includes it: the fuzz targets and the
 * regression test compile the entries as one translation unit, so the
 * helpers stay static and no CMake change links them.
 */

static const char *const FIXED_NAMES[] = {
    "",
    ".",
    "..",
    "us.",
    "arn:aws",
    "arn:aws:bedrock:us-east-1::foundation-model/",
    /* parenthesized: one name split over two lines */
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-"
     "profile/sales1"),
    "nova-lite",
    "amazon.nova-lite-v1:0",
    "global.anthropic.claude-3-5-sonnet-20240620-v1:0",
};

/* Two requests to price against every model: a small one, and the largest
 * the default limits let through (1 MiB of text in 1024 messages). */
static tg_message_t small_msgs[2] = {
    {TG_ROLE_SYSTEM, "Be brief.", 9, TG_CACHE_NONE},
    {TG_ROLE_USER, "Hi", 2, TG_CACHE_NONE},
};

static void fake_request(tg_request_t *req, int big)
{
        memset(req, 0, sizeof(*req));
        req->model = "nova-lite";
        req->messages = small_msgs;
        req->n_messages = big ? TG_MESSAGES_MAX : 2;
        req->text_bytes = big ? TG_REQUEST_SIZE_DEFAULT : 11;
        req->tags[0] = (tg_tag_t){"applicationId", "chat"};
        req->tags[1] = (tg_tag_t){"costCenter", "sales"};
        req->tags[2] = (tg_tag_t){"environment", "prod"};
        req->n_tags = 3;
}

/* A resolution must name a model that answers to the name, and a target
 * the worker can call. */
static void check_resolve(const tg_catalog_t *cat, const char *name,
                          const tg_request_t *req, int must)
{
        tg_resolved_t res = {0};
        char err[512] = "";
        int r = tg_catalog_resolve(cat, name, req, &res, err, sizeof(err));

        if (must)
                FZ_CHECK(r == 0);
        if (r) {
                FZ_CHECK(err[0] && utf8_valid_str(err));
                return;
        }
        FZ_CHECK(res.model && res.target && res.target[0]);
        if (!res.model || !res.target)
                return;
        if (must)
                FZ_CHECK(strcmp(res.model->alias, name) == 0 ||
                         strcmp(res.model->model_id, name) == 0);
        check_call_path(res.target);
}

static void check_model(const tg_catalog_t *cat, const tg_model_t *m)
{
        tg_request_t req;
        char name[TG_MODEL_MAX + 64];

        FZ_CHECK(m->alias && m->alias[0] && m->model_id && m->model_id[0]);
        FZ_CHECK(m->max_output_tokens >= 1);
        FZ_CHECK(m->message_overhead_tokens >= 0 &&
                 m->request_overhead_tokens >= 0);
        FZ_CHECK(m->price.input >= 0 && m->price.output >= 0 &&
                 m->price.cache_read >= 0 && m->price.cache_write >= 0);
        check_resolve(cat, m->alias, NULL, 1);
        check_resolve(cat, m->model_id, NULL, 1);
        fake_request(&req, 0);
        check_resolve(cat, m->model_id, &req, 0);
        if (strlen(m->model_id) < TG_MODEL_MAX) {
                snprintf(name, sizeof(name), "us.%s", m->model_id);
                check_resolve(cat, name, &req, 0);
                snprintf(name, sizeof(name),
                         "arn:aws:bedrock:us-east-1::foundation-model/%s",
                         m->model_id);
                check_resolve(cat, name, &req, 0);
        }
        check_bound(m, &req, 0);
        check_body(&req, m);
        fake_request(&req, 1);
        check_bound(m, &req, 0);
}

/* Route targets and match tags come from the input itself, so the fuzzer
 * reaches routing without guessing names. */
static void check_routes(const tg_catalog_t *cat, const uint8_t *data,
                         size_t size)
{
        json_t *root = json_loadb((const char *)data, size, 0, NULL);
        json_t *routes = json_object_get(root, "routes"), *r, *v;
        size_t i;
        const char *key;

        json_array_foreach(routes, i, r)
        {
                const char *target =
                    json_string_value(json_object_get(r, "target"));
                const char *model =
                    json_string_value(json_object_get(r, "model"));
                tg_request_t req;

                if (i == 8)
                        break;
                fake_request(&req, 0);
                req.n_tags = 1;
                json_object_foreach(json_object_get(r, "match"), key, v)
                {
                        if (req.n_tags == TG_TAGS_MAX || !json_is_string(v))
                                break;
                        req.tags[req.n_tags++] =
                            (tg_tag_t){key, json_string_value(v)};
                }
                if (target)
                        check_resolve(cat, target, &req, 0);
                if (model)
                        check_resolve(cat, model, &req, 0);
        }
        json_decref(root);
}

int tg_fuzz_catalog(const uint8_t *data, size_t size)
{
        char err[512] = "";
        tg_catalog_t *cat =
            tg_catalog_load_string((const char *)data, size, err, sizeof(err));
        const char *pv;
        size_t n;
        tg_request_t req;

        if (!cat) {
                FZ_CHECK(err[0] != '\0');
                return 0;
        }
        pv = tg_catalog_price_version(cat);
        FZ_CHECK(pv && pv[0] && strlen(pv) <= 64);
        n = tg_catalog_model_count(cat);
        FZ_CHECK(n >= 1 && n <= 256);
        for (size_t i = 0; i < n; i++) {
                const tg_model_t *m = tg_catalog_model_at(cat, i);
                FZ_CHECK(m != NULL);
                if (m)
                        check_model(cat, m);
        }
        FZ_CHECK(tg_catalog_model_at(cat, n) == NULL);
        fake_request(&req, 0);
        for (size_t i = 0; i < sizeof(FIXED_NAMES) / sizeof(*FIXED_NAMES);
             i++) {
                check_resolve(cat, FIXED_NAMES[i], NULL, 0);
                check_resolve(cat, FIXED_NAMES[i], &req, 0);
        }
        check_routes(cat, data, size);
        tg_catalog_destroy(cat);
        return 0;
}
