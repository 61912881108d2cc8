/*
 * tollgate-submit: JSONL requests in, Kafka messages out, and with --wait
 * their completions back in input order. See --help (submit_opts.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "submit.h"

volatile sig_atomic_t tgs_stop;

/* kcat's rule: the handler only flips a flag; the loops look at it. */
static void on_signal(int sig)
{
        tgs_stop = sig;
}

static void install_signals(void)
{
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        /* No SA_RESTART: a read() blocked on stdin must return EINTR so
         * that Ctrl-C stops the reading at once. */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

static int wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "--help") == 0 ||
                    strcmp(argv[i], "-h") == 0)
                        return 1;
        return 0;
}

/* Returns -1 (exit 2) on bad arguments, 1 when --help or --print-config
 * was handled (exit 0), 0 to run. */
static int load_config(tgs_t *s, int argc, char **argv)
{
        char err[512];
        int help = wants_help(argc, argv), rc;

        if (help)
                tgs_usage_head(stdout);
        tg_config_init(s->cfg);
        /* The config's catalog defaults to the worker's; here a catalog
         * check happens only when one is named. */
        tg_config_set(s->cfg, "catalog", "", err, sizeof(err));
        rc =
            tg_config_load(s->cfg, TG_OPT_KAFKA, &argc, argv, err, sizeof(err));
        if (rc == 1 && help)
                tgs_usage_tail(stdout);
        if (rc)
                goto out;
        if (tgs_opts_parse(&s->o, argc, argv))
                return -1;
        if (*s->cfg->catalog)
                s->o.catalog = s->cfg->catalog;
out:
        if (rc < 0)
                fprintf(stderr, "tollgate-submit: %s\n", err);
        return rc;
}

static int open_input(tgs_t *s)
{
        struct stat st;

        s->fd_in = STDIN_FILENO;
        if (s->o.input) {
                s->fd_in = open(s->o.input, O_RDONLY | O_CLOEXEC);
                if (s->fd_in < 0) {
                        fprintf(stderr, "tollgate-submit: %s: %s\n", s->o.input,
                                strerror(errno));
                        return -1;
                }
        }
        if (fstat(s->fd_in, &st) == 0 && S_ISREG(st.st_mode))
                s->in_size = (uint64_t)st.st_size;
        s->reader = tg_lines_new(s->fd_in, (size_t)s->cfg->max_request_bytes);
        if (!s->reader) {
                fprintf(stderr, "tollgate-submit: out of memory\n");
                return -1;
        }
        return 0;
}

static int open_sidecar(tgs_t *s)
{
        char *path = NULL;
        int rc;

        if (s->o.ids_file)
                path = strdup(s->o.ids_file);
        else if (s->o.input &&
                 asprintf(&path, "%s.tollgate-ids", s->o.input) < 0)
                path = NULL;
        rc = tgs_sidecar_open(&s->sidecar, path);
        free(path);
        return rc;
}

static int open_kafka(tgs_t *s)
{
        char err[512];

        tg_client_conf_init(&s->cconf);
        tg_client_conf_from_config(&s->cconf, s->cfg);
        s->cconf.topic = s->o.topic;
        s->cconf.on_delivery = tgs_on_delivery;
        s->cconf.opaque = s;
        if (s->o.catalog) {
                s->catalog =
                    tg_catalog_load_file(s->o.catalog, err, sizeof(err));
                if (!s->catalog)
                        goto err;
                s->cconf.catalog = s->catalog;
        }
        s->client = tg_client_new(&s->cconf, err, sizeof(err));
        if (!s->client || tg_client_check(s->client, 10000, err, sizeof(err)))
                goto err;
        return 0;
err:
        fprintf(stderr, "tollgate-submit: %s\n", err);
        return -1;
}

static void cleanup(tgs_t *s)
{
        tgs_wait_abandon(s);
        tg_collector_destroy(s->collector);
        tg_client_destroy(s->client);
        tg_catalog_destroy(s->catalog);
        tg_lines_destroy(s->reader);
        tgs_lines_free(s);
        if (s->o.input && s->fd_in >= 0)
                close(s->fd_in);
        tg_config_destroy(s->cfg);
}

static void say_resuming(const tgs_t *s)
{
        if (s->o.quiet || s->o.wait || s->sidecar.n_ids == 0)
                return;
        fprintf(stderr,
                "reusing the requestIds of %lld lines recorded in %s (with "
                "--wait, requests already completed would be skipped)\n",
                (long long)s->sidecar.n_ids, s->sidecar.path);
}

static int run(tgs_t *s)
{
        int rc;

        if (open_input(s) || open_kafka(s) || open_sidecar(s))
                return TGS_EXIT_ERROR;
        say_resuming(s);
        install_signals();
        tgs_progress_init(&s->progress, &s->o);
        if (s->o.wait && (tgs_wait_open(s) || tgs_resume_scan(s)))
                return tgs_stop ? TGS_EXIT_INTERRUPTED : TGS_EXIT_ERROR;
        rc = tgs_submit(s);
        if (tgs_sidecar_close(&s->sidecar))
                rc = -1;
        if (tgs_stop)
                return TGS_EXIT_INTERRUPTED;
        if (rc || !s->o.wait)
                return rc || s->rejected || s->undelivered ? TGS_EXIT_ERROR
                                                           : TGS_EXIT_OK;
        return tgs_wait(s);
}

int main(int argc, char **argv)
{
        tg_config_t cfg;
        tgs_t s;
        int rc;

        memset(&s, 0, sizeof(s));
        s.cfg = &cfg;
        s.fd_in = -1;
        s.sidecar.fd = -1;
        rc = load_config(&s, argc, argv);
        if (rc) {
                tg_config_destroy(&cfg);
                return rc < 0 ? TGS_EXIT_USAGE : TGS_EXIT_OK;
        }
        tg_log_setup(cfg.log_level, "tollgate-submit");
        rc = run(&s);
        cleanup(&s);
        return rc;
}
