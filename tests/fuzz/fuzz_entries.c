/*
 * The fuzz targets' bodies. See fuzz_entries.h. One translation unit made of
 * the files included at the end, one concern each.
 *
 * The checks are the contracts the headers state, checked from the outside:
 * where a check needs a reference value it computes it without the code
 * under test (its own UTF-8 validator, percent-decoder, HMAC chain), so a
 * bug cannot agree with itself.
 */
#include "fuzz_entries.h"

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/bedrock_auth.h"
#include "aws/sigv4.h"
#include "bedrock/converse.h"
#include "bedrock/errors.h"
#include "catalog.h"
#include "request.h"

#ifndef TG_FUZZ_CATALOG
#define TG_FUZZ_CATALOG "worker/catalog.json"
#endif

const char *tg_fuzz_catalog_path;
void (*tg_fuzz_on_fail)(const char *what, const char *file, int line);

static void fuzz_fail(const char *what, const char *file, int line)
{
        if (tg_fuzz_on_fail) {
                tg_fuzz_on_fail(what, file, line);
                return;
        }
        fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
        abort();
}

#define FZ_CHECK(cond)                                                         \
        do {                                                                   \
                if (!(cond))                                                   \
                        fuzz_fail(#cond, __FILE__, __LINE__);                  \
        } while (0)

/* in this order: each uses what the ones before it define */
#include "fuzz_helpers.c"
#include "fuzz_checks.c"
#include "../unit/request_parse_jansson.c"
#include "fuzz_entry_request.c"
#include "fuzz_entry_catalog.c"
#include "fuzz_entry_sigv4.c"
#include "../unit/converse_parse_jansson.c"
#include "fuzz_entry_converse.c"
