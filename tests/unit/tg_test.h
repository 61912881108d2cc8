/*
 * A tiny test harness: each check prints where it failed, and the test
 * binary exits non-zero when any did.
 */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tg_test_failures;
static int tg_test_checks;

#define CHECK(cond)                                                            \
        do {                                                                   \
                tg_test_checks++;                                              \
                if (!(cond)) {                                                 \
                        tg_test_failures++;                                    \
                        fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
                                __LINE__, #cond);                              \
                }                                                              \
        } while (0)

#define CHECK_STR(a, b)                                                        \
        do {                                                                   \
                const char *a_ = (a), *b_ = (b);                               \
                tg_test_checks++;                                              \
                if (!a_ || !b_ || strcmp(a_, b_) != 0) {                       \
                        tg_test_failures++;                                    \
                        fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, \
                                __LINE__, a_ ? a_ : "(null)",                  \
                                b_ ? b_ : "(null)");                           \
                }                                                              \
        } while (0)

#define CHECK_INT(a, b)                                                        \
        do {                                                                   \
                long long a_ = (long long)(a), b_ = (long long)(b);            \
                tg_test_checks++;                                              \
                if (a_ != b_) {                                                \
                        tg_test_failures++;                                    \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n",  \
                                __FILE__, __LINE__, #a, a_, b_);               \
                }                                                              \
        } while (0)

static inline int tg_test_done(const char *name)
{
        printf("%s: %d checks, %d failed\n", name, tg_test_checks,
               tg_test_failures);
        return tg_test_failures ? 1 : 0;
}

/* A whole file DIR/NAME, NUL-terminated, at most cap bytes (the rest is
 * not read); NULL if absent. *len gets the length when len is not NULL.
 * The caller frees. For the test-suite files of tests that read them. */
static inline char *tg_test_slurp(const char *dir, const char *name, size_t cap,
                                  size_t *len)
{
        char path[1100];
        FILE *f;
        char *buf;
        size_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (!(f = fopen(path, "rb")))
                return NULL;
        buf = (char *)calloc(1, cap + 1);
        n = buf ? fread(buf, 1, cap, f) : 0;
        fclose(f);
        if (len)
                *len = n;
        return buf;
}

#endif
