/*
 * Reference helpers: UTF-8, percent-encoding, SHA-256, the catalogs.
 *
 * Part of fuzz_entries.c, which includes it: the fuzz targets and the
 * regression test compile the entries as one translation unit, so the
 * helpers stay static and no CMake change links them.
 */

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past
 * U+10FFFF. Everything that reaches a JSON event must pass, or jansson
 * refuses the string and the field silently goes missing. */
static int utf8_valid(const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0;

        while (i < n) {
                unsigned c = p[i];
                size_t len;
                uint32_t cp, min;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF) {
                        len = 2, cp = c & 0x1F, min = 0x80;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        len = 3, cp = c & 0x0F, min = 0x800;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        len = 4, cp = c & 0x07, min = 0x10000;
                } else {
                        return 0;
                }
                if (n - i < len)
                        return 0;
                for (size_t k = 1; k < len; k++) {
                        if ((p[i + k] & 0xC0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (p[i + k] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return 0;
                i += len;
        }
        return 1;
}

static int utf8_valid_str(const char *s)
{
        return s && utf8_valid(s, strlen(s));
}

static int is_unreserved(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
               c == '~';
}

static int is_upper_hex(unsigned char c)
{
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int hex_digit(unsigned char c)
{
        return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* 1 when s[0..n) is unreserved bytes and %XX escapes (upper-case hex)
 * only, plus the bytes in `also`. */
static int strictly_encoded(const char *s, size_t n, const char *also)
{
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (is_unreserved(c) || (c && also && strchr(also, c)))
                        continue;
                if (c != '%' || n - i < 3 ||
                    !is_upper_hex((unsigned char)s[i + 1]) ||
                    !is_upper_hex((unsigned char)s[i + 2]))
                        return 0;
                i += 2;
        }
        return 1;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char md[32];
        unsigned int mdlen = 0;

        EVP_Digest(data ? data : (const void *)"", len, md, &mdlen,
                   EVP_sha256(), NULL);
        for (unsigned i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", md[i]);
        out[64] = '\0';
}

static int is_lower_hex64(const char *s)
{
        if (strlen(s) != 64)
                return 0;
        for (size_t i = 0; i < 64; i++)
                if (!((s[i] >= '0' && s[i] <= '9') ||
                      (s[i] >= 'a' && s[i] <= 'f')))
                        return 0;
        return 1;
}

/* The catalog every request is priced against, loaded once: the fuzzer
 * should spend its time on the request, not on reloading prices. */
static const tg_catalog_t *default_catalog(void)
{
        static tg_catalog_t *cat;
        char err[512];
        const char *path =
            tg_fuzz_catalog_path ? tg_fuzz_catalog_path : TG_FUZZ_CATALOG;

        if (!cat) {
                cat = tg_catalog_load_file(path, err, sizeof(err));
                if (!cat) {
                        fprintf(stderr, "fuzz: cannot load %s: %s\n", path,
                                err);
                        abort();
                }
        }
        return cat;
}

/* The default models plus routes to application inference profiles, so
 * requests reach tag routing too. */
static const char ROUTED_CATALOG[] =
    "{\"priceVersion\":\"fuzz\",\"models\":["
    "{\"alias\":\"nova-lite\",\"modelId\":\"amazon.nova-lite-v1:0\","
    "\"family\":\"nova\",\"maxOutputTokens\":5000,\"price\":{\"input\":"
    "\"0.06\",\"output\":\"0.24\",\"cacheRead\":\"0.015\"}},"
    "{\"alias\":\"sonnet\",\"modelId\":\"anthropic.claude-3-5-sonnet-"
    "20240620-v1:0\",\"family\":\"anthropic\",\"maxOutputTokens\":8192,"
    "\"messageOverheadTokens\":10,\"requestOverheadTokens\":20,"
    "\"price\":{\"input\":\"3\",\"output\":\"15\",\"cacheRead\":\"0.30\","
    "\"cacheWrite\":\"3.75\"}},"
    "{\"alias\":\"llama\",\"modelId\":\"meta.llama3-8b-instruct-v1:0\","
    "\"family\":\"meta\",\"target\":\"us.meta.llama3-8b-instruct-v1:0\","
    "\"price\":{\"input\":\"0.30\",\"output\":\"0.60\"}}],"
    "\"routes\":["
    "{\"match\":{\"costCenter\":\"sales\"},\"model\":\"nova-lite\","
    "\"target\":\"arn:aws:bedrock:us-east-1:123456789012:application-"
    "inference-profile/sales1\"},"
    "{\"match\":{\"applicationId\":\"chat\",\"environment\":\"prod\"},"
    "\"target\":\"arn:aws:bedrock:us-east-1:123456789012:application-"
    "inference-profile/chatprod\"}]}";

static const tg_catalog_t *routed_catalog(void)
{
        static tg_catalog_t *cat;
        char err[512];

        if (!cat) {
                cat = tg_catalog_load_string(ROUTED_CATALOG,
                                             sizeof(ROUTED_CATALOG) - 1, err,
                                             sizeof(err));
                if (!cat) {
                        fprintf(stderr, "fuzz: built-in catalog: %s\n", err);
                        abort();
                }
        }
        return cat;
}
