/* Command-line handling shared by every tollgate-ledger command. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void tg_cli_init(tg_cli_t *cli)
{
        const char *prefix = getenv("TOLLGATE_TOPIC_PREFIX"), *insecure;

        memset(cli, 0, sizeof(*cli));
        cli->redis_url = getenv("TOLLGATE_REDIS");
        if (!cli->redis_url || !*cli->redis_url)
                cli->redis_url = TG_CLI_DEFAULT_URL;
        cli->tls.ca_file = getenv("TOLLGATE_REDIS_TLS_CA_FILE");
        cli->tls.ca_dir = getenv("TOLLGATE_REDIS_TLS_CA_DIR");
        cli->tls.cert = getenv("TOLLGATE_REDIS_TLS_CERT");
        cli->tls.key = getenv("TOLLGATE_REDIS_TLS_KEY");
        cli->tls.server_name = getenv("TOLLGATE_REDIS_TLS_SERVER_NAME");
        insecure = getenv("TOLLGATE_REDIS_TLS_INSECURE");
        cli->tls.insecure =
            insecure && (!strcmp(insecure, "1") || !strcmp(insecure, "true") ||
                         !strcmp(insecure, "yes"));
        cli->brokers = getenv("TOLLGATE_BROKERS");
        cli->usage_topic = getenv("TOLLGATE_USAGE_TOPIC");
        if (!cli->usage_topic || !*cli->usage_topic) {
                snprintf(cli->topic_buf, sizeof(cli->topic_buf), "%s.usage",
                         prefix && *prefix ? prefix : "tollgate");
                cli->usage_topic = cli->topic_buf;
        }
        cli->timeout_ms = 30000;
        tg_kafka_auth_env(&cli->auth, NULL, 0); /* errors come at use */
}

__attribute__((format(printf, 2, 0))) static void
vmsg(const tg_cli_t *cli, const char *fmt, va_list ap)
{
        fprintf(stderr, TG_CLI_PROG "%s%s: ", cli->cmd[0] ? " " : "", cli->cmd);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

int tg_cli_usage_error(const tg_cli_t *cli, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmsg(cli, fmt, ap);
        va_end(ap);
        fprintf(stderr, "Try '" TG_CLI_PROG "%s%s --help'.\n",
                cli->cmd[0] ? " " : "", cli->cmd);
        return TG_EXIT_USAGE;
}

int tg_cli_fail(const tg_cli_t *cli, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmsg(cli, fmt, ap);
        va_end(ap);
        return TG_EXIT_FAIL;
}

void tg_cli_warn(const tg_cli_t *cli, const char *fmt, ...)
{
        va_list ap;

        fputs("warning: ", stderr);
        va_start(ap, fmt);
        vmsg(cli, fmt, ap);
        va_end(ap);
}

static int common_opt(tg_cli_t *cli, int opt, const char *arg)
{
        int64_t secs;

        switch (opt) {
        case TG_OPT_REDIS:
                cli->redis_url = arg;
                return 0;
        case TG_OPT_BROKERS:
                cli->brokers = arg;
                return 0;
        case TG_OPT_TLS_CA_FILE:
                cli->tls.ca_file = arg;
                return 0;
        case TG_OPT_TLS_CA_DIR:
                cli->tls.ca_dir = arg;
                return 0;
        case TG_OPT_TLS_CERT:
                cli->tls.cert = arg;
                return 0;
        case TG_OPT_TLS_KEY:
                cli->tls.key = arg;
                return 0;
        case TG_OPT_TLS_SERVER_NAME:
                cli->tls.server_name = arg;
                return 0;
        case TG_OPT_TLS_INSECURE:
                cli->tls.insecure = 1;
                return 0;
        case TG_OPT_USAGE_TOPIC:
                if (!*arg)
                        return tg_cli_usage_error(cli, "--usage-topic: empty");
                cli->usage_topic = arg;
                return 0;
        case TG_OPT_TIMEOUT:
                if (tg_cli_parse_int64(arg, 1, 86400, &secs))
                        return tg_cli_usage_error(
                            cli, "--timeout: \"%s\" is not 1-86400 seconds",
                            arg);
                cli->timeout_ms = (int)secs * 1000;
                return 0;
        case TG_OPT_KAFKA_AUTH:
                cli->auth.mode = arg;
                return tg_kafka_auth_on(&cli->auth, NULL, 0) < 0
                           ? tg_cli_usage_error(cli,
                                                "--kafka-auth: \"%s\" is not "
                                                "none or aws-msk-iam",
                                                arg)
                           : 0;
        case TG_OPT_REGION:
                cli->auth.region = arg;
                return 0;
        case TG_OPT_MSK_LIFETIME:
                if (tg_kafka_auth_lifetime(arg, &cli->auth.lifetime_s, NULL, 0))
                        return tg_cli_usage_error(
                            cli,
                            "--msk-token-lifetime-s: \"%s\" is not "
                            "1-3600 seconds",
                            arg);
                return 0;
        case 'X':
                if (!strchr(arg, '=') || arg[0] == '=')
                        return tg_cli_usage_error(
                            cli, "-X: expected name=value, got \"%s\"", arg);
                if (cli->n_props >= TG_CLI_PROPS_MAX)
                        return tg_cli_usage_error(cli, "-X: at most %d",
                                                  TG_CLI_PROPS_MAX);
                cli->props[cli->n_props++] = arg;
                return 0;
        }
        return -1;
}

static int bad_option(tg_cli_t *cli, int opt, char **argv)
{
        const char *name = argv[optind - 1];

        if (opt == ':')
                return tg_cli_usage_error(cli, "option '%s' needs a value",
                                          name);
        if (optopt && optopt < 256)
                return tg_cli_usage_error(cli, "unknown option '-%c'", optopt);
        return tg_cli_usage_error(cli, "unknown option '%s'", name);
}

int tg_cli_getopt(tg_cli_t *cli, int argc, char **argv,
                  const struct option *longopts, const char *shortopts,
                  tg_cli_opt_cb *local, void *opaque, const char *help,
                  int *first_arg)
{
        int opt, rc;

        optind = 0; /* glibc: a full re-initialisation for each command */
        opterr = 0;
        while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) !=
               -1) {
                if (opt == 'h') {
                        fputs(help, stdout);
                        return -1;
                }
                if (opt == '?' || opt == ':')
                        return bad_option(cli, opt, argv);
                rc = common_opt(cli, opt, optarg);
                if (rc == -1)
                        rc = local ? local(cli, opt, optarg, opaque)
                                   : bad_option(cli, '?', argv);
                if (rc != 0)
                        return rc;
        }
        *first_arg = optind;
        return 0;
}

int tg_cli_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
        char *end;
        long long v;

        if (!s || !*s || *s == ' ' || *s == '+')
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}
