/*
 * The bodies of the fuzz targets, shared by the libFuzzer binaries
 * (fuzz_*.c) and the regression test (tests/unit/test_regressions.c), so a
 * reproducer replays through exactly the code that found it.
 *
 * Each entry feeds one input to the code under test and checks the
 * invariants that code promises. A broken invariant goes to
 * tg_fuzz_on_fail: NULL (the default) prints it and aborts, which libFuzzer
 * reports as a crash; the unit test counts it instead.
 */
#ifndef TG_FUZZ_ENTRIES_H
#define TG_FUZZ_ENTRIES_H

#include <stddef.h>
#include <stdint.h>

/* Where the request and converse targets load the catalog from; set it
 * before the first input. NULL keeps the compiled-in TG_FUZZ_CATALOG
 * (worker/catalog.json relative to the working directory without it). */
extern const char *tg_fuzz_catalog_path;

/* Called on a broken invariant; `what` is the failed condition. */
extern void (*tg_fuzz_on_fail)(const char *what, const char *file, int line);

/* tg_request_parse, then on success tg_catalog_resolve, tg_cost_bound,
 * tg_converse_build and the call path against the default catalog. */
int tg_fuzz_request(const uint8_t *data, size_t size);

/* tg_catalog_load_string and resolution of a few names. */
int tg_fuzz_catalog(const uint8_t *data, size_t size);

/* An HTTP request in the SigV4 test suite's request.txt form through the
 * canonicalizer and signer; its first line as a model id through
 * tg_bedrock_model_path. */
int tg_fuzz_sigv4(const uint8_t *data, size_t size);

/* The input as a Converse response body (tg_converse_parse) and as an
 * error body (tg_bedrock_classify, tg_bedrock_reason). */
int tg_fuzz_converse(const uint8_t *data, size_t size);

#endif
