/*
 * parse_bench: reading one Converse response, as the worker does
 * (tg_converse_parse on common/jsonr.c), beside the jansson parser it
 * replaced (tests/unit/converse_parse_jansson.c), alternately in the same
 * run so the machine's moods fall on both.
 *
 *   parse_bench [parses per round] [rounds]     (100000, 7)
 *
 * Prints ns per parse of each side per round, the medians and their ratio.
 * Built with the tests, never run by ctest. For instructions, run it under
 * callgrind with one round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/converse_parse_jansson.c"

#define ROUNDS_MAX 101

/* What the simulator answers (tests/sim), as Bedrock would. */
static const char resp[] =
    "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":"
    "\"Simulated reply to: c9238d73c73685ce zephyr tundra onyx juniper ember "
    "flint zephyr umber prairie kelp fjord alpha amber velvet quartz lumen "
    "garnet alpha basalt willow river meadow garnet budget cobalt xenon "
    "sierra meadow harbor cedar dune yonder sierra nimbus indigo delta\"}]}},"
    "\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":17,"
    "\"outputTokens\":40,\"totalTokens\":57},\"metrics\":{\"latencyMs\":0}}";

typedef int (*parse_fn)(const char *, size_t, tg_converse_result_t *, char *,
                        size_t);

static double now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static double round_ns(parse_fn parse, long n)
{
        tg_converse_result_t r;
        char err[256];
        double start = now_ns();

        for (long i = 0; i < n; i++) {
                if (parse(resp, sizeof(resp) - 1, &r, err, sizeof(err))) {
                        fprintf(stderr, "parse_bench: %s\n", err);
                        return -1;
                }
                tg_converse_result_free(&r);
        }
        return (now_ns() - start) / (double)n;
}

int main(int argc, char **argv)
{
        double a[ROUNDS_MAX], b[ROUNDS_MAX];
        long n = argc > 1 ? atol(argv[1]) : 100000;
        int rounds = argc > 2 ? atoi(argv[2]) : 7;

        if (n < 1 || n > 100000000 || rounds < 1 || rounds > ROUNDS_MAX) {
                fprintf(stderr, "usage: parse_bench [1-100000000 parses] "
                                "[1-101 rounds]\n");
                return 2;
        }
        for (int i = 0; i < rounds; i++) {
                a[i] = round_ns(tg_converse_parse, n);
                b[i] = round_ns(tg_converse_parse_jansson, n);
                if (a[i] < 0 || b[i] < 0)
                        return 1;
                printf("round %d: jsonr %.0f ns, jansson %.0f ns per parse\n",
                       i + 1, a[i], b[i]);
        }
        qsort(a, (size_t)rounds, sizeof(*a), cmp_double);
        qsort(b, (size_t)rounds, sizeof(*b), cmp_double);
        printf("parse_bench: %ld parses x %d rounds, response %zu bytes: "
               "median jsonr %.0f ns, jansson %.0f ns per parse (%.2fx)\n",
               n, rounds, sizeof(resp) - 1, a[rounds / 2], b[rounds / 2],
               b[rounds / 2] / a[rounds / 2]);
        return 0;
}
