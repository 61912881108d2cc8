/*
 * libFuzzer target: an HTTP request in the SigV4 test suite's request.txt
 * form through the canonicalizer and the signer, and its first line as a
 * model id through tg_bedrock_model_path.
 * The body is in fuzz_entries.c, shared with the regression test.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_entries.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        /* Lets a crash be replayed against another catalog file. */
        tg_fuzz_catalog_path = getenv("TG_FUZZ_CATALOG");
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        return tg_fuzz_sigv4(data, size);
}
