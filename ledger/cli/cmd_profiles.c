/*
 * profiles sync [FILE]: application inference profiles for the catalog's
 * routes, created through Bedrock's control plane and written back as
 * the routes' targets (docs/operations.md, "Application inference
 * profiles (profiles sync)"). The file is read whole (capped), edited in
 * memory, checked with the worker's own loader, and replaced atomically;
 * on any error it is left as it was.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds.h"
#include "catalog.h"
#include "cli.h"
#include "profiles.h"

#define FILE_MAX (4 * 1024 * 1024) /* the catalog loader's cap */

static const char help[] =
    "Usage: " TG_CLI_PROG " profiles sync [FILE] [--dry-run] [--output F]\n"
    "       [--bedrock-control-endpoint URL] [--region R]\n"
    "\n"
    "For each route of the catalog (default $TOLLGATE_CATALOG, else the\n"
    "built-in " TOLLGATE_DEFAULT_CATALOG ") that has no target,\n"
    "finds its application inference profile by name (ListInferenceProfiles)\n"
    "or creates it (CreateInferenceProfile, copying from the model or\n"
    "copyFrom, the route's match as cost allocation tags), and writes its\n"
    "ARN as the route's target. Routes with a target are left alone.\n"
    "\n"
    "  --dry-run        create nothing, write nothing: print the catalog\n"
    "                   as it would be (found profiles filled in) on stdout\n"
    "  --output F       write to F instead of FILE ('-': stdout)\n"
    "  --bedrock-control-endpoint URL   default https://bedrock.<region>."
    "amazonaws.com;\n"
    "                   env TOLLGATE_BEDROCK_CONTROL_ENDPOINT\n"
    "  --region R       env AWS_REGION, AWS_DEFAULT_REGION\n"
    "\n"
    "AWS credentials come from the usual chain (" TG_CLI_PROG " creds).\n"
    "Exit status: 0 every route has its profile (or would, with\n"
    "--dry-run), 1 a route failed (FILE not changed), 2 usage error.\n";

enum { OPT_DRY = TG_OPT_FIRST_LOCAL, OPT_OUTPUT, OPT_ENDPOINT };

typedef struct opts {
        int dry_run;
        const char *output, *endpoint;
} opts_t;

static int on_opt(tg_cli_t *cli, int opt, const char *arg, void *opaque)
{
        opts_t *o = opaque;

        if (opt == OPT_DRY)
                o->dry_run = 1;
        else if (opt == OPT_OUTPUT)
                o->output = arg;
        else if (opt == OPT_ENDPOINT)
                o->endpoint = arg;
        else
                return tg_cli_usage_error(cli, "unknown option");
        return 0;
}

static char *read_file(tg_cli_t *cli, const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf = f ? malloc(FILE_MAX + 1) : NULL;

        if (!f) {
                tg_cli_fail(cli, "cannot open %s", path);
                return NULL;
        }
        *len = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
        fclose(f);
        if (!buf || *len > FILE_MAX) {
                tg_cli_fail(cli, "%s: larger than 4 MiB or no memory", path);
                free(buf);
                return NULL;
        }
        buf[*len] = '\0';
        return buf;
}

static size_t todo(json_t *routes)
{
        size_t i, n = 0;
        json_t *o;

        json_array_foreach(routes, i, o)
        {
                const char *t = json_string_value(json_object_get(o, "target"));
                n += !(t && *t);
        }
        return n;
}

static const char *region_of(const tg_cli_t *cli)
{
        const char *r = cli->auth.region;

        if (!r || !*r)
                r = getenv("AWS_REGION");
        if (!r || !*r)
                r = getenv("AWS_DEFAULT_REGION");
        return r;
}

/* Creds, client, the sync itself. Returns the number of failed routes,
 * or -1. */
static int run_sync(tg_cli_t *cli, const opts_t *o, tg_profiles_sync_t *s)
{
        tg_creds_conf_t cc = {.quiet = 1, .region = s->region};
        char err[1024];
        tg_creds_t *creds = tg_creds_new(&cc, err, sizeof(err));
        tg_bctl_conf_t bc = {.endpoint = o->endpoint,
                             .region = s->region,
                             .timeout_ms = cli->timeout_ms,
                             .creds = creds};
        int rc = -1;

        if (!creds) {
                tg_cli_fail(cli, "%s", err);
                return -1;
        }
        if (!(s->bctl = tg_bctl_new(&bc, err, sizeof(err))))
                tg_cli_fail(cli, "%s", err);
        else
                rc = tg_profiles_sync_run(s);
        tg_bctl_destroy(s->bctl);
        s->bctl = NULL;
        tg_creds_destroy(creds);
        return rc;
}

/* The worker's loader must accept what we write. */
static int check_loads(tg_cli_t *cli, const char *text)
{
        char err[512];
        tg_catalog_t *cat =
            tg_catalog_load_string(text, strlen(text), err, sizeof(err));

        if (!cat)
                return tg_cli_fail(cli,
                                   "the synced catalog does not load "
                                   "(%s); nothing written",
                                   err);
        tg_catalog_destroy(cat);
        return 0;
}

static int emit(tg_cli_t *cli, const opts_t *o, const char *file,
                const char *text, int changed, int pending)
{
        const char *dest = o->output ? o->output : file;
        char why[512];

        if (!pending && changed && check_loads(cli, text))
                return TG_EXIT_FAIL;
        if (o->dry_run || !strcmp(dest, "-")) {
                fputs(text, stdout);
                return fflush(stdout) ? TG_EXIT_FAIL : TG_EXIT_OK;
        }
        if (!changed && !o->output) {
                fprintf(stderr, "profiles sync: %s: unchanged\n", file);
                return TG_EXIT_OK;
        }
        if (tg_profiles_write(dest, text, why, sizeof(why)))
                return tg_cli_fail(cli, "%s", why);
        fprintf(stderr, "profiles sync: wrote %s\n", dest);
        return TG_EXIT_OK;
}

static int sync_file(tg_cli_t *cli, const opts_t *o, const char *file)
{
        json_error_t jerr;
        size_t len = 0;
        char *text = read_file(cli, file, &len), *out = NULL;
        json_t *root =
            text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
        json_t *routes = json_object_get(root, "routes");
        tg_profiles_sync_t s = {
            .root = root, .dry_run = o->dry_run, .region = region_of(cli)};
        int rc = TG_EXIT_FAIL, failed = 0;

        if (!text)
                goto out;
        if (!json_is_object(root) || (routes && !json_is_array(routes))) {
                tg_cli_fail(cli, "%s: line %d: %s", file, jerr.line,
                            !root ? jerr.text
                                  : "not a catalog (routes must be a list)");
                goto out;
        }
        if (todo(routes) && (!s.region || !*s.region)) {
                tg_cli_fail(cli, "a region is needed (--region or AWS_REGION)");
                goto out;
        }
        if (todo(routes) && (failed = run_sync(cli, o, &s)) != 0) {
                if (failed > 0)
                        fprintf(stderr,
                                "profiles sync: %d route%s failed; %s not "
                                "changed\n",
                                failed, failed == 1 ? "" : "s", file);
                goto out;
        }
        if (!todo(routes))
                s.kept = (int)json_array_size(routes);
        fprintf(stderr,
                "profiles sync: %s: %zu routes: %d created, %d found, %d "
                "kept, %d to create\n",
                file, json_array_size(routes), s.created, s.found, s.kept,
                s.pending);
        if (s.created + s.found &&
            !(out = tg_profiles_splice(text, len, routes))) {
                tg_cli_fail(cli, "%s: cannot edit its routes", file);
                goto out;
        }
        rc = emit(cli, o, file, out ? out : text, s.created + s.found > 0,
                  s.pending);
out:
        free(out);
        json_decref(root);
        free(text);
        return rc;
}

int tg_cmd_profiles(tg_cli_t *cli, int argc, char **argv)
{
        static const struct option longopts[] = {
            TG_CLI_COMMON_LONGOPTS,
            {"dry-run", no_argument, NULL, OPT_DRY},
            {"output", required_argument, NULL, OPT_OUTPUT},
            {"bedrock-control-endpoint", required_argument, NULL, OPT_ENDPOINT},
            {NULL, 0, NULL, 0}};
        opts_t o = {.endpoint = getenv("TOLLGATE_BEDROCK_CONTROL_ENDPOINT")};
        const char *file = getenv("TOLLGATE_CATALOG");
        int first, rc;

        if (argc < 2 || strcmp(argv[1], "sync")) {
                if (argc >= 2 &&
                    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
                        fputs(help, stdout);
                        return TG_EXIT_OK;
                }
                return tg_cli_usage_error(cli, "the only subcommand is sync");
        }
        snprintf(cli->cmd, sizeof(cli->cmd), "profiles sync");
        rc = tg_cli_getopt(cli, argc - 1, argv + 1, longopts,
                           TG_CLI_COMMON_SHORTOPTS, on_opt, &o, help, &first);
        if (rc)
                return rc < 0 ? TG_EXIT_OK : rc;
        if (argc - 1 - first > 1)
                return tg_cli_usage_error(cli, "at most one FILE");
        if (argc - 1 - first == 1)
                file = argv[1 + first];
        if (!file || !*file)
                file = TOLLGATE_DEFAULT_CATALOG;
        if (o.dry_run && o.output)
                return tg_cli_usage_error(cli, "--dry-run writes nothing: "
                                               "drop --output");
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = sync_file(cli, &o, file);
        curl_global_cleanup();
        return rc;
}
