/*
 * The SigV4 target.
 *
 * Part of fuzz_entries.c, which includes it: the fuzz targets and the
 * regression test compile the entries as one translation unit, so the
 * helpers stay static and no CMake change links them.
 */

#define DEFAULT_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
/* Over the signer's cap on purpose: it must refuse, not overflow. */
#define FZ_MAX_HEADERS (TG_SIGV4_MAX_HEADERS + 8)

typedef struct fz_req {
        char *buf; /* NUL-terminated copy the strings point into */
        const char *method, *path, *query;
        tg_sigv4_header_t h[FZ_MAX_HEADERS];
        char *values[FZ_MAX_HEADERS]; /* owned, folded lines joined */
        size_t n;
        const char *body;
        size_t body_len;
        int no_normalize, s3_path, unsigned_payload, token;
        const char *region, *service, *date, *akid, *secret;
} fz_req_t;

static char *next_line(char **p, char *end)
{
        char *line = *p, *nl;

        if (line >= end)
                return NULL;
        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl) {
                *nl = '\0';
                *p = nl + 1;
        } else {
                *p = end;
        }
        if (nl && nl > line && nl[-1] == '\r')
                nl[-1] = '\0';
        return line;
}

/* "#n s u t region=R service=S date=D akid=K secret=X": options for the
 * signing, so the corpus can reach the unnormalized and S3 paths. */
static void parse_options(fz_req_t *r, char *line)
{
        char *save = NULL;

        for (char *tok = strtok_r(line + 1, " ", &save); tok;
             tok = strtok_r(NULL, " ", &save)) {
                char *eq = strchr(tok, '=');

                if (!eq) {
                        r->no_normalize |= strchr(tok, 'n') != NULL;
                        r->s3_path |= strchr(tok, 's') != NULL;
                        r->unsigned_payload |= strchr(tok, 'u') != NULL;
                        r->token |= strchr(tok, 't') != NULL;
                        continue;
                }
                *eq = '\0';
                if (!strcmp(tok, "region"))
                        r->region = eq + 1;
                else if (!strcmp(tok, "service"))
                        r->service = eq + 1;
                else if (!strcmp(tok, "date"))
                        r->date = eq + 1;
                else if (!strcmp(tok, "akid"))
                        r->akid = eq + 1;
                else if (!strcmp(tok, "secret"))
                        r->secret = eq + 1;
        }
}

/* The suite's request.txt: "METHOD target HTTP/1.1", "Name:value" lines
 * (a line starting with a blank folds into the previous value with one
 * space, as obs-fold allows), a blank line, the body. Lenient on purpose:
 * whatever it makes of the input goes to the signer, which must cope. */
static void fz_parse(fz_req_t *r, const uint8_t *data, size_t size)
{
        char *p, *end, *line, *sp1, *sp2, *q;

        memset(r, 0, sizeof(*r));
        r->region = "us-east-1";
        r->service = "service";
        r->date = "20150830T123600Z";
        r->akid = "AKIDEXAMPLE";
        r->secret = DEFAULT_SECRET;
        r->buf = malloc(size + 1);
        if (!r->buf)
                abort();
        memcpy(r->buf, data, size);
        r->buf[size] = '\0';
        p = r->buf;
        end = r->buf + size;
        line = next_line(&p, end);
        if (line && line[0] == '#') {
                parse_options(r, line);
                line = next_line(&p, end);
        }
        if (!line)
                line = "";
        sp1 = strchr(line, ' ');
        sp2 = strrchr(line, ' ');
        r->method = line;
        r->path = "";
        if (sp1) {
                *sp1 = '\0';
                if (sp2 != sp1)
                        *sp2 = '\0';
                r->path = sp1 + 1;
                q = strchr(sp1 + 1, '?');
                if (q) {
                        *q = '\0';
                        r->query = q + 1;
                }
        }
        while ((line = next_line(&p, end)) && *line) {
                char *colon = strchr(line, ':'), *v;
                size_t len;

                if ((line[0] == ' ' || line[0] == '\t') && r->n > 0) {
                        len = strlen(r->values[r->n - 1]);
                        v = realloc(r->values[r->n - 1],
                                    len + 1 + strlen(line) + 1);
                        if (!v)
                                abort();
                        v[len] = ' ';
                        strcpy(v + len + 1, line);
                        r->values[r->n - 1] = v;
                        continue;
                }
                if (r->n == FZ_MAX_HEADERS)
                        continue;
                if (colon)
                        *colon = '\0';
                r->h[r->n].name = line;
                r->values[r->n] = strdup(colon ? colon + 1 : "");
                if (!r->values[r->n])
                        abort();
                r->n++;
        }
        for (size_t i = 0; i < r->n; i++)
                r->h[i].value = r->values[i];
        r->body = p;
        r->body_len = (size_t)(end - p);
}

static void fz_free(fz_req_t *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->values[i]);
        free(r->buf);
}

static int lower_name_cmp(const char *a, const char *b)
{
        for (;; a++, b++) {
                int x = (*a >= 'A' && *a <= 'Z') ? *a - 'A' + 'a' : *a;
                int y = (*b >= 'A' && *b <= 'Z') ? *b - 'A' + 'a' : *b;
                if (x != y || !x)
                        return x - y;
        }
}

/* Header names, case-folded, counted once each: the number of header
 * lines the canonical request must have. */
static size_t distinct_names(const tg_sigv4_request_t *rq)
{
        size_t n = 0;

        for (size_t i = 0; i < rq->n_headers; i++) {
                size_t k;
                for (k = 0; k < i; k++)
                        if (!lower_name_cmp(rq->headers[k].name,
                                            rq->headers[i].name))
                                break;
                n += k == i;
        }
        return n;
}

static int is_tchar_lower(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A canonical request is six or more lines whose shape leaves no room for
 * one request to pass as another: a line per distinct header, nothing a
 * caller's bytes could add. */
static void check_canonical(const char *creq, const tg_sigv4_request_t *rq,
                            const tg_sigv4_params_t *pa,
                            char *signed_headers_out, size_t sh_size)
{
        char *copy = strdup(creq), *lines[3 + FZ_MAX_HEADERS + 3];
        size_t nl = 0, k = distinct_names(rq), i;
        char *p, *sh;
        char want_hash[65];

        FZ_CHECK(copy != NULL);
        if (!copy)
                return;
        for (p = copy; *p; p++)
                nl += *p == '\n';
        /* method, path, query, k header lines, blank, signed, hash */
        FZ_CHECK(nl == 5 + k);
        if (nl != 5 + k) {
                free(copy);
                return;
        }
        p = copy;
        for (i = 0; i < nl + 1; i++)
                lines[i] = strsep(&p, "\n");
        FZ_CHECK(strcmp(lines[0], rq->method) == 0);

        /* path */
        if (!pa->s3_path) {
                FZ_CHECK(strictly_encoded(lines[1], strlen(lines[1]), "/"));
                FZ_CHECK(lines[1][0] == '/');
        }
        if (!pa->s3_path && !pa->no_normalize) {
                char *seg = lines[1];
                FZ_CHECK(!strstr(seg, "//"));
                while (seg && *seg) {
                        char *s = strchr(seg + 1, '/');
                        size_t len =
                            s ? (size_t)(s - seg - 1) : strlen(seg + 1);
                        FZ_CHECK(!(len == 1 && seg[1] == '.') &&
                                 !(len == 2 && seg[1] == '.' && seg[2] == '.'));
                        seg = s;
                }
        }

        /* query: strictly encoded key=value pairs in sorted order */
        FZ_CHECK(strictly_encoded(lines[2], strlen(lines[2]), "=&"));
        if (lines[2][0]) {
                char *q = lines[2], *prev = NULL, *pair;
                while ((pair = strsep(&q, "&"))) {
                        char *eq = strchr(pair, '=');
                        FZ_CHECK(eq && !strchr(eq + 1, '='));
                        if (!eq)
                                break;
                        *eq = '\0';
                        if (prev) {
                                int c = strcmp(prev, pair);
                                FZ_CHECK(
                                    c < 0 ||
                                    (c == 0 && strcmp(prev + strlen(prev) + 1,
                                                      eq + 1) <= 0));
                        }
                        prev = pair;
                }
        }

        /* headers: lower-case names in strictly ascending order, values
         * trimmed with inner blanks collapsed, no control characters */
        sh = signed_headers_out;
        sh[0] = '\0';
        for (i = 0; i < k; i++) {
                char *h = lines[3 + i], *colon = strchr(h, ':');
                size_t vlen;

                FZ_CHECK(colon && colon > h);
                if (!colon)
                        continue;
                *colon = '\0';
                for (char *c = h; *c; c++)
                        FZ_CHECK(is_tchar_lower((unsigned char)*c));
                if (i)
                        FZ_CHECK(strcmp(lines[3 + i - 1], h) < 0);
                vlen = strlen(colon + 1);
                FZ_CHECK(!vlen || (colon[1] != ' ' && colon[vlen] != ' '));
                FZ_CHECK(!strstr(colon + 1, "  "));
                for (char *c = colon + 1; *c; c++)
                        FZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
                /* ";" (after the first), the name and the NUL fit: the
                 * signer takes up to sh_size - 1 characters too */
                if (strlen(sh) + (i ? 1 : 0) + strlen(h) + 1 <= sh_size) {
                        if (i)
                                strcat(sh, ";");
                        strcat(sh, h);
                }
        }
        FZ_CHECK(lines[3 + k][0] == '\0');
        FZ_CHECK(strcmp(lines[4 + k], sh) == 0);
        if (rq->payload_hash) {
                FZ_CHECK(strcmp(lines[5 + k], rq->payload_hash) == 0);
        } else {
                sha256_hex(rq->body, rq->body_len, want_hash);
                FZ_CHECK(strcmp(lines[5 + k], want_hash) == 0);
        }
        free(copy);
}

static void hmac(const void *key, size_t klen, const char *data,
                 unsigned char out[32])
{
        unsigned int olen = 32;

        if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)data,
                  strlen(data), out, &olen))
                abort();
}

/* The signature, recomputed from the canonical request with OpenSSL and
 * nothing of the signer's. */
static void expected_signature(const char *creq, const tg_sigv4_params_t *pa,
                               char out[65])
{
        char hash[65], date[9], sts[512], k0[4 + TG_SIGV4_MAX_KEY + 1];
        unsigned char a[32], b[32];

        sha256_hex(creq, strlen(creq), hash);
        snprintf(date, sizeof(date), "%.8s", pa->amz_date);
        snprintf(sts, sizeof(sts),
                 "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
                 pa->amz_date, date, pa->region, pa->service, hash);
        snprintf(k0, sizeof(k0), "AWS4%s", pa->secret_access_key);
        hmac(k0, strlen(k0), date, a);
        hmac(a, 32, pa->region, b);
        hmac(b, 32, pa->service, a);
        hmac(a, 32, "aws4_request", b);
        hmac(b, 32, sts, a);
        for (int i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", a[i]);
        out[64] = '\0';
}

/* The first line of the input (up to LF or NUL) as a model id. One line,
 * not the whole input: a long request would otherwise spend most of its
 * run encoding its body as an id, and LF is a byte like any other to the
 * encoder. */
static void fuzz_model_path(const uint8_t *data, size_t size)
{
        const uint8_t *lf = memchr(data, '\n', size);
        size_t n = strnlen((const char *)data, lf ? (size_t)(lf - data) : size);
        char *id = malloc(n + 1), path[TG_BEDROCK_PATH_MAX];
        long r;

        if (!id)
                abort();
        memcpy(id, data, n);
        id[n] = '\0';
        r = tg_bedrock_model_path(id, "converse", path, sizeof(path));
        if (n > 0 && n <= TG_MODEL_MAX && !dot_segment(id))
                FZ_CHECK(r > 0);
        if (r > 0)
                check_model_path(id, path, r, "converse");
        r = tg_bedrock_model_path(id, "invoke", path, sizeof(path));
        if (r > 0)
                check_model_path(id, path, r, "invoke");
        free(id);
}

int tg_fuzz_sigv4(const uint8_t *data, size_t size)
{
        fz_req_t r;
        tg_sigv4_result_t res, res2;
        char err[512] = "", err2[512] = "", sh[1024], sig[65];
        char *creq;
        int rc;

        fuzz_model_path(data, size);

        fz_parse(&r, data, size);
        if (r.token && r.n < FZ_MAX_HEADERS) {
                r.values[r.n] = strdup("IQoJb3JpZ2luX2VjEMb//////////wEaCXVz");
                if (!r.values[r.n])
                        abort();
                r.h[r.n].name = "X-Amz-Security-Token";
                r.h[r.n].value = r.values[r.n];
                r.n++;
        }
        tg_sigv4_request_t rq = {
            .method = r.method,
            .path = r.path,
            .query = r.query,
            .headers = r.h,
            .n_headers = r.n,
            .body = r.body,
            .body_len = r.body_len,
            .payload_hash = r.unsigned_payload ? "UNSIGNED-PAYLOAD" : NULL,
        };
        tg_sigv4_params_t pa = {
            .access_key_id = r.akid,
            .secret_access_key = r.secret,
            .region = r.region,
            .service = r.service,
            .amz_date = r.date,
            .s3_path = r.s3_path,
            .no_normalize = r.no_normalize,
        };

        creq = tg_sigv4_canonical_request(&rq, &pa, err, sizeof(err));
        rc = tg_sigv4_sign(&rq, &pa, &res, err2, sizeof(err2));
        if (!creq) {
                FZ_CHECK(err[0] != '\0');
                FZ_CHECK(rc != 0);
        } else {
                check_canonical(creq, &rq, &pa, sh, sizeof(sh));
        }
        if (rc) {
                FZ_CHECK(err2[0] != '\0');
                /* A request the canonicalizer took fails to sign only for
                 * bad parameters: with good ones it must sign. */
                if (creq) {
                        tg_sigv4_params_t good = {
                            .access_key_id = "AKIDEXAMPLE",
                            .secret_access_key = "secret",
                            .region = "us-east-1",
                            .service = "service",
                            .amz_date = "20150830T123600Z",
                            .s3_path = pa.s3_path,
                            .no_normalize = pa.no_normalize,
                        };
                        FZ_CHECK(tg_sigv4_sign(&rq, &good, &res2, err2,
                                               sizeof(err2)) == 0);
                }
        } else {
                char want[2048];

                FZ_CHECK(creq != NULL);
                FZ_CHECK(is_lower_hex64(res.signature));
                if (creq) {
                        FZ_CHECK(strcmp(res.signed_headers, sh) == 0);
                        expected_signature(creq, &pa, sig);
                        FZ_CHECK(strcmp(res.signature, sig) == 0);
                }
                snprintf(want, sizeof(want),
                         "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/"
                         "aws4_request, SignedHeaders=%s, Signature=%s",
                         pa.access_key_id, pa.amz_date, pa.region, pa.service,
                         res.signed_headers, res.signature);
                FZ_CHECK(strcmp(res.authorization, want) == 0);
                FZ_CHECK(tg_sigv4_sign(&rq, &pa, &res2, err2, sizeof(err2)) ==
                             0 &&
                         memcmp(&res, &res2, sizeof(res)) == 0);
        }
        /* Secrets never reach an error message. (Only the default one is
         * looked for: a short fuzzed secret may well be a word of one.) */
        FZ_CHECK(!strstr(err, DEFAULT_SECRET) && !strstr(err2, DEFAULT_SECRET));
        free(creq);
        fz_free(&r);
        return 0;
}
