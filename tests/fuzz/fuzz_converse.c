/*
 * libFuzzer target: a Bedrock response body through tg_converse_parse (a
 * Converse answer) and tg_bedrock_classify (an error).
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
        return tg_fuzz_converse(data, size);
}
