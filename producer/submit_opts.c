/* tollgate-submit's own flags and --help. Kafka options (--brokers,
 * --topic-prefix, -X, --max-request-bytes, --config ...) belong to the
 * shared config loader and are gone from argv by the time we parse. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "submit.h"

/* The help text is laid out as it prints. */
/* clang-format off */
void tgs_usage_head(FILE *out)
{
        fprintf(out,
"Usage: tollgate-submit [OPTIONS] [FILE|-]\n"
"\n"
"Reads JSONL requests (one per line; FILE, or stdin when FILE is - or\n"
"absent), validates each with the worker's rules, fills requestId (a UUID)\n"
"and timestamp (now, RFC 3339 UTC) when absent, and produces them to the\n"
"requests topic with an idempotent producer (acks=all), keyed by requestId.\n"
"Invalid lines are reported as `line N: <reason>` on stderr and not\n"
"produced; blank lines are skipped. A summary ends the run:\n"
"  submitted 998, rejected 2 (invalid), undelivered 0\n"
"\n");
}

void tgs_usage_tail(FILE *out)
{
        fprintf(out,
"\n"
"Submit options:\n"
"  --topic T              the requests topic, in full (default\n"
"                         PREFIX.requests); completions are still read\n"
"                         from PREFIX.completions\n"
"  --catalog FILE         also reject unknown models now (without it the\n"
"                         worker answers them `invalid`)\n"
"  --wait                 then collect the completions of the submitted\n"
"                         requests and write them as JSONL\n"
"  --out FILE             where --wait writes (default stdout)\n"
"  --timeout SECONDS      how long --wait waits (default 600)\n"
"  --ids-file FILE        the requestId file for stdin input (see Resume)\n"
"  --max-rate N           submit at most N lines per second\n"
"  --progress-interval S  seconds between progress reports (default 0.1 on\n"
"                         a terminal, 5 otherwise)\n"
"  -q, --quiet            no progress and no summary; errors still shown\n"
"\n"
"Progress and the summary go to stderr. On a terminal the progress is one\n"
"line redrawn in place; otherwise a plain line every 5 seconds.\n"
"Lines longer than --max-request-bytes (default 1 MiB) are rejected\n"
"without being read into memory.\n"
"\n"
"--wait output: one line per input line, in input order, so that output\n"
"line N answers input line N:\n"
"  a request:       its completion event as the worker published it\n"
"  an invalid line: {\"line\":N,\"status\":\"invalid\",\"reason\":\"...\"}\n"
"  no completion by --timeout:\n"
"                   {\"line\":N,\"requestId\":\"...\",\"status\":\"missing\",...}\n"
"  not taken by Kafka:\n"
"                   {\"line\":N,\"requestId\":\"...\",\"status\":\"undelivered\",...}\n"
"  a blank line:    an empty line\n"
"\n"
"Resume: for FILE input, the requestId of every line is recorded in\n"
"FILE.tollgate-ids (one per line, aligned with FILE, empty for blank and\n"
"invalid lines), written before the line is produced and fsync'd at the\n"
"end and on interruption. A later run on the same FILE reuses those ids\n"
"instead of making new UUIDs, so a request is never submitted under two\n"
"ids; with --wait it first scans the completions topic and submits only\n"
"the requests without a completion yet (the summary says how many were\n"
"skipped; a request still in a worker's hands is sent again, and the\n"
"worker's idempotency makes that harmless). Delete the ids file to start\n"
"afresh. For stdin there is no ids file unless --ids-file FILE names one.\n"
"\n"
"Interrupting (SIGINT, SIGTERM) stops reading, waits for Kafka to confirm\n"
"what was already produced, says which line was the last submitted and\n"
"how many were not, and exits 130. A second Ctrl-C quits at once.\n"
"\n"
"Exit status:\n"
"  0    every line submitted (with --wait: every request completed)\n"
"  1    error (I/O, Kafka); without --wait also: a line was rejected or\n"
"       not delivered\n"
"  2    bad arguments\n"
"  3    --wait: all answered, but some rejected, failed or invalid\n"
"  4    --wait: some requests had no completion by --timeout\n"
"  130  interrupted\n");
}
/* clang-format on */

enum {
        OPT_TOPIC = 1000,
        OPT_WAIT,
        OPT_OUT,
        OPT_TIMEOUT,
        OPT_QUIET,
        OPT_IDS_FILE,
        OPT_RATE,
        OPT_PROGRESS,
};

static int positive(const char *name, const char *v, double *out)
{
        char *end;
        double d = strtod(v, &end);

        if (!*v || *end || !(d >= 0) || d > 1e9) {
                fprintf(stderr,
                        "tollgate-submit: --%s: expected a non-negative "
                        "number, got \"%s\"\n",
                        name, v);
                return -1;
        }
        *out = d;
        return 0;
}

static int one_opt(tgs_opts_t *o, int c, const char *arg)
{
        switch (c) {
        case OPT_TOPIC:
                o->topic = arg;
                return 0;
        case OPT_WAIT:
                o->wait = 1;
                return 0;
        case OPT_OUT:
                o->out = arg;
                return 0;
        case OPT_TIMEOUT:
                return positive("timeout", arg, &o->timeout_s);
        case OPT_QUIET:
                o->quiet = 1;
                return 0;
        case OPT_IDS_FILE:
                o->ids_file = arg;
                return 0;
        case OPT_RATE:
                return positive("max-rate", arg, &o->max_rate);
        case OPT_PROGRESS:
                return positive("progress-interval", arg, &o->progress_s);
        }
        return -1; /* getopt printed why */
}

static int positional(tgs_opts_t *o, int argc, char **argv)
{
        if (argc - optind > 1) {
                fprintf(stderr,
                        "tollgate-submit: one input FILE at most, "
                        "got \"%s\" and \"%s\"\n",
                        argv[optind], argv[optind + 1]);
                return -1;
        }
        if (argc - optind == 1 && strcmp(argv[optind], "-") != 0)
                o->input = argv[optind];
        if (o->out && !o->wait) {
                fprintf(stderr, "tollgate-submit: --out needs --wait\n");
                return -1;
        }
        return 0;
}

int tgs_opts_parse(tgs_opts_t *o, int argc, char **argv)
{
        static const struct option longs[] = {
            {"topic", required_argument, NULL, OPT_TOPIC},
            {"wait", no_argument, NULL, OPT_WAIT},
            {"out", required_argument, NULL, OPT_OUT},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {"quiet", no_argument, NULL, OPT_QUIET},
            {"ids-file", required_argument, NULL, OPT_IDS_FILE},
            {"max-rate", required_argument, NULL, OPT_RATE},
            {"progress-interval", required_argument, NULL, OPT_PROGRESS},
            {NULL, 0, NULL, 0},
        };
        int c;

        o->timeout_s = 600;
        optind = 1;
        while ((c = getopt_long(argc, argv, "q", longs, NULL)) != -1)
                if (one_opt(o, c == 'q' ? OPT_QUIET : c, optarg))
                        return -1;
        return positional(o, argc, argv);
}
