/*
 * parse_bench: reading one request and one Converse response, as the
 * worker does (tg_request_parse and tg_converse_parse on common/jsonr.c),
 * beside the jansson parsers they replaced (tests/unit/, *_jansson.c),
 * alternately in the same run so the machine's moods fall on both.
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
#include "../unit/request_parse_jansson.c"

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

/* What tests/bench/benchlib.py submits. */
static const char req[] =
    "{\"requestId\":\"ab80845-0000000\",\"model\":\"nova-lite\",\"prompt\":"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Summarise the attached "
    "release notes in three bullet points, please. Item 0.\"}],"
    "\"parameters\":{\"max_tokens\":200,\"temperature\":0.3}},\"tags\":{"
    "\"applicationId\":\"app-eng\",\"costCenter\":\"eng\",\"environment\":"
    "\"prod\"}}";

typedef int (*parse_fn)(const char *, size_t, tg_converse_result_t *, char *,
                        size_t);

static int req_new(const char *b, size_t n, tg_converse_result_t *unused,
                   char *err, size_t size)
{
        tg_request_t r;
        int rc = tg_request_parse(&r, b, n, 0, err, size);

        (void)unused;
        tg_request_destroy(&r);
        return rc;
}

static int req_old(const char *b, size_t n, tg_converse_result_t *unused,
                   char *err, size_t size)
{
        oq_request_t r;
        int rc = tg_request_parse_jansson(&r, b, n, 0, err, size);

        (void)unused;
        oq_request_destroy(&r);
        return rc;
}

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

static double round_ns(parse_fn parse, const char *doc, size_t len, long n)
{
        tg_converse_result_t r = {0};
        char err[256];
        double start = now_ns();

        for (long i = 0; i < n; i++) {
                if (parse(doc, len, &r, err, sizeof(err))) {
                        fprintf(stderr, "parse_bench: %s\n", err);
                        return -1;
                }
                tg_converse_result_free(&r);
        }
        return (now_ns() - start) / (double)n;
}

/* Alternate rounds of the new and the old parser; prints the medians. */
static int compare(const char *what, parse_fn a_fn, parse_fn b_fn,
                   const char *doc, size_t len, long n, int rounds)
{
        double a[ROUNDS_MAX], b[ROUNDS_MAX];

        for (int i = 0; i < rounds; i++) {
                a[i] = round_ns(a_fn, doc, len, n);
                b[i] = round_ns(b_fn, doc, len, n);
                if (a[i] < 0 || b[i] < 0)
                        return 1;
                printf("%s round %d: jsonr %.0f ns, jansson %.0f ns\n", what,
                       i + 1, a[i], b[i]);
        }
        qsort(a, (size_t)rounds, sizeof(*a), cmp_double);
        qsort(b, (size_t)rounds, sizeof(*b), cmp_double);
        printf("parse_bench: %s of %zu bytes, %ld x %d rounds: median jsonr "
               "%.0f ns, jansson %.0f ns per parse (%.2fx)\n",
               what, len, n, rounds, a[rounds / 2], b[rounds / 2],
               b[rounds / 2] / a[rounds / 2]);
        return 0;
}

int main(int argc, char **argv)
{
        long n = argc > 1 ? atol(argv[1]) : 100000;
        int rounds = argc > 2 ? atoi(argv[2]) : 7;

        if (n < 1 || n > 100000000 || rounds < 1 || rounds > ROUNDS_MAX) {
                fprintf(stderr, "usage: parse_bench [1-100000000 parses] "
                                "[1-101 rounds]\n");
                return 2;
        }
        return compare("request", req_new, req_old, req, sizeof(req) - 1, n,
                       rounds) ||
               compare("response", tg_converse_parse, tg_converse_parse_jansson,
                       resp, sizeof(resp) - 1, n, rounds);
}
