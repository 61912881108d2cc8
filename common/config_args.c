/* The command-line half of config.c: flags, -X, --config, --help,
 * --print-config. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "redis_url.h"

int tg_config_load_file(tg_config_t *c, const char *path, char *errstr,
                        size_t size);
int tg_config_load_env(tg_config_t *c, unsigned groups, char *errstr,
                       size_t size);
int tg_config_is_switch(const char *name);

/* Splits "--name=value" or "--name value"; returns the value or NULL. */
static const char *flag_value(int argc, char **argv, int *i, char *name,
                              size_t name_size)
{
        const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');

        if (eq) {
                snprintf(name, name_size, "%.*s", (int)(eq - arg), arg);
                return eq + 1;
        }
        snprintf(name, name_size, "%s", arg);
        if (tg_config_is_switch(name))
                return "1";
        if (*i + 1 >= argc)
                return NULL;
        return argv[++*i];
}

static const char *find_config_path(int argc, char **argv)
{
        const char *path = getenv("TOLLGATE_CONFIG");

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        break;
                if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
                        path = argv[i + 1];
                else if (strncmp(argv[i], "--config=", 9) == 0)
                        path = argv[i] + 9;
        }
        return path;
}

static int x_arg(tg_config_t *c, const char *kv, char *errstr, size_t size)
{
        const char *eq = kv ? strchr(kv, '=') : NULL;
        char key[256];

        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
                snprintf(errstr, size, "-X: expected property=value");
                return -1;
        }
        snprintf(key, sizeof(key), "kafka.%.*s", (int)(eq - kv), kv);
        return tg_config_set(c, key, eq + 1, errstr, size);
}

static int one_flag(tg_config_t *c, int argc, char **argv, int *i, int *done,
                    char *errstr, size_t size)
{
        char name[128];
        const char *v;

        if (strcmp(argv[*i], "-X") == 0)
                return x_arg(c, *i + 1 < argc ? argv[++*i] : NULL, errstr,
                             size);
        if (strcmp(argv[*i], "--help") == 0 || strcmp(argv[*i], "-h") == 0) {
                *done = 1;
                return 0;
        }
        if (strcmp(argv[*i], "--print-config") == 0) {
                *done = 2;
                return 0;
        }
        v = flag_value(argc, argv, i, name, sizeof(name));
        if (!v) {
                snprintf(errstr, size, "--%s: needs a value", name);
                return -1;
        }
        if (strcmp(name, "config") == 0)
                return 0; /* applied first, see tg_config_load */
        return tg_config_set(c, name, v, errstr, size);
}

/* Options this binary knows are consumed; anything else stays for the
 * caller. An option is "known" when config has it, so a binary's own flags
 * must not collide with config names. */
static int is_config_flag(const char *arg)
{
        char name[128];
        const char *eq;
        tg_config_t probe;
        char err[8];
        int known;

        if (strcmp(arg, "-X") == 0 || strcmp(arg, "--help") == 0 ||
            strcmp(arg, "-h") == 0 || strcmp(arg, "--print-config") == 0 ||
            strncmp(arg, "--config", 8) == 0)
                return 1;
        if (strncmp(arg, "--", 2) != 0)
                return 0;
        eq = strchr(arg + 2, '=');
        snprintf(name, sizeof(name), "%.*s",
                 (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)), arg + 2);
        memset(&probe, 0, sizeof(probe));
        known = tg_config_set(&probe, name, "0", err, sizeof(err)) == 0 ||
                strncmp(name, "kafka.", 6) == 0;
        tg_config_destroy(&probe);
        return known;
}

/* One string carries the whole Redis connection (redis_url.h), so the
 * worker and every CLI hand it to the ledger or redis_url API as is. */
static int fold_redis_tls(tg_config_t *c, char *errstr, size_t size)
{
        tg_redis_tls_args_t a = {
            .ca_file = c->redis_tls_ca_file,
            .ca_dir = c->redis_tls_ca_dir,
            .cert = c->redis_tls_cert,
            .key = c->redis_tls_key,
            .server_name = c->redis_tls_server_name,
            .insecure = c->redis_tls_insecure != 0,
        };
        char *url = tg_redis_url_with_tls(c->redis, &a, errstr, size);

        if (!url)
                return -1;
        free(c->redis);
        c->redis = url;
        return 0;
}

int tg_config_load(tg_config_t *c, unsigned groups, int *argc, char **argv,
                   char *errstr, size_t errstr_size)
{
        const char *path = find_config_path(*argc, argv);
        int out = 1, done = 0;

        if (path && tg_config_load_file(c, path, errstr, errstr_size))
                return -1;
        if (tg_config_load_env(c, groups, errstr, errstr_size))
                return -1;
        for (int i = 1; i < *argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        while (i < *argc)
                                argv[out++] = argv[i++];
                        break;
                }
                if (!is_config_flag(argv[i])) {
                        argv[out++] = argv[i];
                        continue;
                }
                if (one_flag(c, *argc, argv, &i, &done, errstr, errstr_size))
                        return -1;
        }
        *argc = out;
        argv[out] = NULL;
        if (!done && (groups & TG_OPT_REDIS) &&
            fold_redis_tls(c, errstr, errstr_size))
                return -1;
        if (done == 1)
                tg_config_usage(groups, stdout);
        if (done == 2)
                tg_config_print(c, groups, stdout);
        return done ? 1 : 0;
}
