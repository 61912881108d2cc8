/*
 * The ids sidecar (<input>.tollgate-ids): line N holds the requestId that
 * input line N was submitted with, or nothing. It is what makes a re-run
 * safe: a request without a requestId of its own gets a UUID, and without
 * a record of it a re-run would submit the same request again under a new
 * one (and pay Bedrock twice).
 *
 * The file only grows: ids of recorded lines never change, so a line is
 * appended before its request is produced, with one write() that reaches
 * the kernel even if we are killed right after. fsync comes at the end and
 * on interruption. The one rewrite (atomic, by rename) is for a line that
 * was recorded as "none" (invalid then) and has an id now.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "submit.h"

static int fail(const tgs_sidecar_t *sc, const char *what)
{
        fprintf(stderr, "tollgate-submit: %s: %s: %s\n", sc->path, what,
                strerror(errno));
        return -1;
}

static int keep_id(tgs_sidecar_t *sc, char *line, int64_t lineno)
{
        char **ids = sc->ids;

        if ((sc->n_ids & (sc->n_ids - 1)) == 0) {
                ids = realloc(ids, sizeof(*ids) * (size_t)(sc->n_ids * 2 + 1));
                if (!ids)
                        return -1;
                sc->ids = ids;
        }
        if (*line && !tg_request_id_valid(line, strlen(line))) {
                fprintf(stderr,
                        "tollgate-submit: %s:%lld: not a requestId; is this "
                        "an ids file? (delete it to start afresh)\n",
                        sc->path, (long long)lineno);
                return -1;
        }
        ids[sc->n_ids++] = *line ? strdup(line) : NULL;
        return 0;
}

/* Reads the recorded ids. A last line without its newline is a write cut
 * short by a crash: it is dropped, and cut from the file. */
static int load(tgs_sidecar_t *sc, FILE *f)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        off_t good = 0;
        int rc = 0;

        while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
                if (line[n - 1] != '\n')
                        break;
                line[n - 1] = '\0';
                good += n;
                rc = keep_id(sc, line, sc->n_ids + 1);
        }
        free(line);
        sc->n_lines = sc->n_ids;
        if (rc == 0 && ftruncate(sc->fd, good))
                return fail(sc, "truncate");
        return rc;
}

int tgs_sidecar_open(tgs_sidecar_t *sc, const char *path)
{
        FILE *f;

        memset(sc, 0, sizeof(*sc));
        sc->fd = -1;
        if (!path)
                return 0;
        sc->path = strdup(path);
        sc->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (sc->fd < 0)
                return fail(sc, "open");
        f = fopen(path, "r");
        if (!f)
                return fail(sc, "open");
        int rc = load(sc, f);
        fclose(f);
        return rc;
}

const char *tgs_sidecar_id(const tgs_sidecar_t *sc, int64_t lineno)
{
        return lineno >= 1 && lineno <= sc->n_ids ? sc->ids[lineno - 1] : NULL;
}

static int add_patch(tgs_sidecar_t *sc, int64_t lineno, const char *id)
{
        int64_t *lines =
            realloc(sc->patch_line, sizeof(*lines) * (sc->n_patch + 1));
        char **ids;

        if (!lines)
                return -1;
        sc->patch_line = lines;
        ids = realloc(sc->patch_id, sizeof(*ids) * (sc->n_patch + 1));
        if (!ids)
                return -1;
        sc->patch_id = ids;
        sc->patch_line[sc->n_patch] = lineno;
        sc->patch_id[sc->n_patch++] = strdup(id);
        return 0;
}

int tgs_sidecar_note(tgs_sidecar_t *sc, int64_t lineno, const char *id)
{
        char buf[TG_ID_SIZE + 1];
        int n;

        if (sc->fd < 0)
                return 0;
        if (lineno <= sc->n_lines) {
                if (id && lineno <= sc->n_ids && !sc->ids[lineno - 1])
                        return add_patch(sc, lineno, id);
                return 0;
        }
        /* Lines are noted in order, so lineno == n_lines + 1 here. */
        n = snprintf(buf, sizeof(buf), "%s\n", id ? id : "");
        if (write(sc->fd, buf, (size_t)n) != n)
                return fail(sc, "write");
        sc->n_lines = lineno;
        return 0;
}

/* Patches are made in line order, so one cursor walks them. */
static const char *patched(const tgs_sidecar_t *sc, int64_t lineno,
                           size_t *cursor)
{
        if (*cursor < sc->n_patch && sc->patch_line[*cursor] == lineno)
                return sc->patch_id[(*cursor)++];
        return NULL;
}

/* Copies the file to path.tmp with the patches in, then renames it over. */
static int rewrite(tgs_sidecar_t *sc)
{
        char *tmp = NULL, *line = NULL;
        size_t cap = 0, cursor = 0;
        int64_t lineno = 0;
        FILE *in = fopen(sc->path, "r"), *out = NULL;
        int rc = -1;

        if (!in || asprintf(&tmp, "%s.tmp", sc->path) < 0)
                goto out;
        out = fopen(tmp, "w");
        if (!out)
                goto out;
        while (getline(&line, &cap, in) > 0) {
                const char *id = patched(sc, ++lineno, &cursor);
                fputs(id ? id : line, out);
                if (id)
                        fputc('\n', out);
        }
        if (fflush(out) == 0 && fsync(fileno(out)) == 0 &&
            rename(tmp, sc->path) == 0)
                rc = 0;
out:
        if (rc)
                fail(sc, "rewrite");
        if (out)
                fclose(out);
        if (in)
                fclose(in);
        free(line);
        free(tmp);
        return rc;
}

int tgs_sidecar_close(tgs_sidecar_t *sc)
{
        int rc = 0;

        if (sc->fd >= 0 && fsync(sc->fd))
                rc = fail(sc, "fsync");
        if (sc->fd >= 0 && sc->n_patch > 0 && rewrite(sc))
                rc = -1;
        if (sc->fd >= 0)
                close(sc->fd);
        for (int64_t i = 0; i < sc->n_ids; i++)
                free(sc->ids[i]);
        for (size_t i = 0; i < sc->n_patch; i++)
                free(sc->patch_id[i]);
        free(sc->ids);
        free(sc->patch_line);
        free(sc->patch_id);
        free(sc->path);
        memset(sc, 0, sizeof(*sc));
        sc->fd = -1;
        return rc;
}
