/*
 * The shared config (~/.aws/config) and credentials (~/.aws/credentials)
 * files, read as botocore reads them (botocore/configloader.py): INI with
 * "=" or ":" between key and value, "#" and ";" comment lines, keys case
 * insensitive, indented lines continuing a nested value (which we skip: no
 * key we use is nested). In the config file a profile is "[profile NAME]"
 * or "[default]"; other sections are not profiles. Lines and files are
 * capped (TG_CREDS_LINE_MAX, TG_CREDS_FILE_MAX). Values may be secrets:
 * tg_creds_ini_free() wipes them.
 */
#include "creds_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The profile a section header names, or NULL when it is not one. */
static const char *profile_of(char *name, int config_file)
{
        if (!config_file)
                return name;
        if (!strcmp(name, "default"))
                return name;
        if (strncmp(name, "profile", 7) || !is_blank(name[7]))
                return NULL;
        name = trim(name + 7);
        return *name ? name : NULL;
}

static int sec_add(tg_creds_ini_t *ini, const char *name)
{
        tg_creds_ini_sec_t *s;

        for (size_t i = 0; i < ini->n; i++)
                if (!strcmp(ini->secs[i].name, name)) {
                        ini->cur = &ini->secs[i];
                        return 0;
                }
        if (ini->n == TG_CREDS_INI_SECTIONS_MAX)
                return -1;
        s = &ini->secs[ini->n++];
        memset(s, 0, sizeof(*s));
        if (tg_creds_copy(s->name, sizeof(s->name), name))
                return -1;
        ini->cur = s;
        return 0;
}

static int kv_add(tg_creds_ini_sec_t *s, const char *key, const char *val)
{
        tg_creds_ini_kv_t *kv = NULL;
        size_t i;

        for (i = 0; i < s->n && !kv; i++)
                if (!strcmp(s->kv[i].key, key))
                        kv = &s->kv[i];
        if (!kv) {
                if (s->n == TG_CREDS_INI_KEYS_MAX)
                        return -1;
                kv = &s->kv[s->n++];
                if (tg_creds_copy(kv->key, sizeof(kv->key), key))
                        return -1;
        }
        free(kv->val);
        kv->val = strdup(val);
        return kv->val ? 0 : -1;
}

static void lower(char *s)
{
        for (; *s; s++)
                *s = (char)tolower((unsigned char)*s);
}

/* Returns 0, or -1 for a malformed section or too many entries. */
static int ini_line(tg_creds_ini_t *ini, char *line, int config_file)
{
        char *t, *end, *sep, *key;
        const char *prof;

        if (line[0] == ' ' || line[0] == '\t')
                return 0; /* continuation of a nested value: not ours */
        t = trim(line);
        if (!*t || *t == '#' || *t == ';')
                return 0;
        if (*t == '[') {
                if (!(end = strrchr(t, ']')))
                        return -1;
                *end = '\0';
                prof = profile_of(trim(t + 1), config_file);
                ini->cur = NULL;
                return prof ? sec_add(ini, prof) : 0;
        }
        if (!ini->cur)
                return 0;
        sep = t + strcspn(t, "=:");
        if (!*sep)
                return 0;
        *sep = '\0';
        key = trim(t);
        lower(key);
        return kv_add(ini->cur, key, trim(sep + 1));
}

static int ini_read(FILE *f, tg_creds_ini_t *ini, const char *path,
                    int config_file, char *errstr, size_t errstr_size)
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
                } else if (ini_line(ini, line, config_file) < 0) {
                        snprintf(errstr, errstr_size,
                                 "%s:%u: malformed section, or too many "
                                 "sections or keys",
                                 path, lineno);
                        ret = -1;
                }
        }
        tg_secret_wipe(line, sizeof(line));
        return ret;
}

int tg_creds_ini_load(tg_creds_ini_t *ini, const char *path, int config_file,
                      char *errstr, size_t errstr_size)
{
        FILE *f;
        int ret, err;

        memset(ini, 0, sizeof(*ini));
        if (!path || !*path)
                return 0;
        if (!(f = fopen(path, "r"))) {
                err = errno;
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(err));
                return err == ENOENT ? 0 : -1;
        }
        ret = ini_read(f, ini, path, config_file, errstr, errstr_size);
        fclose(f);
        if (ret < 0)
                tg_creds_ini_free(ini);
        return ret < 0 ? -1 : 1;
}

static const tg_creds_ini_sec_t *sec_find(const tg_creds_ini_t *ini,
                                          const char *profile)
{
        for (size_t i = 0; i < ini->n; i++)
                if (!strcmp(ini->secs[i].name, profile))
                        return &ini->secs[i];
        return NULL;
}

int tg_creds_ini_has(const tg_creds_ini_t *ini, const char *profile)
{
        return sec_find(ini, profile) != NULL;
}

const char *tg_creds_ini_get(const tg_creds_ini_t *ini, const char *profile,
                             const char *key)
{
        const tg_creds_ini_sec_t *s = sec_find(ini, profile);

        for (size_t i = 0; s && i < s->n; i++)
                if (!strcmp(s->kv[i].key, key))
                        return s->kv[i].val;
        return NULL;
}

void tg_creds_ini_free(tg_creds_ini_t *ini)
{
        for (size_t i = 0; i < ini->n; i++)
                for (size_t k = 0; k < ini->secs[i].n; k++) {
                        char *v = ini->secs[i].kv[k].val;

                        tg_secret_wipe(v, v ? strlen(v) : 0);
                        free(v);
                }
        memset(ini, 0, sizeof(*ini));
}
