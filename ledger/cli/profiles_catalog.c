/*
 * Editing the catalog file: only the top-level "routes" value is
 * rewritten, so prices, comments and hand formatting stay byte for byte
 * (a reviewer's diff shows the new targets and nothing else); and the
 * file is replaced atomically, so a reader (a worker starting) sees the
 * old catalog or the new one, never half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiles.h"

/* Index just past the JSON string starting at text[i] (a '"'). The text
 * was accepted by jansson, so it is well formed. */
static size_t skip_string(const char *t, size_t len, size_t i)
{
        for (i++; i < len && t[i] != '"'; i++)
                if (t[i] == '\\')
                        i++;
        return i + 1;
}

static size_t skip_ws(const char *t, size_t len, size_t i)
{
        while (i < len && strchr(" \t\r\n", t[i]) && t[i])
                i++;
        return i;
}

/* Index just past the value starting at text[i]. */
static size_t skip_value(const char *t, size_t len, size_t i)
{
        int depth = 0;

        do {
                if (t[i] == '"') {
                        i = skip_string(t, len, i);
                        continue;
                }
                if (t[i] == '{' || t[i] == '[')
                        depth++;
                else if (t[i] == '}' || t[i] == ']')
                        depth--;
                else if (depth == 0 && strchr(",} \t\r\n", t[i]) && t[i])
                        return i;
                i++;
        } while (i < len && depth > 0);
        if (depth == 0)
                while (i < len && !strchr(",} \t\r\n", t[i]))
                        i++;
        return i;
}

/* The span [*start, *end) of the top-level "routes" value. */
static int find_routes(const char *t, size_t len, size_t *start, size_t *end)
{
        size_t i = skip_ws(t, len, 0);

        if (i >= len || t[i] != '{')
                return -1;
        i++;
        while ((i = skip_ws(t, len, i)) < len && t[i] == '"') {
                size_t k = i, kend = skip_string(t, len, i);
                int hit = kend - k == 8 && !memcmp(t + k, "\"routes\"", 8);

                i = skip_ws(t, len, kend);
                if (i >= len || t[i] != ':')
                        return -1;
                i = skip_ws(t, len, i + 1);
                *start = i;
                i = skip_value(t, len, i);
                if (hit) {
                        *end = i;
                        return 0;
                }
                i = skip_ws(t, len, i);
                if (i < len && t[i] == ',')
                        i++;
        }
        return -1;
}

char *tg_profiles_splice(const char *text, size_t len, json_t *routes)
{
        size_t start, end, n = 0, extra = 0;
        char *dump, *out;

        if (find_routes(text, len, &start, &end))
                return NULL;
        if (!(dump = json_dumps(routes, JSON_INDENT(2))))
                return NULL;
        for (char *p = dump; *p; p++)
                extra += *p == '\n' ? 2 : 0;
        out = malloc(len - (end - start) + strlen(dump) + extra + 1);
        if (out) {
                memcpy(out, text, start);
                n = start;
                /* Members of the top object sit at two spaces. */
                for (char *p = dump; *p; p++) {
                        out[n++] = *p;
                        if (*p == '\n') {
                                out[n++] = ' ';
                                out[n++] = ' ';
                        }
                }
                memcpy(out + n, text + end, len - end);
                out[n + len - end] = '\0';
        }
        free(dump);
        return out;
}

int tg_profiles_write(const char *path, const char *text, char *why,
                      size_t size)
{
        size_t plen = strlen(path), len = strlen(text), off = 0;
        char *tmp = malloc(plen + 16);
        struct stat st;
        int fd = -1, rc = -1;

        if (!tmp) {
                snprintf(why, size, "out of memory");
                return -1;
        }
        snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
        if ((fd = mkstemp(tmp)) < 0) {
                snprintf(why, size, "cannot create a file beside %s: %s", path,
                         strerror(errno));
                free(tmp);
                return -1;
        }
        if (stat(path, &st) == 0)
                (void)fchmod(fd, st.st_mode & 07777);
        while (off < len) {
                ssize_t w = write(fd, text + off, len - off);
                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        if (off < len || fsync(fd)) {
                snprintf(why, size, "cannot write %s: %s", tmp,
                         strerror(errno));
        } else {
                int closed = close(fd);
                fd = -1;
                if (closed)
                        snprintf(why, size, "cannot close %s: %s", tmp,
                                 strerror(errno));
                else if (rename(tmp, path))
                        snprintf(why, size, "cannot rename onto %s: %s", path,
                                 strerror(errno));
                else
                        rc = 0;
        }
        if (fd >= 0)
                close(fd);
        if (rc)
                unlink(tmp);
        free(tmp);
        return rc;
}
