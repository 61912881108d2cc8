/*
 * catalog check [FILE]: refuses a model catalog the worker would price
 * wrongly, naming every entry at fault (docs/operations.md, "Prices").
 * The worker's own loader (common/catalog.c) is the judge of each model,
 * run on one model at a time so that every bad entry is reported, not
 * only the first; on top of it this command refuses what the loader lets
 * old catalogs get away with: a model silent about prompt caching, a
 * cache-capable model without cache prices, prices without a source or
 * a check date.
 */
#include "cli.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

static const char help[] =
    "Usage: " TG_CLI_PROG " catalog check [FILE]\n"
    "\n"
    "Checks a model catalog (default: $TOLLGATE_CATALOG, else the\n"
    "built-in " TOLLGATE_DEFAULT_CATALOG ") and prints one line per\n"
    "problem, naming the model: a missing or negative price, a tier\n"
    "without a price, a long-context threshold without long-context\n"
    "prices, a duplicate alias or model id, a model that does not say\n"
    "whether it has prompt caching (promptCaching), one with caching but\n"
    "no cacheRead/cacheWrite price, and prices without a source\n"
    "(pricing.sources) or check date (pricing.checked). Prices marked\n"
    "pricing.unconfirmed are listed as warnings.\n"
    "\n"
    "Exit status: 0 the catalog is fine (warnings allowed), 1 a problem\n"
    "was found or the file cannot be read, 2 usage error.\n";

typedef struct check {
        const char *file;
        int problems, warnings;
} check_t;

__attribute__((format(printf, 4, 5))) static void
problem(check_t *c, size_t i, const char *alias, const char *fmt, ...)
{
        va_list ap;

        printf("%s: models[%zu] (%s): ", c->file, i, alias ? alias : "?");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        c->problems++;
}

/* The worker's loader on this model alone. */
static void check_loader(check_t *c, const char *pv, json_t *m, size_t i,
                         const char *alias)
{
        json_t *one =
            json_pack("{s:s, s:[O]}", "priceVersion", pv, "models", m);
        char *text = one ? json_dumps(one, 0) : NULL;
        char err[512];
        tg_catalog_t *cat = NULL;

        if (text)
                cat = tg_catalog_load_string(text, strlen(text), err,
                                             sizeof(err));
        if (!cat) {
                const char *why = text ? err : "out of memory";
                const char *p = strstr(why, "): ");
                /* "catalog: model X: why" -> "why" */
                if (strncmp(why, "catalog: model ", 15) == 0 &&
                    (p = strstr(why + 15, ": ")))
                        why = p + 2;
                else if (strncmp(why, "catalog: ", 9) == 0)
                        why += 9;
                problem(c, i, alias, "%s", why);
        }
        tg_catalog_destroy(cat);
        free(text);
        json_decref(one);
}

static int has_price(json_t *price, const char *key)
{
        return json_object_get(price, key) != NULL;
}

/* What old catalogs may omit but a current one must say. */
static void check_strict(check_t *c, json_t *m, size_t i, const char *alias)
{
        json_t *pc = json_object_get(m, "promptCaching");
        json_t *price = json_object_get(m, "price");
        json_t *pricing = json_object_get(m, "pricing");
        json_t *sources = json_object_get(pricing, "sources");
        const char *checked =
            json_string_value(json_object_get(pricing, "checked"));
        const char *unconfirmed =
            json_string_value(json_object_get(pricing, "unconfirmed"));

        if (!json_is_boolean(pc))
                problem(c, i, alias,
                        "promptCaching: missing (true or false): without it "
                        "cache reads and writes would be priced at $0");
        else if (json_is_true(pc) && json_is_object(price) &&
                 (!has_price(price, "cacheRead") ||
                  !has_price(price, "cacheWrite")))
                problem(c, i, alias,
                        "price.%s: missing price (promptCaching is true)",
                        has_price(price, "cacheRead") ? "cacheWrite"
                                                      : "cacheRead");
        if (!json_is_array(sources) || json_array_size(sources) == 0)
                problem(c, i, alias,
                        "pricing.sources: missing (where the prices come "
                        "from)");
        if (!checked || strlen(checked) != 10)
                problem(c, i, alias,
                        "pricing.checked: missing (the date, YYYY-MM-DD, the "
                        "prices were checked)");
        if (unconfirmed) {
                printf("%s: models[%zu] (%s): warning: unconfirmed: %s\n",
                       c->file, i, alias, unconfirmed);
                c->warnings++;
        }
}

/* An alias or model id used twice, across all models. */
static void check_duplicates(check_t *c, json_t *models)
{
        size_t n = json_array_size(models);

        for (size_t i = 0; i < n; i++) {
                json_t *mi = json_array_get(models, i);
                const char *names[2] = {
                    json_string_value(json_object_get(mi, "alias")),
                    json_string_value(json_object_get(mi, "modelId"))};
                for (size_t j = 0; j < i; j++) {
                        json_t *mj = json_array_get(models, j);
                        const char *a =
                            json_string_value(json_object_get(mj, "alias"));
                        const char *id =
                            json_string_value(json_object_get(mj, "modelId"));
                        for (int k = 0; k < 2; k++) {
                                if (!names[k] ||
                                    ((!a || strcmp(names[k], a)) &&
                                     (!id || strcmp(names[k], id))))
                                        continue;
                                problem(c, i, names[0],
                                        "duplicate %s \"%s\" (also "
                                        "models[%zu] %s)",
                                        k ? "modelId" : "alias", names[k], j,
                                        a ? a : "?");
                                break;
                        }
                }
        }
}

static int check_file(tg_cli_t *cli, const char *file)
{
        json_error_t jerr;
        json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
        json_t *models = json_object_get(root, "models");
        const char *pv =
            json_string_value(json_object_get(root, "priceVersion"));
        check_t c = {.file = file};
        char err[512];
        tg_catalog_t *cat;

        if (!json_is_object(root)) {
                printf("%s: line %d: %s\n", file, jerr.line,
                       root ? "not a JSON object" : jerr.text);
                json_decref(root);
                return TG_EXIT_FAIL;
        }
        if (!pv || !*pv) {
                printf("%s: priceVersion: missing\n", file);
                c.problems++;
        }
        for (size_t i = 0; pv && *pv && i < json_array_size(models); i++) {
                json_t *m = json_array_get(models, i);
                const char *alias =
                    json_string_value(json_object_get(m, "alias"));
                check_loader(&c, pv, m, i, alias);
                check_strict(&c, m, i, alias);
        }
        check_duplicates(&c, models);
        /* Whole-file rules (models array, routes): only when every model
         * passed, so its message is not a repeat. */
        if (c.problems == 0 &&
            !(cat = tg_catalog_load_file(file, err, sizeof(err)))) {
                printf("%s: %s\n", file, err);
                c.problems++;
        } else if (c.problems == 0) {
                tg_catalog_destroy(cat);
        }
        printf("catalog check: %s: priceVersion %s, %zu models, %d problems, "
               "%d unconfirmed: %s\n",
               file, pv ? pv : "-", json_array_size(models), c.problems,
               c.warnings, c.problems ? "REFUSED" : "OK");
        json_decref(root);
        (void)cli;
        return c.problems ? TG_EXIT_FAIL : TG_EXIT_OK;
}

int tg_cmd_catalog(tg_cli_t *cli, int argc, char **argv)
{
        const char *file = getenv("TOLLGATE_CATALOG");

        if (argc >= 2 &&
            (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                fputs(help, stdout);
                return TG_EXIT_OK;
        }
        if (argc < 2 || strcmp(argv[1], "check") != 0)
                return tg_cli_usage_error(cli,
                                          "%s (the only subcommand is "
                                          "check)",
                                          argc < 2 ? "missing subcommand"
                                                   : "unknown subcommand");
        snprintf(cli->cmd, sizeof(cli->cmd), "catalog check");
        if (argc > 2 &&
            (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
                fputs(help, stdout);
                return TG_EXIT_OK;
        }
        if (argc > 3 || (argc == 3 && argv[2][0] == '-'))
                return tg_cli_usage_error(cli, "unexpected argument \"%s\"",
                                          argv[argc - 1]);
        if (argc == 3)
                file = argv[2];
        if (!file || !*file)
                file = TOLLGATE_DEFAULT_CATALOG;
        return check_file(cli, file);
}
