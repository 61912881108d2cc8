/*
 * tollgate-bedrock-sim: an Amazon Bedrock Runtime simulator for tests.
 * See sim_options.c for the flags, sim_server.c for the HTTP side.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

static volatile sig_atomic_t sim_stop;

static void on_signal(int sig)
{
        sim_stop = 1;
}

/* Blocks SIGINT/SIGTERM in every thread (MHD's and the timer's inherit
 * the mask) so that only the main thread's sigsuspend() receives them. */
static void signals_setup(sigset_t *wait_mask)
{
        struct sigaction sa;
        sigset_t block;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &block, wait_mask);
        sigdelset(wait_mask, SIGINT);
        sigdelset(wait_mask, SIGTERM);
}

static const char *opt_or_null(const char *s)
{
        return *s ? s : NULL;
}

static void ctx_init(sim_ctx_t *ctx)
{
        const sim_opts_t *o = &ctx->opts;

        ctx->seed = o->has_seed
                        ? o->seed
                        : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
        atomic_init(&ctx->seq, 0);
        sim_knobs_init(&ctx->knobs, &o->knobs);
        sim_quota_init(&ctx->quota);
        sim_stats_init(&ctx->stats);
        ctx->auth.access_key_id = opt_or_null(o->access_key_id);
        ctx->auth.secret_access_key = opt_or_null(o->secret_access_key);
        ctx->auth.session_token = opt_or_null(o->session_token);
        ctx->auth.bearer_token = opt_or_null(o->bearer_token);
        ctx->auth.region = opt_or_null(o->region);
        ctx->auth.service = "bedrock";
        ctx->started = time(NULL);
        ctx->control = sim_control_new();
}

static void ctx_destroy(sim_ctx_t *ctx)
{
        sim_control_destroy(ctx->control);
        sim_stats_destroy(&ctx->stats);
        sim_quota_destroy(&ctx->quota);
        sim_knobs_destroy(&ctx->knobs);
}

static const char *auth_mode(const sim_auth_cfg_t *a)
{
        if (a->access_key_id && a->bearer_token)
                return "sigv4+bearer";
        return a->access_key_id ? "sigv4" : a->bearer_token ? "bearer" : "none";
}

/* Returns -1 to run, else the exit code. */
static int parse(sim_ctx_t *ctx, int argc, char **argv)
{
        char errstr[SIM_ERRSTR_SIZE];

        switch (
            sim_opts_parse(&ctx->opts, argc, argv, errstr, sizeof(errstr))) {
        case 0:
                return -1;
        case 1:
                return 0;
        }
        fprintf(stderr, "tollgate-bedrock-sim: %s (try --help)\n", errstr);
        return 2;
}

static int run(sim_ctx_t *ctx)
{
        char errstr[SIM_ERRSTR_SIZE];
        sigset_t wait_mask;

        signals_setup(&wait_mask);
        if (sim_server_start(ctx, errstr, sizeof(errstr))) {
                fprintf(stderr, "tollgate-bedrock-sim: %s\n", errstr);
                return 1;
        }
        /* Tests read this line to learn the port when started with 0. */
        printf("tollgate-bedrock-sim listening on http://%s:%u auth=%s "
               "seed=%llu\n",
               ctx->opts.bind, ctx->port, auth_mode(&ctx->auth),
               (unsigned long long)ctx->seed);
        fflush(stdout);
        while (!sim_stop)
                sigsuspend(&wait_mask);
        sim_server_stop(ctx);
        return 0;
}

int main(int argc, char **argv)
{
        sim_ctx_t *ctx = calloc(1, sizeof(*ctx));
        int rc;

        if (!ctx)
                return 1;
        if ((rc = parse(ctx, argc, argv)) < 0) {
                ctx_init(ctx);
                rc = run(ctx);
                ctx_destroy(ctx);
        }
        free(ctx);
        return rc;
}
