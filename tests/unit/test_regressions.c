/*
 * Replays every input under tests/fuzz/regressions/<target>/ (inputs that
 * once broke something) and tests/fuzz/corpus/<target>/ (the seeds) through
 * the fuzz targets' own entry code, so a fixed crash stays fixed in every
 * build, sanitized or not, with or without clang.
 *
 * The entry code is compiled in from tests/fuzz/fuzz_entries.c: one copy of
 * the checks, and no CMake change to link it.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tg_test.h"

#include "../fuzz/fuzz_entries.c"

static const char *current_input;

/* A broken invariant is a failed check naming the input, and the replay
 * goes on: one bad input should not hide the others. */
static void on_fail(const char *what, const char *file, int line)
{
        tg_test_failures++;
        fprintf(stderr, "%s:%d: %s: invariant broken: %s\n", file, line,
                current_input ? current_input : "?", what);
}

/* The repository root: the directory this file's path (absolute in CMake
 * builds) says it is in, else the working directory, which ctest sets to
 * the source dir. */
static void source_dir(char *out, size_t size)
{
        static const char tail[] = "/tests/unit/test_regressions.c";
        const char *file = __FILE__;
        size_t n = strlen(file), t = sizeof(tail) - 1;

        if (file[0] == '/' && n > t && strcmp(file + n - t, tail) == 0)
                snprintf(out, size, "%.*s", (int)(n - t), file);
        else
                snprintf(out, size, ".");
}

static uint8_t *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        long n;

        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
            fseek(f, 0, SEEK_SET) == 0) {
                /* +1 so an empty file is not a NULL buffer */
                buf = malloc((size_t)n + 1);
                if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                        free(buf);
                        buf = NULL;
                }
                *len = (size_t)n;
        }
        fclose(f);
        return buf;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replays every regular file of dir; returns how many. */
static int replay_dir(const char *dir, int (*entry)(const uint8_t *, size_t))
{
        struct dirent **names;
        int n = scandir(dir, &names, NULL, by_name), count = 0;

        if (n < 0)
                return 0;
        /* On stderr first: a sanitizer that ends the process names the
         * function at fault, this names the directory of the input. */
        fprintf(stderr, "replaying %s\n", dir);
        for (int i = 0; i < n; i++) {
                char path[4096];
                struct stat st;
                uint8_t *data;
                size_t len = 0;

                snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
                free(names[i]);
                if (path[strlen(dir) + 1] == '.' || stat(path, &st) ||
                    !S_ISREG(st.st_mode))
                        continue;
                data = slurp(path, &len);
                CHECK(data != NULL);
                if (!data)
                        continue;
                current_input = path;
                tg_test_checks++;
                entry(data, len);
                current_input = NULL;
                free(data);
                count++;
        }
        free(names);
        return count;
}

int main(void)
{
        static const struct {
                const char *name;
                int (*entry)(const uint8_t *, size_t);
        } targets[] = {
            {"request", tg_fuzz_request},
            {"catalog", tg_fuzz_catalog},
            {"sigv4", tg_fuzz_sigv4},
            {"converse", tg_fuzz_converse},
        };
        char root[2048], dir[4096], catalog[4096];

        source_dir(root, sizeof(root));
        snprintf(catalog, sizeof(catalog), "%s/worker/catalog.json", root);
        tg_fuzz_catalog_path = catalog;
        tg_fuzz_on_fail = on_fail;
        for (size_t i = 0; i < sizeof(targets) / sizeof(*targets); i++) {
                int n;

                snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/%s", root,
                         targets[i].name);
                n = replay_dir(dir, targets[i].entry);
                /* Every target keeps at least one reproducer: an empty
                 * count means the path is wrong, not that all is well. */
                CHECK(n > 0);
                printf("%s: %d regression inputs\n", targets[i].name, n);
                snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", root,
                         targets[i].name);
                n = replay_dir(dir, targets[i].entry);
                CHECK(n > 0);
                printf("%s: %d seed inputs\n", targets[i].name, n);
        }
        return tg_test_done("test_regressions");
}
