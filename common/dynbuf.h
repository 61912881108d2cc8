/*
 * A growable byte buffer with a hard cap, for what comes from the network
 * or another process (an HTTP body, a child's stdout). Modelled on curl's
 * lib/dynbuf.c: the cap is given at init and an add past it fails instead
 * of growing, so no length read from outside can make us allocate without
 * bound. The content is always NUL-terminated.
 *
 * An error is sticky: after a failed add (over the cap, or out of memory)
 * every further add fails with the same code until tg_dynbuf_reset, so a
 * cut-off body is never taken for a whole one; tg_dynbuf_error says why
 * (a curl write callback can only say "abort").
 *
 * A buffer made with tg_dynbuf_init_secret may hold credentials: each
 * growth copies into new memory and wipes the old (realloc would leave it
 * behind), and reset and free wipe what was written.
 *
 * Ownership: the struct is the caller's (embed it by value); its memory is
 * released by tg_dynbuf_free or handed over by tg_dynbuf_take. Fields are
 * private: use the functions. Not thread-safe: one owner at a time.
 */
#ifndef TG_DYNBUF_H
#define TG_DYNBUF_H

#include <stdarg.h>
#include <stddef.h>

enum {
        TG_DYNBUF_OK = 0,
        TG_DYNBUF_NOMEM = -1,   /* an allocation failed */
        TG_DYNBUF_TOO_BIG = -2, /* the add would pass the cap */
};

typedef struct tg_dynbuf {
        char *p;
        size_t len;   /* bytes of content, without the NUL */
        size_t alloc; /* bytes allocated at p */
        size_t cap;   /* most bytes of content ever held */
        int err;      /* sticky: TG_DYNBUF_NOMEM or _TOO_BIG */
        int secret;   /* wipe memory before it is released */
} tg_dynbuf_t;

/* An empty buffer of at most cap bytes; allocates nothing yet. */
void tg_dynbuf_init(tg_dynbuf_t *b, size_t cap);
void tg_dynbuf_init_secret(tg_dynbuf_t *b, size_t cap);

/* Appends n bytes (n may be 0). TG_DYNBUF_OK, or an error code as above;
 * on error the content is left as it was. */
int tg_dynbuf_add(tg_dynbuf_t *b, const void *p, size_t n);
int tg_dynbuf_addf(tg_dynbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empties the buffer and clears its error; keeps the memory. */
void tg_dynbuf_reset(tg_dynbuf_t *b);
/* Releases the memory; the buffer is empty (and usable) afterwards. */
void tg_dynbuf_free(tg_dynbuf_t *b);

/* The content, NUL-terminated; "" while nothing was added. Valid until the
 * next add, reset or free. */
const char *tg_dynbuf_ptr(const tg_dynbuf_t *b);
size_t tg_dynbuf_len(const tg_dynbuf_t *b);
size_t tg_dynbuf_cap(const tg_dynbuf_t *b);
/* TG_DYNBUF_OK, or the error of the first add that failed. */
int tg_dynbuf_error(const tg_dynbuf_t *b);
/* "over the 65536-byte limit", "out of memory" or "ok", into buf. */
const char *tg_dynbuf_strerror(const tg_dynbuf_t *b, char *buf, size_t size);

/* Hands the content over: malloc'd, NUL-terminated, the caller frees it
 * (and wipes it, for a secret buffer). NULL when out of memory. The buffer
 * is empty afterwards. */
char *tg_dynbuf_take(tg_dynbuf_t *b, size_t *len);

#endif
