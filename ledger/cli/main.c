/*
 * tollgate-ledger: budgets, status, reports, reconcile, rebuild, release.
 *
 *   tollgate-ledger [--redis URL] [--brokers B] [--usage-topic T] <command>
 */
#include "cli.h"

#include <string.h>

static const char help[] =
    "Usage: " TG_CLI_PROG " [common options] <command> [options]\n"
    "\n"
    "The tollgate budget ledger: budget definitions and spend in Redis,\n"
    "checked against (and restored from) the usage topic in Kafka.\n"
    "\n"
    "Commands:\n"
    "  budget set ID ...   create or change a budget\n"
    "  budget list         all budgets\n"
    "  budget show ID      one budget's definition (JSON)\n"
    "  budget delete ID    remove a budget (its spend history stays)\n"
    "  status              spend against each budget this period\n"
    "  reconcile           compare Redis spend with the usage topic\n"
    "  rebuild             restore Redis spend from the usage topic\n"
    "  report              spend and tokens grouped by tags, model, day\n"
    "  release             move deferred requests back to the requests "
    "topic\n"
    "  catalog check FILE  refuse a model catalog with missing or bad "
    "prices\n"
    "  msk-token           print a current MSK IAM token (debugging)\n"
    "  creds               which AWS credentials the chain resolves "
    "(no secret)\n"
    "  profiles sync FILE  application inference profiles for the catalog's "
    "routes\n"
    "\n"
    "'" TG_CLI_PROG " <command> --help' describes a command.\n"
    "Exit status: 0 ok, 1 failure or difference found, 2 usage error.\n"
    "\n" TG_CLI_COMMON_HELP;

static const struct {
        const char *name;
        int (*run)(tg_cli_t *cli, int argc, char **argv);
} commands[] = {
    {"budget", tg_cmd_budget},       {"status", tg_cmd_status},
    {"reconcile", tg_cmd_reconcile}, {"rebuild", tg_cmd_rebuild},
    {"report", tg_cmd_report},       {"release", tg_cmd_release},
    {"catalog", tg_cmd_catalog},     {"msk-token", tg_cmd_msk_token},
    {"creds", tg_cmd_creds},         {"profiles", tg_cmd_profiles},
};

int main(int argc, char **argv)
{
        static const struct option longopts[] = {TG_CLI_COMMON_LONGOPTS,
                                                 {NULL, 0, NULL, 0}};
        tg_cli_t cli;
        int first, rc;

        tg_cli_init(&cli);
        /* "+": stop at the command word; its options are the command's. */
        rc = tg_cli_getopt(&cli, argc, argv, longopts,
                           "+" TG_CLI_COMMON_SHORTOPTS, NULL, NULL, help,
                           &first);
        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if (first >= argc)
                return tg_cli_usage_error(&cli, "missing command");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(argv[first], commands[i].name) == 0) {
                        snprintf(cli.cmd, sizeof(cli.cmd), "%s",
                                 commands[i].name);
                        return commands[i].run(&cli, argc - first,
                                               argv + first);
                }
        }
        if (strcmp(argv[first], "help") == 0) {
                fputs(help, stdout);
                return TG_EXIT_OK;
        }
        return tg_cli_usage_error(&cli, "unknown command \"%s\"", argv[first]);
}
