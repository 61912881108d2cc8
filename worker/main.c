/* tollgate-worker: the consumer-group service (see worker.h). */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

static void usage(void)
{
        printf("Usage: tollgate-worker [options]\n"
               "Consumes PREFIX.requests, enforces budgets in Redis, calls "
               "Bedrock, publishes\ncompletion and usage events. SIGTERM "
               "drains in-flight work and commits.\n\n");
}

int main(int argc, char **argv)
{
        tg_config_t conf;
        tg_worker_t *w;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--help") == 0 || !strcmp(argv[i], "-h"))
                        usage();
        tg_config_init(&conf);
        rc = tg_config_load(&conf, TG_OPT_KAFKA | TG_OPT_WORKER | TG_OPT_REDIS,
                            &argc, argv, err, sizeof(err));
        if (rc != 0 || argc > 1) {
                if (rc < 0 || argc > 1)
                        fprintf(stderr, "tollgate-worker: %s\n",
                                rc < 0 ? err : "unexpected argument");
                tg_config_destroy(&conf);
                return rc < 0 || argc > 1 ? 2 : 0;
        }
        tg_log_setup(conf.log_level, "worker");
        /* hiredis writes with write(2): a Redis that died mid-write must
         * be an error to reconnect from, not a SIGPIPE that kills us. */
        signal(SIGPIPE, SIG_IGN);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        w = tg_worker_new(&conf, err, sizeof(err));
        if (!w) {
                tg_log(TG_LOG_ERROR, "cannot start: %s", err);
                curl_global_cleanup();
                tg_config_destroy(&conf);
                return 1;
        }
        rc = tg_worker_run(w);
        tg_worker_destroy(w);
        tg_log(TG_LOG_INFO, "stopped");
        curl_global_cleanup();
        tg_config_destroy(&conf);
        if (tg_consumer_abandoned()) {
                fflush(NULL);
                _exit(rc);
        }
        return rc;
}
