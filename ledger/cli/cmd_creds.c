/*
 * tollgate-ledger creds [--watch SECONDS]: which AWS credentials the chain
 * resolves here (common/aws/creds.h), for debugging and for the tests that
 * compare it with botocore. One JSON line: source, description, access key
 * id (not a secret), expiry, whether valid, the last refresh error; never
 * the secret key or a token. --watch keeps the provider (and its refresh
 * thread) for SECONDS and prints a line every second.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/creds.h"
#include "cli.h"

static void print_line(tg_creds_t *c)
{
        tg_creds_snapshot_t s;
        char err[512];
        unsigned long n = tg_creds_last_error(c, err, sizeof(err));
        int ok = tg_creds_get(c, &s) == 0;
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:b, s:s, s:i}", "source", tg_creds_source(c),
            "describe", tg_creds_describe(c), "access_key_id",
            ok ? s.access_key_id : "", "expiration", ok ? s.expiration : "",
            "valid", tg_creds_valid(c), "last_error", err, "fetches", (int)n);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;

        tg_secret_wipe(&s, sizeof(s));
        if (line)
                printf("%s\n", line);
        fflush(stdout);
        free(line);
        json_decref(o);
}

int tg_cmd_creds(tg_cli_t *cli, int argc, char **argv)
{
        tg_creds_conf_t conf = {.quiet = 1};
        char err[1024];
        tg_creds_t *c;
        int watch = 0;

        if (argc > 1 && !strcmp(argv[1], "--help")) {
                puts("Usage: " TG_CLI_PROG " creds [--watch SECONDS]\n"
                     "Resolves the AWS credential chain and prints its "
                     "source and access key id\n(never a secret) as JSON.");
                return TG_EXIT_OK;
        }
        if (argc == 3 && !strcmp(argv[1], "--watch"))
                watch = atoi(argv[2]);
        else if (argc != 1)
                return tg_cli_usage_error(cli, "usage: creds [--watch N]");
        if (getenv("TOLLGATE_CREDS_REFRESH_MARGIN"))
                conf.refresh_margin_s =
                    atoi(getenv("TOLLGATE_CREDS_REFRESH_MARGIN"));
        if (getenv("TOLLGATE_CREDS_RETRY"))
                conf.retry_s = atoi(getenv("TOLLGATE_CREDS_RETRY"));
        curl_global_init(CURL_GLOBAL_DEFAULT);
        c = tg_creds_new(&conf, err, sizeof(err));
        if (!c) {
                fprintf(stderr, TG_CLI_PROG ": %s\n", err);
                curl_global_cleanup();
                return TG_EXIT_FAIL;
        }
        print_line(c);
        for (int i = 0; i < watch; i++) {
                sleep(1);
                print_line(c);
        }
        tg_creds_destroy(c);
        curl_global_cleanup();
        return TG_EXIT_OK;
}
