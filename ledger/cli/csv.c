/* The CSV reader of csv.h over zlib's transparent gzread. */
#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct tg_csv {
        gzFile f;
        char in[64 * 1024]; /* bytes read, not yet parsed */
        size_t in_len, in_pos;
        int eof, err;
        char *rec; /* the current record, fields NUL-separated */
        size_t rec_len;
        int64_t line; /* physical line of the next byte */
};

tg_csv_t *tg_csv_open(const char *path, char *errstr, size_t size)
{
        tg_csv_t *c = calloc(1, sizeof(*c));

        if (c)
                c->rec = malloc(TG_CSV_RECORD_MAX + 1);
        if (!c || !c->rec) {
                snprintf(errstr, size, "out of memory");
                goto err;
        }
        c->f = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
        if (!c->f) {
                snprintf(errstr, size, "%s: cannot open: %m", path);
                goto err;
        }
        c->line = 1;
        return c;
err:
        if (c)
                free(c->rec);
        free(c);
        return NULL;
}

void tg_csv_close(tg_csv_t *c)
{
        if (!c)
                return;
        gzclose(c->f);
        free(c->rec);
        free(c);
}

/* The next byte, or -1 at the end (or on a read error: c->err). */
static int getb(tg_csv_t *c)
{
        if (c->in_pos == c->in_len) {
                int n;
                if (c->eof)
                        return -1;
                n = gzread(c->f, c->in, sizeof(c->in));
                if (n <= 0) {
                        int e = 0;
                        c->eof = 1;
                        gzerror(c->f, &e);
                        c->err = n < 0 || (e != Z_OK && e != Z_STREAM_END);
                        return -1;
                }
                c->in_len = (size_t)n;
                c->in_pos = 0;
        }
        return (unsigned char)c->in[c->in_pos++];
}

static int peekb(tg_csv_t *c)
{
        int b = getb(c);

        if (b >= 0)
                c->in_pos--;
        return b;
}

/* Skips to the end of the current physical line (after an error). */
static void skip_line(tg_csv_t *c)
{
        int b;

        while ((b = getb(c)) >= 0 && b != '\n')
                ;
        c->line++;
}

typedef struct state {
        size_t nf;
        int quoted, at_start, too_long;
} state_t;

static void put(tg_csv_t *c, state_t *s, char ch)
{
        if (c->rec_len >= TG_CSV_RECORD_MAX) {
                s->too_long = 1;
                return;
        }
        c->rec[c->rec_len++] = ch;
}

static int end_field(tg_csv_t *c, state_t *s, char **fields)
{
        if (s->nf == TG_CSV_FIELDS_MAX)
                return -1;
        put(c, s, '\0');
        s->nf++;
        s->at_start = 1;
        (void)fields;
        return 0;
}

static void split(tg_csv_t *c, size_t nf, char **fields)
{
        char *p = c->rec;

        for (size_t i = 0; i < nf; i++) {
                fields[i] = p;
                p += strlen(p) + 1;
        }
}

/* One byte outside quotes: 1 record ends, 0 go on, -1 error. */
static int unquoted(tg_csv_t *c, state_t *s, int b, char **fields)
{
        if (b == ',')
                return end_field(c, s, fields);
        if (b == '\r' && peekb(c) == '\n')
                return 0;
        if (b == '\n') {
                c->line++;
                return end_field(c, s, fields) ? -1 : 1;
        }
        if (b == '"' && s->at_start) {
                s->quoted = 1;
                s->at_start = 0;
                return 0;
        }
        s->at_start = 0;
        put(c, s, (char)b);
        return 0;
}

int tg_csv_next(tg_csv_t *c, char **fields, size_t *n, int64_t *line,
                char *errstr, size_t size)
{
        state_t s = {.at_start = 1};
        int b, rc = 0;

        c->rec_len = 0;
        *line = c->line;
        if (peekb(c) < 0)
                return c->err ? (snprintf(errstr, size,
                                          "read error (a "
                                          "damaged gzip file?)"),
                                 -2)
                              : 0;
        while (rc == 0) {
                b = getb(c);
                if (b < 0) {
                        if (c->err)
                                return snprintf(errstr, size,
                                                "read error (a damaged gzip "
                                                "file?)"),
                                       -2;
                        if (s.quoted)
                                return snprintf(errstr, size,
                                                "unterminated quoted field"),
                                       -1;
                        rc = end_field(c, &s, fields) ? -1 : 1;
                        break;
                }
                if (!s.quoted) {
                        rc = unquoted(c, &s, b, fields);
                } else if (b == '"') {
                        if (peekb(c) == '"') {
                                getb(c);
                                put(c, &s, '"');
                        } else {
                                s.quoted = 0;
                        }
                } else {
                        c->line += b == '\n';
                        put(c, &s, (char)b);
                }
                if (s.too_long) {
                        skip_line(c);
                        return snprintf(errstr, size,
                                        "record longer than %d bytes",
                                        TG_CSV_RECORD_MAX),
                               -1;
                }
        }
        if (rc < 0) {
                skip_line(c);
                return snprintf(errstr, size, "more than %d fields",
                                TG_CSV_FIELDS_MAX),
                       -1;
        }
        split(c, s.nf, fields);
        *n = s.nf;
        return 1;
}
