/*
 * sigv4_bench: the cost of signing one Bedrock Converse call, as the worker
 * does it (tg_bedrock_auth_headers: SigV4 plus the curl header list).
 *
 *   sigv4_bench [signatures per round] [rounds]     (20000, 7)
 *
 * Prints ns per signature for each round and the median. Built with the
 * tests, never run by ctest: time on a shared machine is not a test. For
 * instructions, run it under callgrind with one round and divide
 * tg_bedrock_auth_headers' inclusive Ir by the count.
 */
#include "aws/bedrock_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS_MAX 101

/* A realistic Converse body: system prompt, one user turn, parameters. */
static const char body[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Summarize "
    "the following support ticket in two sentences and classify its "
    "urgency as low, medium or high. Ticket: our nightly export job has "
    "failed three times this week with a timeout while writing to the "
    "warehouse; the dashboards used by finance are now two days stale and "
    "the quarter closes on Friday.\"}]}],\"system\":[{\"text\":\"You are a "
    "concise assistant for an internal help desk. Answer in English.\"}],"
    "\"inferenceConfig\":{\"maxTokens\":512,\"temperature\":0.5,\"topP\":0.9}"
    ",\"additionalModelRequestFields\":{\"inferenceConfig\":{\"topK\":50}}}";

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

/* Signs n calls, one second apart as a worker would see them (the date
 * part changes only at midnight). Returns ns per signature, or -1. */
static double round_ns(const tg_creds_snapshot_t *cr, long n, time_t t0)
{
        tg_bedrock_auth_req_t rq = {
            .region = "us-east-1",
            .host = "bedrock-runtime.us-east-1.amazonaws.com",
            .method = "POST",
            .path = "/model/amazon.nova-lite-v1%3A0/converse",
            .body = body,
            .body_len = sizeof(body) - 1,
        };
        char err[256];
        struct curl_slist *l;
        double start = now_ns();
        long i;

        for (i = 0; i < n; i++) {
                rq.now = t0 + i / 1000;
                l = tg_bedrock_auth_headers(cr, &rq, err, sizeof(err));
                if (!l) {
                        fprintf(stderr, "sigv4_bench: %s\n", err);
                        return -1;
                }
                tg_bedrock_auth_free(l);
        }
        return (now_ns() - start) / (double)n;
}

int main(int argc, char **argv)
{
        tg_creds_snapshot_t cr;
        double ns[ROUNDS_MAX];
        long n = argc > 1 ? atol(argv[1]) : 20000;
        int rounds = argc > 2 ? atoi(argv[2]) : 7, r;

        if (n < 1 || n > 100000000 || rounds < 1 || rounds > ROUNDS_MAX) {
                fprintf(stderr,
                        "usage: sigv4_bench [1-100000000 signatures] "
                        "[1-%d rounds]\n",
                        ROUNDS_MAX);
                return 2;
        }
        memset(&cr, 0, sizeof(cr));
        strcpy(cr.access_key_id, "AKIDEXAMPLE");
        strcpy(cr.secret_access_key,
               "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        for (r = 0; r < rounds; r++) {
                ns[r] = round_ns(&cr, n, (time_t)1795773600);
                if (ns[r] < 0)
                        return 1;
                printf("round %d: %.0f ns per signature\n", r + 1, ns[r]);
        }
        qsort(ns, (size_t)rounds, sizeof(ns[0]), cmp_double);
        printf("sigv4_bench: %ld signatures x %d rounds, body %zu bytes: "
               "median %.0f ns per signature\n",
               n, rounds, sizeof(body) - 1, ns[rounds / 2]);
        return 0;
}
