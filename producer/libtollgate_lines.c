/*
 * JSONL input with a line-length cap. A line longer than the cap is skipped
 * in chunks and only counted, so a 10 GiB line without a newline costs the
 * same memory as a short one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tollgate.h"

#define CHUNK (64 * 1024)

struct tg_lines {
        int fd;
        char *buf;
        size_t size;  /* max_line + 2 + CHUNK: a full line with "\r\n" and
                       * one read's worth */
        size_t start; /* first unreturned byte */
        size_t end;   /* end of data */
        size_t max_line;
        int eof;
        int64_t lineno;
        uint64_t offset;
};

tg_lines_t *tg_lines_new(int fd, size_t max_line)
{
        tg_lines_t *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->fd = fd;
        r->max_line = max_line;
        r->size = max_line + 2 + CHUNK;
        r->buf = malloc(r->size);
        if (!r->buf) {
                free(r);
                return NULL;
        }
        return r;
}

void tg_lines_destroy(tg_lines_t *r)
{
        if (!r)
                return;
        free(r->buf);
        free(r);
}

uint64_t tg_lines_offset(const tg_lines_t *r)
{
        return r->offset;
}

/* Reads more input after the unreturned bytes. 1 = got some, 0 = EOF,
 * -1 = error. */
static int fill(tg_lines_t *r)
{
        ssize_t n;

        if (r->start > 0) {
                memmove(r->buf, r->buf + r->start, r->end - r->start);
                r->end -= r->start;
                r->start = 0;
        }
        n = read(r->fd, r->buf + r->end, r->size - r->end);
        if (n < 0)
                return -1;
        if (n == 0) {
                r->eof = 1;
                return 0;
        }
        r->end += (size_t)n;
        return 1;
}

static void emit(tg_lines_t *r, size_t len, size_t consumed, tg_line_t *line)
{
        const char *p = r->buf + r->start;

        if (len > 0 && p[len - 1] == '\r')
                len--;
        line->lineno = ++r->lineno;
        line->over = len > r->max_line;
        line->data = line->over ? NULL : p;
        line->len = len;
        r->start += consumed;
        r->offset += consumed;
}

static void drop(tg_lines_t *r, size_t n, size_t *total, char *last)
{
        if (n > 0)
                *last = r->buf[r->start + n - 1];
        *total += n;
        r->start += n;
        r->offset += n;
}

/* The line at start is over the cap and has no newline in the buffer:
 * count and drop it chunk by chunk up to its newline. A signal does not
 * interrupt this (the count would be lost): it is noticed at the next
 * line. */
static int skip_long(tg_lines_t *r, tg_line_t *line)
{
        size_t total = 0;
        char last = 0, *nl;

        while (!(nl = memchr(r->buf + r->start, '\n', r->end - r->start)) &&
               !r->eof) {
                drop(r, r->end - r->start, &total, &last);
                if (fill(r) < 0 && errno != EINTR)
                        return -1;
        }
        drop(r, nl ? (size_t)(nl - (r->buf + r->start)) : r->end - r->start,
             &total, &last);
        if (nl) {
                r->start++;
                r->offset++;
        }
        line->lineno = ++r->lineno;
        line->over = 1;
        line->data = NULL;
        line->len = total - (last == '\r' && nl ? 1 : 0);
        return 1;
}

int tg_lines_next(tg_lines_t *r, tg_line_t *line)
{
        for (;;) {
                size_t avail = r->end - r->start;
                char *nl = memchr(r->buf + r->start, '\n', avail);

                if (nl) {
                        size_t len = (size_t)(nl - (r->buf + r->start));
                        emit(r, len, len + 1, line);
                        return 1;
                }
                if (avail > r->max_line + 1)
                        return skip_long(r, line);
                if (r->eof) {
                        if (avail == 0)
                                return 0;
                        emit(r, avail, avail, line);
                        return 1;
                }
                if (fill(r) < 0)
                        return -1;
        }
}
