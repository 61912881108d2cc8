/*
 * tollgate-stored-unpack: a request record's stored event (ledger/stored.h)
 * from stdin to stdout, unpacked with the worker's own codec, for
 * test_secrets.py: a secret inside a packed event would be invisible to a
 * byte search of Redis's contents. Exit 1 with the reason on stderr when
 * the bytes are not a stored event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "stored.h"

int main(void)
{
        tg_dynbuf_t in;
        char chunk[65536], err[256], why[128], *out = NULL;
        size_t n;
        int rc = 1;

        tg_dynbuf_init(&in, TG_STORED_MAX + 16);
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
                if (tg_dynbuf_add(&in, chunk, n))
                        break;
        if (tg_dynbuf_error(&in))
                fprintf(stderr, "stdin: %s\n",
                        tg_dynbuf_strerror(&in, why, sizeof(why)));
        else if (tg_stored_unpack(tg_dynbuf_ptr(&in), tg_dynbuf_len(&in), &out,
                                  err, sizeof(err)))
                fprintf(stderr, "not a stored event: %s\n", err);
        else
                rc = fputs(out, stdout) < 0;
        free(out);
        tg_dynbuf_free(&in);
        return rc;
}
