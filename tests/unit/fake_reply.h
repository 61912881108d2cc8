/*
 * Ledger replies made by hand, for unit tests that drive the worker
 * without a Redis (test_request_sm.c, test_worker_alloc.c): the shapes
 * hiredis hands to a ledger callback, freed as hiredis frees them.
 */
#ifndef TG_FAKE_REPLY_H
#define TG_FAKE_REPLY_H

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

static inline redisReply *str_reply(const char *s)
{
        redisReply *r = calloc(1, sizeof(*r));

        r->type = REDIS_REPLY_STRING;
        r->str = strdup(s);
        r->len = strlen(s);
        return r;
}

/* An array of the strings v[0..n-1], as a Lua table of strings arrives. */
static inline redisReply *array_reply(int n, const char **v)
{
        redisReply *r = calloc(1, sizeof(*r));

        r->type = REDIS_REPLY_ARRAY;
        r->elements = (size_t)n;
        r->element = calloc((size_t)n, sizeof(*r->element));
        for (int i = 0; i < n; i++)
                r->element[i] = str_reply(v[i]);
        return r;
}

static inline void reply_free(redisReply *r)
{
        for (size_t i = 0; i < r->elements; i++)
                reply_free(r->element[i]);
        free(r->element);
        free(r->str);
        free(r);
}

#endif
