/*
 * msk-token: prints a current MSK IAM token and its expiry, for debugging
 * --kafka-auth aws-msk-iam (docs/operations.md, "MSK with IAM
 * authentication"). The one place a token is ever printed.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "tgtime.h"

static const char help[] =
    "Usage: " TG_CLI_PROG " msk-token [--region R] [--msk-token-lifetime-s S]"
    " [--at EPOCH]\n"
    "\n"
    "Prints the Amazon MSK IAM token the Kafka clients would send now\n"
    "(SASL OAUTHBEARER): line 1 the token (base64url of a presigned\n"
    "kafka-cluster:Connect URL), line 2 its expiry as RFC 3339 and Unix\n"
    "milliseconds. Credentials come from the AWS chain (AWS_* variables,\n"
    "shared files, container credentials); the region from --region,\n"
    "AWS_REGION or AWS_DEFAULT_REGION. The token is a credential for its\n"
    "lifetime: do not paste it anywhere public.\n"
    "\n"
    "  --at EPOCH   sign as of this Unix time (seconds) instead of now;\n"
    "               for comparing with other signers\n"
    "\n" TG_CLI_COMMON_HELP;

enum { OPT_AT = TG_OPT_FIRST_LOCAL };

static int on_opt(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        int64_t *at = opaque;

        if (opt != OPT_AT)
                return tg_cli_usage_error(cli, "unknown option");
        if (tg_cli_parse_int64(arg, 1, 253402300799LL, at))
                return tg_cli_usage_error(
                    cli, "--at: \"%s\" is not a Unix time in seconds", arg);
        return 0;
}

int tg_cmd_msk_token(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"at", required_argument, NULL, OPT_AT},
            {NULL, 0, NULL, 0}};
        tg_kafka_auth_t a;
        tg_msk_token_t *tok = NULL;
        int64_t at = 0;
        char err[512], when[40];
        int first, rc;

        rc = tg_cli_getopt(cli, argc, argv, longopts, TG_CLI_COMMON_SHORTOPTS,
                           on_opt, &at, help, &first);
        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if (first < argc)
                return tg_cli_usage_error(cli, "unexpected argument \"%s\"",
                                          argv[first]);
        a = cli->auth;
        a.mode = TG_KAFKA_AUTH_MSK_IAM;
        if (!(tok = malloc(sizeof(*tok))))
                return tg_cli_fail(cli, "out of memory");
        if (tg_kafka_auth_token(&a, (time_t)at, tok, err, sizeof(err))) {
                rc = tg_cli_fail(cli, "%s", err);
        } else {
                tg_time_format_us(tok->expires_ms * 1000, when, sizeof(when));
                printf("%s\nexpires %s (%lld)\n", tok->value, when,
                       (long long)tok->expires_ms);
                rc = fflush(stdout) ? TG_EXIT_FAIL : TG_EXIT_OK;
        }
        tg_secret_wipe(tok, sizeof(*tok));
        free(tok);
        return rc;
}
