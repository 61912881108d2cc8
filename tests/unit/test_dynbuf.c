/*
 * The capped growable buffer (common/dynbuf.h): growth, the hard cap, the
 * sticky error, allocation failure (realloc and malloc fail on demand
 * through ld --wrap, see tests/CMakeLists.txt), secret buffers, take.
 */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "tg_test.h"

static int fail_realloc, fail_malloc, n_realloc, n_malloc;
void *__real_realloc(void *p, size_t n);
void *__real_malloc(size_t n);

void *__wrap_realloc(void *p, size_t n)
{
        n_realloc++;
        if (fail_realloc && --fail_realloc == 0)
                return NULL;
        return __real_realloc(p, n);
}

void *__wrap_malloc(size_t n)
{
        n_malloc++;
        if (fail_malloc && --fail_malloc == 0)
                return NULL;
        return __real_malloc(n);
}

static void test_grow(void)
{
        tg_dynbuf_t b;
        char chunk[1000];
        size_t len = 0;
        char *s;

        tg_dynbuf_init(&b, 1 << 20);
        CHECK_STR(tg_dynbuf_ptr(&b), ""); /* never NULL */
        CHECK_INT(tg_dynbuf_len(&b), 0);
        CHECK_INT(tg_dynbuf_add(&b, "", 0), TG_DYNBUF_OK);
        memset(chunk, 'x', sizeof(chunk));
        for (int i = 0; i < 100; i++)
                CHECK_INT(tg_dynbuf_add(&b, chunk, sizeof(chunk)),
                          TG_DYNBUF_OK);
        CHECK_INT(tg_dynbuf_len(&b), 100000);
        CHECK_INT(strlen(tg_dynbuf_ptr(&b)), 100000); /* NUL-terminated */
        CHECK_INT(tg_dynbuf_addf(&b, "|%d|%s", 42, "end"), TG_DYNBUF_OK);
        CHECK_STR(tg_dynbuf_ptr(&b) + 100000, "|42|end");
        /* reset keeps the memory: adding again allocates nothing */
        tg_dynbuf_reset(&b);
        CHECK_STR(tg_dynbuf_ptr(&b), "");
        n_realloc = 0;
        CHECK_INT(tg_dynbuf_add(&b, chunk, sizeof(chunk)), TG_DYNBUF_OK);
        CHECK_INT(n_realloc, 0);
        s = tg_dynbuf_take(&b, &len);
        CHECK(s && len == 1000 && strlen(s) == 1000);
        free(s);
        CHECK_INT(tg_dynbuf_len(&b), 0);
        /* take of an empty buffer: "" the caller frees */
        s = tg_dynbuf_take(&b, &len);
        CHECK(s && len == 0 && s[0] == '\0');
        free(s);
        tg_dynbuf_free(&b);
}

static void test_cap(void)
{
        tg_dynbuf_t b;
        char buf[64];
        char big[600];

        tg_dynbuf_init(&b, 10);
        CHECK_INT(tg_dynbuf_add(&b, "0123456789", 10), TG_DYNBUF_OK);
        /* exactly the cap fits; one byte more fails and grows nothing */
        CHECK_INT(tg_dynbuf_add(&b, "x", 1), TG_DYNBUF_TOO_BIG);
        CHECK_STR(tg_dynbuf_ptr(&b), "0123456789");
        CHECK_INT(tg_dynbuf_error(&b), TG_DYNBUF_TOO_BIG);
        CHECK_STR(tg_dynbuf_strerror(&b, buf, sizeof(buf)),
                  "over the 10-byte limit");
        /* sticky: even an add that would fit fails until reset */
        tg_dynbuf_reset(&b);
        CHECK_INT(tg_dynbuf_add(&b, "abc", 3), TG_DYNBUF_OK);
        CHECK_INT(tg_dynbuf_add(&b, "0123456789", 10), TG_DYNBUF_TOO_BIG);
        CHECK_INT(tg_dynbuf_add(&b, "d", 1), TG_DYNBUF_TOO_BIG);
        CHECK_STR(tg_dynbuf_ptr(&b), "abc");
        CHECK_STR(tg_dynbuf_strerror(&b, buf, sizeof(buf)),
                  "over the 10-byte limit");
        /* a huge length cannot wrap the arithmetic round */
        tg_dynbuf_reset(&b);
        CHECK_INT(tg_dynbuf_add(&b, "a", 1), TG_DYNBUF_OK);
        CHECK_INT(tg_dynbuf_add(&b, "a", (size_t)-1), TG_DYNBUF_TOO_BIG);
        /* addf: a long formatted string over the cap */
        tg_dynbuf_reset(&b);
        memset(big, 'y', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        CHECK_INT(tg_dynbuf_addf(&b, "%s", big), TG_DYNBUF_TOO_BIG);
        CHECK_INT(tg_dynbuf_len(&b), 0);
        tg_dynbuf_free(&b);
        /* the allocation never passes cap + 1 */
        tg_dynbuf_init(&b, 5000);
        for (int i = 0; i < 50; i++)
                tg_dynbuf_add(&b, big, 100);
        CHECK_INT(tg_dynbuf_len(&b), 5000);
        CHECK(b.alloc == 5001);
        tg_dynbuf_free(&b);
        /* cap 0: only empty adds */
        tg_dynbuf_init(&b, 0);
        CHECK_INT(tg_dynbuf_add(&b, "", 0), TG_DYNBUF_OK);
        CHECK_INT(tg_dynbuf_add(&b, "a", 1), TG_DYNBUF_TOO_BIG);
        tg_dynbuf_free(&b);
}

static void test_nomem(void)
{
        tg_dynbuf_t b;
        char buf[64], chunk[300];
        char big[400];

        memset(chunk, 'z', sizeof(chunk));
        tg_dynbuf_init(&b, 1 << 16);
        fail_realloc = 1; /* the first allocation */
        CHECK_INT(tg_dynbuf_add(&b, "abc", 3), TG_DYNBUF_NOMEM);
        CHECK_STR(tg_dynbuf_ptr(&b), "");
        CHECK_STR(tg_dynbuf_strerror(&b, buf, sizeof(buf)), "out of memory");
        CHECK_INT(tg_dynbuf_add(&b, "abc", 3), TG_DYNBUF_NOMEM); /* sticky */
        tg_dynbuf_reset(&b);
        CHECK_INT(tg_dynbuf_add(&b, "abc", 3), TG_DYNBUF_OK);
        fail_realloc = 1; /* a growth: the content so far stays */
        CHECK_INT(tg_dynbuf_add(&b, chunk, sizeof(chunk)), TG_DYNBUF_NOMEM);
        CHECK_STR(tg_dynbuf_ptr(&b), "abc");
        CHECK_INT(tg_dynbuf_len(&b), 3);
        tg_dynbuf_free(&b);
        /* addf's temporary for a long string */
        tg_dynbuf_init(&b, 1 << 16);
        memset(big, 'q', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        fail_malloc = 1;
        CHECK_INT(tg_dynbuf_addf(&b, "%s", big), TG_DYNBUF_NOMEM);
        tg_dynbuf_free(&b);
        /* a secret buffer grows by malloc, and survives its failure */
        tg_dynbuf_init_secret(&b, 1 << 16);
        CHECK_INT(tg_dynbuf_add(&b, "secret", 6), TG_DYNBUF_OK);
        fail_malloc = 1;
        CHECK_INT(tg_dynbuf_add(&b, chunk, sizeof(chunk)), TG_DYNBUF_NOMEM);
        CHECK_STR(tg_dynbuf_ptr(&b), "secret");
        tg_dynbuf_free(&b);
}

static void test_secret(void)
{
        tg_dynbuf_t b;
        char chunk[300];

        memset(chunk, 's', sizeof(chunk));
        tg_dynbuf_init_secret(&b, 1 << 16);
        n_realloc = 0;
        for (int i = 0; i < 20; i++)
                CHECK_INT(tg_dynbuf_add(&b, chunk, sizeof(chunk)),
                          TG_DYNBUF_OK);
        CHECK_INT(n_realloc, 0); /* never realloc: old copies are wiped */
        CHECK_INT(tg_dynbuf_len(&b), 6000);
        CHECK(memcmp(tg_dynbuf_ptr(&b) + 5700, chunk, 300) == 0);
        /* reset wipes what was written, not only the first byte */
        tg_dynbuf_reset(&b);
        CHECK(b.p[1] == '\0' && b.p[5999] == '\0');
        tg_dynbuf_free(&b);
        CHECK(b.p == NULL && tg_dynbuf_len(&b) == 0);
}

int main(void)
{
        test_grow();
        test_cap();
        test_nomem();
        test_secret();
        return tg_test_done("test_dynbuf");
}
