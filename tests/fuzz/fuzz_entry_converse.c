/*
 * The Converse target.
 *
 * Part of fuzz_entries.c, which includes it: the fuzz targets and the
 * regression test compile the entries as one translation unit, so the
 * helpers stay static and no CMake change links them.
 */

static void check_error(const tg_bedrock_error_t *e, long status)
{
        static const size_t sizes[] = {1, 2, 7, 64, 768};
        char reason[768];

        FZ_CHECK(e->http_status == status);
        FZ_CHECK(memchr(e->type, '\0', sizeof(e->type)) != NULL);
        FZ_CHECK(memchr(e->message, '\0', sizeof(e->message)) != NULL);
        FZ_CHECK(e->type[0] != '\0');
        for (const char *c = e->type; *c; c++)
                FZ_CHECK(is_unreserved((unsigned char)*c) && *c != '~');
        FZ_CHECK(e->message[0] != '\0');
        FZ_CHECK(utf8_valid_str(e->message));
        for (const char *c = e->message; *c; c++)
                FZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        FZ_CHECK(!e->throttled || e->retryable);
        FZ_CHECK(!e->billing_unknown || !e->retryable);
        FZ_CHECK(tg_bedrock_reason(e, reason, 0) == -1);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
                int n = tg_bedrock_reason(e, reason, sizes[i]);
                FZ_CHECK(n >= 0 && (size_t)n < sizes[i]);
                FZ_CHECK(strlen(reason) == (size_t)n);
                FZ_CHECK(utf8_valid(reason, strlen(reason)));
        }
}

static void fuzz_classify(const uint8_t *data, size_t size)
{
        static const long statuses[] = {400, 403, 404, 408, 424, 429, 500,
                                        502, 503, 504, 418, 200, 0};
        long status = statuses[size % (sizeof(statuses) / sizeof(*statuses))];
        const char *nl = memchr(data, '\n', size);
        size_t hlen = nl ? (size_t)(nl - (const char *)data) : 0;
        char header[512];
        tg_bedrock_error_t e;

        tg_bedrock_classify(status, NULL, (const char *)data, size, 0, &e);
        FZ_CHECK(e.curl_code == 0 && !e.billing_unknown);
        check_error(&e, status);

        /* First line as x-amzn-ErrorType, the rest as the body. */
        if (nl && hlen < sizeof(header)) {
                memcpy(header, data, hlen);
                header[hlen] = '\0';
                tg_bedrock_classify(status, header, nl + 1, size - hlen - 1, 0,
                                    &e);
                check_error(&e, status);
        }

        if (size) {
                int code = 1 + data[0] % 99;
                tg_bedrock_classify(status, NULL, (const char *)data, size,
                                    code, &e);
                FZ_CHECK(e.curl_code == code);
                check_error(&e, status);
        }
}

/* The jansson parser jsonr replaced is the oracle: same verdict, same
 * result, same words after the syntax. One exception: jansson swallows a
 * NUL byte right after a number (tests/unit/test_jsonr.c), jsonr does not. */
static void check_converse_oracle(const uint8_t *data, size_t size,
                                  const tg_converse_result_t *out, int r,
                                  const char *err)
{
        tg_converse_result_t o;
        char oerr[512] = "";
        int ro = tg_converse_parse_jansson((const char *)data, size, &o, oerr,
                                           sizeof(oerr));

        if (r && memchr(data, '\0', size)) { /* jansson may read past it */
                tg_converse_result_free(&o);
                return;
        }
        FZ_CHECK(r == ro);
        if (!r && !ro) {
                FZ_CHECK(out->text_len == o.text_len &&
                         memcmp(out->text, o.text, o.text_len) == 0);
                FZ_CHECK(strcmp(out->stop_reason, o.stop_reason) == 0);
                FZ_CHECK(memcmp(&out->usage, &o.usage, sizeof(o.usage)) == 0);
                FZ_CHECK(out->latency_ms == o.latency_ms);
        } else if (r && ro) {
                FZ_CHECK(oj_syntax_class(oerr) ? oj_syntax_class(err)
                                               : strcmp(err, oerr) == 0);
        }
        tg_converse_result_free(&o);
}

int tg_fuzz_converse(const uint8_t *data, size_t size)
{
        tg_converse_result_t out;
        char err[512] = "";
        const tg_catalog_t *cat = default_catalog();
        int r =
            tg_converse_parse((const char *)data, size, &out, err, sizeof(err));

        if (r) {
                FZ_CHECK(r == -1);
                FZ_CHECK(err[0] != '\0');
                FZ_CHECK(out.text == NULL && out.text_len == 0 &&
                         out.usage.input_tokens == 0 &&
                         out.usage.output_tokens == 0 &&
                         out.stop_reason[0] == '\0');
        } else {
                const tg_usage_t *u = &out.usage;

                FZ_CHECK(out.text != NULL);
                FZ_CHECK(out.text && out.text[out.text_len] == '\0');
                FZ_CHECK(out.text && utf8_valid(out.text, out.text_len));
                FZ_CHECK(memchr(out.stop_reason, '\0',
                                sizeof(out.stop_reason)) != NULL);
                for (const char *c = out.stop_reason; *c; c++)
                        FZ_CHECK(*c >= 0x20 && *c < 0x7f);
                FZ_CHECK(u->input_tokens >= 0 &&
                         u->input_tokens <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(u->output_tokens >= 0 &&
                         u->output_tokens <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(u->cache_read_tokens >= 0 &&
                         u->cache_read_tokens <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(u->cache_write_tokens >= 0 &&
                         u->cache_write_tokens <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(out.latency_ms >= 0 &&
                         out.latency_ms <= TG_CONVERSE_COUNT_MAX);
                FZ_CHECK(u->cache_write_1h_tokens >= 0 &&
                         u->cache_write_1h_tokens <= u->cache_write_tokens);
                /* Whatever the counts, settlement can price them, unless
                 * 1-hour writes come from a model with no 1-hour price:
                 * then it says so, never a negative cost. */
                for (size_t i = 0; i < tg_catalog_model_count(cat); i++) {
                        const tg_model_t *m = tg_catalog_model_at(cat, i);
                        int64_t c = -1;
                        char perr[256] = "";
                        int rc = tg_converse_price(&out, m, TG_TIER_DEFAULT,
                                                   m->model_id, &c, perr,
                                                   sizeof(perr));
                        FZ_CHECK(rc == 0 ? c >= 0
                                         : u->cache_write_1h_tokens > 0 &&
                                               perr[0] != '\0');
                }
        }
        check_converse_oracle(data, size, &out, r, err);
        tg_converse_result_free(&out);
        FZ_CHECK(out.text == NULL);

        fuzz_classify(data, size);
        return 0;
}
