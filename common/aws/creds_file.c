/*
 * The shared credentials file (~/.aws/credentials): a small INI reader
 * with capped lines and size, and the reading of token files.
 */
#include "creds_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct ini {
        const char *profile;
        int in_profile;
        int found;
        tg_creds_snapshot_t *out;
} ini_t;

static int is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *trim(char *s)
{
        size_t n;

        while (is_blank(*s))
                s++;
        n = strlen(s);
        while (n > 0 && is_blank(s[n - 1]))
                s[--n] = '\0';
        return s;
}

/* Which snapshot field a key fills, or NULL for keys we do not use. */
static char *ini_field(ini_t *st, const char *key, size_t *size)
{
        tg_creds_snapshot_t *o = st->out;

        if (!strcasecmp(key, "aws_access_key_id")) {
                *size = sizeof(o->access_key_id);
                return o->access_key_id;
        }
        if (!strcasecmp(key, "aws_secret_access_key")) {
                *size = sizeof(o->secret_access_key);
                return o->secret_access_key;
        }
        if (!strcasecmp(key, "aws_session_token") ||
            !strcasecmp(key, "aws_security_token")) {
                *size = sizeof(o->session_token);
                return o->session_token;
        }
        return NULL;
}

/* Returns 0, or -1 for a malformed section or an oversized value. */
static int ini_line(ini_t *st, char *line)
{
        char *t, *end, *eq, *field;
        size_t size;

        if (line[0] == ' ' || line[0] == '\t')
                return 0; /* continuation of a nested value: not ours */
        t = trim(line);
        if (!*t || *t == '#' || *t == ';')
                return 0;
        if (*t == '[') {
                if (!(end = strrchr(t, ']')))
                        return -1;
                *end = '\0';
                st->in_profile = !strcmp(trim(t + 1), st->profile);
                st->found |= st->in_profile;
                return 0;
        }
        if (!st->in_profile || !(eq = strchr(t, '=')))
                return 0;
        *eq = '\0';
        field = ini_field(st, trim(t), &size);
        if (!field)
                return 0;
        return tg_creds_copy(field, size, trim(eq + 1));
}

static int ini_read(FILE *f, ini_t *st, const char *path, char *errstr,
                    size_t errstr_size)
{
        char line[TG_CREDS_LINE_MAX + 2];
        size_t n, total = 0;
        unsigned lineno = 0;
        int ret = 0;

        while (ret == 0 && fgets(line, sizeof(line), f)) {
                lineno++;
                n = strlen(line);
                total += n;
                if (total > TG_CREDS_FILE_MAX ||
                    (n && line[n - 1] != '\n' && !feof(f))) {
                        snprintf(errstr, errstr_size,
                                 "%s:%u: line or file too long", path, lineno);
                        ret = -1;
                } else if (ini_line(st, line) < 0) {
                        snprintf(errstr, errstr_size,
                                 "%s:%u: malformed section or value too long",
                                 path, lineno);
                        ret = -1;
                }
        }
        tg_secret_wipe(line, sizeof(line));
        return ret;
}

int tg_creds_file_load(const char *path, const char *profile,
                       tg_creds_snapshot_t *out, char *errstr,
                       size_t errstr_size)
{
        ini_t st = {profile, 0, 0, out};
        FILE *f;
        int ret, err;

        tg_secret_wipe(out, sizeof(*out));
        if (!(f = fopen(path, "r"))) {
                err = errno;
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(err));
                return err == ENOENT ? 0 : -1;
        }
        ret = ini_read(f, &st, path, errstr, errstr_size);
        fclose(f);
        if (ret == 0 && !st.found) {
                snprintf(errstr, errstr_size, "%s: no profile [%s]", path,
                         profile);
        } else if (ret == 0 &&
                   (!out->access_key_id[0] || !out->secret_access_key[0])) {
                snprintf(errstr, errstr_size,
                         "%s: profile [%s] lacks aws_access_key_id or "
                         "aws_secret_access_key",
                         path, profile);
        } else if (ret == 0) {
                return 1;
        }
        tg_secret_wipe(out, sizeof(*out));
        return ret;
}

static int token_ok(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return 0;
        return 1;
}

int tg_creds_read_token_file(const char *path, char *buf, size_t size,
                             char *errstr, size_t errstr_size)
{
        FILE *f = fopen(path, "r");
        size_t n = 0;
        int ret = -1;

        if (!f) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        n = fread(buf, 1, size - 1, f);
        buf[n] = '\0';
        while (n > 0 && is_blank(buf[n - 1]))
                buf[--n] = '\0';
        if (ferror(f) || fgetc(f) != EOF)
                snprintf(errstr, errstr_size, "%s: unreadable or too long",
                         path);
        else if (!n || !token_ok(buf))
                snprintf(errstr, errstr_size,
                         "%s: empty or holds control characters", path);
        else
                ret = 0;
        fclose(f);
        if (ret < 0)
                tg_secret_wipe(buf, size);
        return ret;
}
