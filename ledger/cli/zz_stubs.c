#include "cli.h"
int tg_cmd_reconcile(tg_cli_t *cli, int argc, char **argv) { return 1; }
int tg_cmd_rebuild(tg_cli_t *cli, int argc, char **argv) { return 1; }
int tg_cmd_report(tg_cli_t *cli, int argc, char **argv) { return 1; }
